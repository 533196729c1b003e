r"""The rules of the class algebra, each with its SymPy proof (:data:`RULES`).

Relations (Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023, Section 2 / Lemmas on the classes — recalled; each proof here
is derived and checked by :meth:`~theorykit.compressors.algebra.proofs.Rule.check`):

====================  ==========================================  ============================
rule                  statement                                   relation (digest §1.1)
====================  ==========================================  ============================
``U<B1``              U(omega) ⊂ B1(1, 1+omega)                   1
``U<B2``              U(omega) ⊂ B2(1, 1+omega)                   2
``U<B3``              U(omega) ⊂ B3(1/(1-omega)) if omega < 1     (derived)
``B1<B2``             B1(alpha, beta) ⊂ B2(alpha/beta, beta)      4
``B2<B1``             B2(gamma, beta) ⊂ B1(gamma^2, beta)         5
``B3<B2``             B3(delta) ⊂ B2(1/(2 delta), 2)              8
``scale.B1``          c B1(alpha, beta) ⊂ B1(c^2 alpha, c beta)   (derived)
``scale.B2``          c B2(gamma, beta) ⊂ B2(c gamma, c beta)     (derived)
``scale.B2>B3``       c B2(gamma, beta) ⊂ B3(1/(c gamma (2 - c beta))), c beta < 2;
                      c = 1/beta gives B3(beta/gamma)             6 (and 3, 7 through 2, 4)
``scale.B3``          c Q(C0), C0 ∈ B3(delta), Q ∈ U(zeta - 1), c zeta <= 1:
                      B3(delta / c); zeta = 1 is plain scaling    9 (c = 1/zeta: B3(zeta delta))
``compose.U``         Q ∘ U(omega) ⊂ U(zeta (1 + omega) - 1)      9 (U∘U)
``compose.B1``        Q ∘ B1(alpha, beta) ⊂ B1(alpha, zeta beta)  9 (top-k: B1(k/d, zeta))
``compose.B2``        Q ∘ B2(gamma, beta) ⊂ B2(gamma, zeta beta)  9
====================  ==========================================  ============================

For a composition ``Q(C0(x))`` with ``Q`` unbiased and independent randomness,
``S0 <= S <= zeta S0`` (``zeta = 1 + omega_Q``: conditional Jensen and the U bound of ``Q``)
and ``I = I0``. No proof divides by ``omega``, so ``omega >= 0`` (the identity's ``U(0)``
included) is all the rules assume of it.
"""

from __future__ import annotations

import sympy as sp

from theorykit.compressors.algebra.proofs import (
    ALPHA,
    BETA,
    CAUCHY_SCHWARZ,
    CAUCHY_SCHWARZ0,
    DELTA,
    GAMMA,
    I0,
    JENSEN,
    JENSEN0,
    OMEGA,
    S0,
    U_,
    W_,
    ZETA,
    C,
    I,
    M,
    Proof,
    Rule,
    S,
    u_slack,
)
from theorykit.compressors.classes import B1, B2, B3, Unbiased

__all__ = ["RULES"]


def _rules() -> dict[str, Rule]:
    r: dict[str, Rule] = {}
    hU = u_slack()
    jensen_u = JENSEN.subs(M, 1)  # E C = x gives M = ||x||^2 = 1
    r["U<B1"] = Rule(
        "U<B1", "U(omega) ⊂ B1(1, 1 + omega)", "relation 1", "U", B1,
        {"alpha": sp.Integer(1), "beta": 1 + OMEGA},
        {"alpha": Proof("E||C||^2 >= ||E C||^2 = ||x||^2 (Jensen)", S - 1,
                        {"jensen": jensen_u}, {"jensen": sp.Integer(1)}),
         "beta": Proof("E||C||^2 = E||C-x||^2 + ||x||^2 <= (1+omega) <E C, x>",
                       (1 + OMEGA) * 1 - S, {"U": hU}, {"U": sp.Integer(1)})})
    r["U<B2"] = Rule(
        "U<B2", "U(omega) ⊂ B2(1, 1 + omega)", "relation 2", "U", B2,
        {"gamma": sp.Integer(1), "beta": 1 + OMEGA},
        {"gamma": Proof("<E C, x> = ||x||^2", sp.Integer(1) - 1, {}, {}),
         "beta": r["U<B1"].proofs["beta"]})
    r["U<B3"] = Rule(
        "U<B3", "U(omega) ⊂ B3(1/(1 - omega)) for omega < 1", "derived", "U", B3,
        {"delta": 1 / (1 - OMEGA)},
        {"delta": Proof("E||C - x||^2 <= omega ||x||^2 = (1 - 1/delta) ||x||^2",
                        (1 - (1 - OMEGA)) - (S - 1), {"U": hU}, {"U": sp.Integer(1)})},
        condition=sp.StrictLessThan(OMEGA, 1))
    r["B1<B2"] = Rule(
        "B1<B2", "B1(alpha, beta) ⊂ B2(alpha/beta, beta)", "relation 4", "B1", B2,
        {"gamma": ALPHA / BETA, "beta": BETA},
        {"gamma": Proof("<E C, x> >= E||C||^2/beta >= (alpha/beta)||x||^2", I - ALPHA / BETA,
                        {"B1.beta": BETA * I - S, "B1.alpha": S - ALPHA},
                        {"B1.beta": 1 / BETA, "B1.alpha": 1 / BETA}),
         "beta": Proof("same inequality", BETA * I - S, {"B1.beta": BETA * I - S},
                       {"B1.beta": sp.Integer(1)})})
    r["B2<B1"] = Rule(
        "B2<B1", "B2(gamma, beta) ⊂ B1(gamma^2, beta)", "relation 5", "B2", B1,
        {"alpha": GAMMA**2, "beta": BETA},
        {"alpha": Proof("E||C||^2 >= ||E C||^2 >= <E C, x>^2 >= gamma^2 (Jensen, "
                        "Cauchy-Schwarz)", S - GAMMA**2,
                        {"jensen": JENSEN, "cauchy_schwarz": CAUCHY_SCHWARZ,
                         "B2.gamma": I - GAMMA},
                        {"jensen": sp.Integer(1), "cauchy_schwarz": sp.Integer(1),
                         "B2.gamma": I + GAMMA},
                        domain={I: GAMMA + U_}),
         "beta": Proof("same inequality", BETA * I - S, {"B2.beta": BETA * I - S},
                       {"B2.beta": sp.Integer(1)})})
    h3 = (1 - 1 / DELTA) - (S - 2 * I + 1)
    r["B3<B2"] = Rule(
        "B3<B2", "B3(delta) ⊂ B2(1/(2 delta), 2)", "relation 8", "B3", B2,
        {"gamma": 1 / (2 * DELTA), "beta": sp.Integer(2)},
        {"gamma": Proof("2<E C, x> >= E||C||^2 + 1/delta >= 1/delta", I - 1 / (2 * DELTA),
                        {"B3": h3, "jensen": JENSEN, "cauchy_schwarz": CAUCHY_SCHWARZ},
                        {"B3": sp.Rational(1, 2), "jensen": sp.Rational(1, 2),
                         "cauchy_schwarz": sp.Rational(1, 2)},
                        squares=((sp.Rational(1, 2), I),)),
         "beta": Proof("E||C||^2 + ||x||^2/delta <= 2<E C, x>", 2 * I - S, {"B3": h3},
                       {"B3": sp.Integer(1)}, constant=1 / DELTA)})
    # scaling c C: S' = c^2 S, I' = c I
    r["scale.B1"] = Rule(
        "scale.B1", "c B1(alpha, beta) ⊂ B1(c^2 alpha, c beta)", "derived", "B1", B1,
        {"alpha": C**2 * ALPHA, "beta": C * BETA},
        {"alpha": Proof("E||cC||^2 = c^2 E||C||^2", C**2 * S - C**2 * ALPHA,
                        {"B1.alpha": S - ALPHA}, {"B1.alpha": C**2}),
         "beta": Proof("E||cC||^2 = c^2 E||C||^2 <= c beta <E cC, x>",
                       C * BETA * (C * I) - C**2 * S, {"B1.beta": BETA * I - S},
                       {"B1.beta": C**2})})
    r["scale.B2"] = Rule(
        "scale.B2", "c B2(gamma, beta) ⊂ B2(c gamma, c beta)", "derived", "B2", B2,
        {"gamma": C * GAMMA, "beta": C * BETA},
        {"gamma": Proof("<E cC, x> = c <E C, x>", C * I - C * GAMMA, {"B2.gamma": I - GAMMA},
                        {"B2.gamma": C}),
         "beta": Proof("E||cC||^2 <= c beta <E cC, x>", C * BETA * (C * I) - C**2 * S,
                       {"B2.beta": BETA * I - S}, {"B2.beta": C**2})})
    dlt = 1 / (C * GAMMA * (2 - C * BETA))
    r["scale.B2>B3"] = Rule(
        "scale.B2>B3", "c B2(gamma, beta) ⊂ B3(1/(c gamma (2 - c beta))) for c beta < 2",
        "relation 6 (c = 1/beta: B3(beta/gamma)); with relations 2 and 4 also 3 and 7",
        "B2", B3, {"delta": dlt},
        {"delta": Proof("E||cC - x||^2 = c^2 S - 2c I + 1 <= 1 - c gamma (2 - c beta)",
                        (1 - 1 / dlt) - (C**2 * S - 2 * C * I + 1),
                        {"B2.beta": BETA * I - S, "B2.gamma": I - GAMMA},
                        {"B2.beta": C**2, "B2.gamma": C * (2 - C * BETA)},
                        domain={C: 2 / (BETA * (1 + W_))})},
        condition=sp.StrictLessThan(C * BETA, 2))
    # c Q(C0): S <= zeta S0, I = I0; C0 in B3(delta)
    h30 = 2 * I0 - S0 - 1 / DELTA
    target = (1 - C / DELTA) - (C**2 * S - 2 * C * I0 + 1)
    lam = C * (1 - C * ZETA)
    r["scale.B3"] = Rule(
        "scale.B3", "c Q(C0) ⊂ B3(delta/c) for C0 ∈ B3(delta), Q ∈ U(zeta - 1), c zeta <= 1",
        "relation 9 (c = 1/zeta: B3(zeta delta)); zeta = 1: plain scaling", "B3", B3,
        {"delta": DELTA / C},
        {"delta": Proof("E||cQ(C0) - x||^2 <= c^2 zeta S0 - 2c I0 + 1 <= 1 - c/delta",
                        target,
                        {"Q.U": ZETA * S0 - S, "B3": h30, "jensen0": JENSEN0,
                         "cauchy_schwarz0": CAUCHY_SCHWARZ0},
                        {"Q.U": C**2, "B3": C**2 * ZETA + lam, "jensen0": lam,
                         "cauchy_schwarz0": lam},
                        squares=((lam, I0),),
                        domain={C: 1 / (ZETA * (1 + W_))})},
        condition=sp.LessThan(C * ZETA, 1))
    # composition Q ∘ C0 with Q ∈ U(zeta - 1): S0 <= S <= zeta S0, I = I0
    q_low, q_up = S - S0, ZETA * S0 - S
    r["compose.U"] = Rule(
        "compose.U", "Q ∘ C0 ⊂ U(zeta (1 + omega) - 1) for C0 ∈ U(omega), Q ∈ U(zeta - 1)",
        "relation 9 (U ∘ U)", "U", Unbiased, {"omega": ZETA * (1 + OMEGA) - 1},
        {"omega": Proof("E Q(C0) = x; E||Q(C0)||^2 <= zeta E||C0||^2 <= zeta (1 + omega)",
                        (ZETA * (1 + OMEGA) - 1) - (S - 1),
                        {"Q.U": q_up, "C0.U": OMEGA - (S0 - 1)},
                        {"Q.U": sp.Integer(1), "C0.U": ZETA})})
    r["compose.B1"] = Rule(
        "compose.B1", "Q ∘ B1(alpha, beta) ⊂ B1(alpha, zeta beta) for Q ∈ U(zeta - 1)",
        "relation 9 (top-k: B1(k/d, zeta))", "B1", B1, {"alpha": ALPHA, "beta": ZETA * BETA},
        {"alpha": Proof("E||Q(C0)||^2 >= E||C0||^2 >= alpha", S - ALPHA,
                        {"Q.jensen": q_low, "B1.alpha": S0 - ALPHA},
                        {"Q.jensen": sp.Integer(1), "B1.alpha": sp.Integer(1)}),
         "beta": Proof("E||Q(C0)||^2 <= zeta E||C0||^2 <= zeta beta <E C0, x>",
                       ZETA * BETA * I0 - S, {"Q.U": q_up, "B1.beta": BETA * I0 - S0},
                       {"Q.U": sp.Integer(1), "B1.beta": ZETA})})
    r["compose.B2"] = Rule(
        "compose.B2", "Q ∘ B2(gamma, beta) ⊂ B2(gamma, zeta beta) for Q ∈ U(zeta - 1)",
        "relation 9", "B2", B2, {"gamma": GAMMA, "beta": ZETA * BETA},
        {"gamma": Proof("<E Q(C0), x> = <E C0, x> >= gamma", I0 - GAMMA,
                        {"B2.gamma": I0 - GAMMA}, {"B2.gamma": sp.Integer(1)}),
         "beta": Proof("E||Q(C0)||^2 <= zeta E||C0||^2 <= zeta beta <E C0, x>",
                       ZETA * BETA * I0 - S, {"Q.U": q_up, "B2.beta": BETA * I0 - S0},
                       {"Q.U": sp.Integer(1), "B2.beta": ZETA})})
    return r


RULES: dict[str, Rule] = _rules()
"""All rules by key (see the module table); each ``RULES[k].check()`` is a SymPy proof."""
