r"""The class algebra: inclusions, scaling and composition of compressors, with proofs.

Every relation between the classes of :mod:`theorykit.compressors.classes` is a
:class:`Rule`: generic constants (SymPy symbols ``omega, alpha, beta, gamma, delta, c,
zeta``) in, derived constants out, and for every derived inequality a :class:`Proof` — a
*certificate* writing the target slack as a non-negative combination of hypothesis slacks
plus squares, which :meth:`Proof.check` verifies with ``sympy.simplify`` (identity) and
sign analysis on an explicit reparametrisation of the domain (multipliers non-negative).

The statistics are those of the certifier, for a fixed ``x`` normalised to ``||x|| = 1``
(all class inequalities are homogeneous of degree 2 in ``x``):
``S = E||C(x)||^2``, ``I = <E C(x), x>``, ``M = ||E C(x)||^2``, with the always-true facts
``S - M >= 0`` (Jensen) and ``M - I^2 >= 0`` (Cauchy–Schwarz). For a composition
``Q(C0(x))`` with ``Q`` unbiased, independent randomness, ``S0, I0, M0`` are the statistics
of ``C0`` and ``S0 <= S <= zeta S0`` (``zeta = 1 + omega_Q``, conditional Jensen and the
U bound of ``Q``), ``I = I0``.

Relations (Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023, Section 2 / Lemmas on the classes — recalled; each proof here
is derived and checked):

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

:func:`implied_classes` closes a spec's claimed classes under the inclusions;
:func:`scale` / :func:`scaled_class` and :func:`compose` / :func:`composed_class` build new
:class:`~theorykit.compressors.base.CompressorSpec`\ s whose classes are *derived* by these
rules (never typed in), whose codecs delegate to the inner specs, and which the certifier
checks like any other compressor. Where several rules give the same class, constants are
combined with ``Min``/``Max`` (every candidate is a proven bound); a rule whose condition
(e.g. ``c beta < 2``) cannot be decided symbolically is kept *conditional* and enters
``numeric_classes(d)`` only where the numbers satisfy it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sympy as sp
import torch

from theorykit.compressors.base import CompressorSpec, D, Param, Payload
from theorykit.compressors.classes import B1, B2, B3, CompressorClass, SignType, Unbiased
from theorykit.compressors.codec_utils import index_field, read_indices
from theorykit.errors import AssumptionError, InputError

# --------------------------------------------------------------------------- symbols
OMEGA, ALPHA, BETA, GAMMA, DELTA, C, ZETA = sp.symbols(
    "omega alpha beta gamma delta c zeta", positive=True)
S, I, M, S0, I0, M0 = sp.symbols("S I M S_0 I_0 M_0", real=True)
U_, W_ = sp.symbols("u w", nonnegative=True)
"""Domain variables of the reparametrisations (``u, w >= 0``)."""

STRONGER: dict[str, Callable[..., sp.Expr]] = {
    "omega": sp.Min, "beta": sp.Min, "delta": sp.Min, "alpha": sp.Max, "gamma": sp.Max,
}
"""How two proven values of a constant combine: the smaller upper constant, the larger lower."""


# --------------------------------------------------------------------------- proofs
@dataclass(frozen=True)
class Proof:
    r"""A certificate that ``target >= 0``:

    ``target == sum_h multipliers[h] * hypotheses[h] + sum_j coef_j * base_j**2 + constant``

    identically, with every multiplier, ``coef_j`` and ``constant`` non-negative on the
    domain described by ``domain`` (a substitution expressing the rule's conditions through
    non-negative variables, e.g. ``c -> 2 / (beta (1 + w))`` for ``c beta <= 2``).
    """

    statement: str
    target: sp.Expr
    hypotheses: dict[str, sp.Expr]
    multipliers: dict[str, sp.Expr]
    squares: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    constant: sp.Expr = sp.S.Zero
    domain: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)

    def residual(self) -> sp.Expr:
        """``target`` minus the certificate; zero when the identity holds."""
        comb = sum((self.multipliers[h] * self.hypotheses[h] for h in self.multipliers),
                   sp.Integer(0))
        sq = sum((coef * base**2 for coef, base in self.squares), sp.Integer(0))
        return self.target - comb - sq - self.constant

    def nonnegative_parts(self) -> list[sp.Expr]:
        return [*self.multipliers.values(), *(c for c, _ in self.squares), self.constant]

    def check(self) -> bool:
        """The identity holds (``simplify(residual) == 0``) and every multiplier is
        provably non-negative on the domain."""
        if sp.simplify(self.residual()) != 0:
            return False
        return all(_provably_nonneg(e.subs(self.domain)) for e in self.nonnegative_parts())


def _provably_nonneg(e: sp.Expr) -> bool:
    e = sp.simplify(sp.sympify(e))
    if e.is_nonnegative:
        return True
    num, den = sp.fraction(sp.factor(e))
    return bool((num.is_nonnegative and den.is_positive)
                or (num.is_nonpositive and den.is_negative))


# hypothesis slacks (each >= 0), in the normalised statistics
JENSEN = S - M
CAUCHY_SCHWARZ = M - I**2
JENSEN0 = S0 - M0
CAUCHY_SCHWARZ0 = M0 - I0**2


def _u_slack(omega: sp.Expr = OMEGA) -> sp.Expr:
    """U(omega) with E C = x (so I = M = 1): omega - E||C - x||^2 = omega - (S - 1)."""
    return omega - (S - 1)


@dataclass(frozen=True)
class Rule:
    """A relation: from ``premise`` class constants (generic symbols) to a ``conclusion``
    class whose constants are ``constants``, valid under ``condition``, with one
    :class:`Proof` per derived inequality."""

    key: str
    statement: str
    relation: str
    premise: str
    conclusion: type[CompressorClass]
    constants: dict[str, sp.Expr]
    proofs: dict[str, Proof]
    condition: sp.Basic = sp.true

    def check(self) -> bool:
        return all(p.check() for p in self.proofs.values())


def _rules() -> dict[str, Rule]:
    r: dict[str, Rule] = {}
    hU = _u_slack()
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

_GENERIC = {"omega": OMEGA, "alpha": ALPHA, "beta": BETA, "gamma": GAMMA, "delta": DELTA}


# --------------------------------------------------------------------------- derivations
@dataclass(frozen=True)
class Derivation:
    """A derived membership: the class, the rule, the source class and its condition
    (``sympy.true`` when unconditional) in the spec's own symbols."""

    cls: CompressorClass
    rule: str
    source: str
    condition: sp.Basic = sp.true

    def text(self) -> str:
        cond = "" if self.condition is sp.true else f" if {sp.sstr(self.condition)}"
        return f"{self.cls.pretty()}{cond}  [{self.rule} from {self.source}]"


def _apply(rule: Rule, src: CompressorClass | None, extra: dict[sp.Symbol, sp.Expr],
           source_text: str) -> Derivation:
    subs = dict(extra)
    if src is not None:
        for k, v in src.constants().items():
            subs[_GENERIC[k]] = sp.sympify(v)
    consts = {k: _simplify(sp.sympify(v).subs(subs, simultaneous=True))
              for k, v in rule.constants.items()}
    cond = _decide(rule.condition.subs(subs, simultaneous=True))
    return Derivation(rule.conclusion(**consts), rule.key, source_text, cond)


def _simplify(e: sp.Expr) -> sp.Expr:
    e = sp.sympify(e)
    if e.has(sp.Min, sp.Max, sp.Piecewise):
        return e
    return sp.factor_terms(sp.simplify(e))


def _decide(cond: Any) -> sp.Basic:
    cond = sp.sympify(cond)
    if cond in (sp.true, sp.false):
        return cond
    try:
        lhs_minus_rhs = cond.lhs - cond.rhs
        v = sp.simplify(lhs_minus_rhs)
        rel = type(cond)(v, 0)
        if rel in (sp.true, sp.false):
            return rel
        return cond
    except AttributeError:
        return cond


def _truth(cond: sp.Basic, subs: dict) -> bool | None:
    if cond is sp.true:
        return True
    if cond is sp.false:
        return False
    val = cond.subs(subs)
    if val in (sp.true, sp.false):
        return bool(val)
    try:
        return bool(val)
    except TypeError:
        return None


def implied_classes(spec_or_classes: CompressorSpec | Iterable[CompressorClass]
                    ) -> list[Derivation]:
    """Memberships implied by the claimed classes through the inclusions (U<B1, U<B2,
    U<B3, B1<B2, B2<B1, B3<B2), closed under repetition; a class name already claimed is
    not re-derived. Conditional results (U<B3 needs omega < 1) carry their condition."""
    claimed = list(spec_or_classes.classes() if isinstance(spec_or_classes, CompressorSpec)
                   else spec_or_classes)
    have = {c.name for c in claimed}
    out: list[Derivation] = []
    frontier: list[tuple[CompressorClass, str]] = [(c, c.pretty()) for c in claimed]
    by_premise: dict[str, list[str]] = {
        "U": ["U<B1", "U<B2", "U<B3"], "B1": ["B1<B2"], "B2": ["B2<B1"], "B3": ["B3<B2"]}
    while frontier:
        src, text = frontier.pop(0)
        for key in by_premise.get(src.name, []):
            der = _apply(RULES[key], src, {}, text)
            if der.cls.name in have or der.condition is sp.false:
                continue
            have.add(der.cls.name)
            out.append(der)
            if der.condition is sp.true:
                frontier.append((der.cls, f"{der.cls.pretty()} (implied)"))
    return out


def _sources(classes: Iterable[CompressorClass]) -> list[tuple[CompressorClass, str]]:
    """Claimed classes plus unconditional implied classes of names not claimed."""
    claimed = list(classes)
    out = [(c, c.pretty()) for c in claimed]
    for der in implied_classes(claimed):
        if der.condition is sp.true:
            out.append((der.cls, f"{der.cls.pretty()} [{der.rule}]"))
    return out


def _combine(derivations: list[Derivation]) -> tuple[list[CompressorClass],
                                                      list[Derivation]]:
    """Unconditional derivations merged per class name (constants with Min/Max) and the
    conditional ones."""
    merged: dict[str, CompressorClass] = {}
    conditional = []
    for der in derivations:
        if der.condition is sp.false:
            continue
        if der.condition is not sp.true:
            conditional.append(der)
            continue
        if isinstance(der.cls, SignType):
            merged.setdefault(der.cls.name, der.cls)
            continue
        prev = merged.get(der.cls.name)
        if prev is None:
            merged[der.cls.name] = der.cls
        else:
            merged[der.cls.name] = type(prev)(**{
                k: _simplify(STRONGER[k](prev.constants()[k], v))
                for k, v in der.cls.constants().items()})
    order = {"U": 0, "B1": 1, "B2": 2, "B3": 3, "sign-type": 4}
    return sorted(merged.values(), key=lambda c: order.get(c.name, 9)), conditional


# --------------------------------------------------------------------------- derived specs
class DerivedSpec(CompressorSpec):
    """Base of specs built by :func:`scaled_class` / :func:`composed_class`: classes come
    from :meth:`derivations`; ``numeric_classes`` adds the conditional derivations whose
    conditions hold at the given numbers."""

    b3_inflation_rules: ClassVar[bool] = False

    def derivations(self) -> list[Derivation]:
        raise NotImplementedError

    def _derived(self) -> tuple[list[CompressorClass], list[Derivation]]:
        cache = self.__dict__.get("_derived_cache")
        if cache is None:
            cache = _combine(self.derivations())
            self.__dict__["_derived_cache"] = cache
        return cache

    def classes(self) -> tuple[CompressorClass, ...]:
        return tuple(self._derived()[0])

    def conditional_classes(self) -> list[Derivation]:
        """Derivations valid only under a condition SymPy could not decide symbolically."""
        return list(self._derived()[1])

    def b3_inflation(self) -> list[tuple[sp.Expr, sp.Expr]]:
        """Pairs ``(delta, zeta)``: the spec is ``Q(C0)`` with ``C0 ∈ B3(delta)`` and ``Q``
        unbiased with ``E||Q(y)||^2 <= zeta ||y||^2`` (rule ``scale.B3``)."""
        return []

    def numeric_classes(self, d: int | None = None) -> tuple[CompressorClass, ...]:
        subs = self.substitutions(d)
        base = {c.name: c.subs(subs) for c in self.classes()}
        for der in self.conditional_classes():
            if _truth(der.condition, subs) is not True:
                continue
            new = der.cls.subs(subs)
            prev = base.get(new.name)
            if prev is None:
                base[new.name] = new
            else:
                base[new.name] = type(prev)(**{
                    k: STRONGER[k](prev.constants()[k], v) for k, v in new.constants().items()})
        return tuple(base.values())


def _as_expr(c: Any, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    """A scale factor as a SymPy expression in the spec's symbols (matched by name)."""
    try:
        e = sp.sympify(c)
    except (sp.SympifyError, TypeError):
        raise InputError(f"scale factor {c!r} is not a number or SymPy expression") from None
    return e.subs({s: symbols.get(s.name, sp.Symbol(s.name, positive=True))
                   for s in e.free_symbols}, simultaneous=True)


def _inner_values(spec: CompressorSpec, cls: type[CompressorSpec]) -> dict[str, Any]:
    names = {p.name for p in cls.params}
    return {k: v for k, v in spec.values.items() if k in names}


def symbolic_spec(cls: type[CompressorSpec], values: dict[str, Any] | None = None,
                  d: int | None = None) -> CompressorSpec:
    """An instance of ``cls`` for its symbolic face. With every required parameter given it
    is ``cls(**values, d=d)`` (validated; errors propagate). If some are missing — e.g. to
    list a catalog entry's formulas — the instance is built without ``__init__`` (given
    values validated, defaults filled): its ``classes()``/``bits()`` work, its codec needs
    the missing values and raises :class:`InputError` naming them."""
    values = dict(values or {})
    missing = [p.name for p in cls.params if p.required and p.name not in values]
    if not missing:
        return cls(**values, d=d)
    obj = cls.__new__(cls)
    known = {p.name: p for p in cls.params}
    obj.values = {n: known[n].validate(v) for n, v in values.items() if n in known}
    for p in cls.params:
        if p.name not in obj.values and p.default is not None:
            obj.values[p.name] = p.validate(p.default)
    obj.d = None
    return obj


class ScaledSpec(DerivedSpec):
    r"""``c * C`` for an inner spec ``C`` and a constant ``c > 0`` (a number or an
    expression in the parameters and ``d``). Codec: the inner message unchanged, the
    decoder multiplies by ``c`` (the receiver knows ``c``). Classes: derived by the
    ``scale.*`` rules from the inner spec's claimed and implied classes."""

    inner_cls: ClassVar[type[CompressorSpec]]
    factor: ClassVar[sp.Expr]

    @property
    def inner(self) -> CompressorSpec:
        inner = self.__dict__.get("_inner")
        if inner is None:
            inner = symbolic_spec(self.inner_cls, _inner_values(self, self.inner_cls))
            self.__dict__["_inner"] = inner
        return inner

    def _validate(self) -> None:
        self.inner  # noqa: B018 - validates the inner parameters
        c = self.factor.subs(self.substitutions(self.d or 2))
        if not c.free_symbols and (not c.is_real or float(c) <= 0):
            raise InputError(f"{self.name}: scale factor must be > 0, got {sp.sstr(c)}")

    def check_dim(self, d: int) -> None:
        self.inner.check_dim(d)

    def c_value(self, d: int) -> float:
        """The numeric scale factor at dimension ``d`` (cached: the codec calls it)."""
        cache = self.__dict__.setdefault("_c_values", {})
        if d not in cache:
            cache[d] = self._c_value(d)
        return cache[d]

    def _c_value(self, d: int) -> float:
        c = self.factor.subs(self.substitutions(d))
        if c.free_symbols:
            raise InputError(f"{self.name}: scale factor {sp.sstr(c)} needs values for "
                             f"{sorted(map(str, c.free_symbols))}")
        val = float(c)
        if not (val > 0 and math.isfinite(val)):
            raise InputError(f"{self.name}: scale factor must be > 0, got {val}")
        return val

    def derivations(self) -> list[Derivation]:
        c = self.factor
        out: list[Derivation] = []
        inner_classes = list(self.inner.classes())
        if c == 1:
            return [Derivation(k, "identity", k.pretty()) for k in inner_classes]
        for src, text in _sources(inner_classes):
            if isinstance(src, SignType):
                out.append(Derivation(src, "scale keeps sign-type", text))
            elif src.name == "B1":
                out.append(_apply(RULES["scale.B1"], src, {C: c}, text))
            elif src.name == "B2":
                out.append(_apply(RULES["scale.B2"], src, {C: c}, text))
                out.append(_apply(RULES["scale.B2>B3"], src, {C: c}, text))
            elif src.name == "B3":
                out.append(_apply(RULES["scale.B3"], src, {C: c, ZETA: sp.Integer(1)}, text))
        inner = self.inner
        if isinstance(inner, DerivedSpec):
            for delta, zeta in inner.b3_inflation():
                out.append(_apply(RULES["scale.B3"], None, {C: c, ZETA: zeta, DELTA: delta},
                                  f"Q(C0), C0 ∈ B3({sp.sstr(delta)}), zeta={sp.sstr(zeta)}"))
        return out

    def bits(self) -> sp.Expr:
        return self.inner.bits()

    def covariance(self, v: sp.Matrix) -> sp.Matrix | None:
        cov = self.inner.covariance(v)
        return None if cov is None else cov * self.factor**2

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        p = self.inner.encode(x, generator)
        p.compressor = self.name
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        return self.inner.decode(payload) * self.c_value(payload.dim)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.inner.apply(x, generator) * self.c_value(x.shape[-1])


def scaled_class(inner: type[CompressorSpec], c: Any, *, name: str | None = None,
                 title: str | None = None, reference: str | None = None
                 ) -> type[ScaledSpec]:
    """A spec class for ``c * inner``. ``c``: number or SymPy expression in the inner
    parameters and ``d`` (symbols matched by name, e.g. ``"k/d"``); any other free symbol
    becomes a new positive float parameter of the scaled spec."""
    if not (isinstance(inner, type) and issubclass(inner, CompressorSpec)):
        raise InputError(f"scaled_class needs a CompressorSpec subclass, got {inner!r}")
    syms = {p.name: p.symbol() for p in inner.params} | {"d": D}
    expr = _as_expr(c, syms)
    extra = tuple(Param(s.name, float, f"free scale parameter {s.name}", minimum=0,
                        minimum_inclusive=False)
                  for s in sorted(expr.free_symbols, key=str) if s.name not in syms)
    if extra:
        syms |= {p.name: p.symbol() for p in extra}
        expr = _as_expr(expr, syms)
    if not expr.free_symbols and (not expr.is_real or float(expr) <= 0):
        raise InputError(f"scale factor must be > 0, got {sp.sstr(expr)}")
    cname = name or f"scaled_{inner.name}"
    attrs = {
        "name": cname,
        "title": title or f"({sp.sstr(expr)}) x {inner.title or inner.name}",
        "reference": reference or (f"{sp.sstr(expr)} * {inner.name}; classes derived by "
                                   "theorykit.compressors.algebra (scale.* rules; Beznosikov "
                                   "et al., JMLR 2023, relations recalled)"),
        "params": tuple(inner.params) + extra,
        "randomized": inner.randomized,
        "inner_cls": inner,
        "factor": expr,
        "__module__": inner.__module__,
        "__doc__": f"{sp.sstr(expr)} * {inner.__name__} (classes derived, see algebra).",
    }
    return type(f"Scaled{inner.__name__}", (ScaledSpec,), attrs)


def scale(spec: CompressorSpec, c: Any, *, name: str | None = None) -> CompressorSpec:
    """``c * spec`` as a new spec instance (same parameter values and ``d``) whose classes
    are derived: e.g. ``c = 1/(1+omega)`` on ``U(omega)`` gives ``B3(1+omega)``, ``c = 1/beta``
    on ``B2(gamma, beta)`` gives ``B3(beta/gamma)``."""
    cls = scaled_class(type(spec), c, name=name)
    vals = dict(spec.values)
    extra = {p.name for p in cls.params} - {p.name for p in type(spec).params}
    if extra:
        raise InputError(f"scale factor has free parameters {sorted(extra)}; use scaled_class "
                         "and give their values")
    return cls(**vals, d=spec.d)


def contractive(spec: CompressorSpec, *, name: str | None = None) -> CompressorSpec:
    """The standard scaling into B3: ``1/(1+omega)`` for U(omega) (relation 3), ``1/zeta``
    for a composition ``Q(C0)`` with ``C0 ∈ B3`` (relation 9), else ``1/beta`` of B2 or B1
    (relations 6, 7). Raises :class:`AssumptionError` if none applies."""
    u = spec.membership("U")
    if u is not None:
        return scale(spec, 1 / (1 + sp.sympify(u.constants()["omega"])), name=name)
    if isinstance(spec, DerivedSpec) and spec.b3_inflation():
        return scale(spec, 1 / spec.b3_inflation()[0][1], name=name)
    for cname in ("B2", "B1"):
        m = spec.membership(cname)
        if m is not None:
            return scale(spec, 1 / sp.sympify(m.constants()["beta"]), name=name)
    raise AssumptionError(f"{spec.name}: no U, B1 or B2 membership to scale into B3")


class ComposedSpec(DerivedSpec):
    r"""``Q(C(x))``: an inner compressor ``C`` then an unbiased outer ``Q``, with independent
    randomness. With ``support`` (an expression such as ``k``), ``C(x)`` must have at most
    ``m = support`` non-zeros and ``Q`` is applied to those ``m`` values (its constants taken
    at dimension ``m``); the message is ``m`` indices of ``ceil(log2 d)`` bits plus ``Q``'s
    message of the ``m`` values (indices packed as the catalog sparsifiers pack them,
    :func:`~theorykit.compressors.codec_utils.index_field`). Without ``support`` ``Q``
    acts on the whole vector and the message is ``Q``'s. Classes: the ``compose.*`` rules
    with ``zeta = 1 + omega_Q``."""

    q_cls: ClassVar[type[CompressorSpec]]
    c_cls: ClassVar[type[CompressorSpec]]
    support: ClassVar[sp.Expr | None]

    @property
    def inner(self) -> CompressorSpec:
        inner = self.__dict__.get("_inner_c")
        if inner is None:
            inner = symbolic_spec(self.c_cls, _inner_values(self, self.c_cls))
            self.__dict__["_inner_c"] = inner
        return inner

    def outer(self, m: int | None = None) -> CompressorSpec:
        """The outer compressor (symbolic if ``m`` is None, else at dimension ``m``)."""
        cache = self.__dict__.setdefault("_outer", {})
        if m not in cache:
            cache[m] = symbolic_spec(self.q_cls, _inner_values(self, self.q_cls), m)
        return cache[m]

    def _validate(self) -> None:
        self.inner  # noqa: B018 - validates the inner parameters
        self.zeta()  # the outer compressor must be unbiased

    def support_dim(self, d: int) -> int:
        """The number of values ``Q`` acts on at dimension ``d`` (cached)."""
        if self.support is None:
            return d
        cache = self.__dict__.setdefault("_support_dims", {})
        if d not in cache:
            cache[d] = self._support_dim(d)
        return cache[d]

    def _support_dim(self, d: int) -> int:
        m = sp.sympify(self.support).subs(self.substitutions(d))
        if m.free_symbols:
            raise InputError(f"{self.name}: support {sp.sstr(m)} needs values for "
                             f"{sorted(map(str, m.free_symbols))}")
        return int(m)

    def check_dim(self, d: int) -> None:
        self.inner.check_dim(d)
        if self.support is not None and all(
                s in self.substitutions(d) for s in sp.sympify(self.support).free_symbols):
            m = self.support_dim(d)
            if not 1 <= m <= d:
                raise InputError(f"{self.name}: support size {m} must be in [1, d={d}]")
            self.outer().check_dim(m)

    def zeta(self) -> sp.Expr:
        """``1 + omega_Q`` at the dimension ``Q`` acts on."""
        u = self.outer().membership("U")
        if u is None:
            raise AssumptionError(
                f"{self.name}: composition needs an unbiased outer compressor; "
                f"{self.q_cls.name} has classes "
                f"{', '.join(c.pretty() for c in self.outer().classes()) or 'none'}")
        om = sp.sympify(u.constants()["omega"])
        if self.support is not None:
            om = om.subs(D, self.support)
        return 1 + om

    def derivations(self) -> list[Derivation]:
        zeta = self.zeta()
        out: list[Derivation] = []
        for src, text in _sources(self.inner.classes()):
            if isinstance(src, SignType):
                out.append(Derivation(SignType(f"composition with a sign-type map ({src.reason})"),
                                      "compose keeps sign-type", text))
            elif src.name in ("U", "B1", "B2"):
                out.append(_apply(RULES[f"compose.{src.name}"], src, {ZETA: zeta}, text))
        return out

    def b3_inflation(self) -> list[tuple[sp.Expr, sp.Expr]]:
        zeta = self.zeta()
        out = []
        b3 = self.inner.membership("B3")
        if b3 is not None:
            out.append((sp.sympify(b3.constants()["delta"]), zeta))
        if isinstance(self.inner, DerivedSpec):
            out += [(dl, _simplify(z * zeta)) for dl, z in self.inner.b3_inflation()]
        return out

    def bits(self) -> sp.Expr:
        qb = sp.sympify(self.outer().bits())
        if self.support is None:
            return qb
        return self.support * sp.ceiling(sp.log(D, 2)) + qb.subs(D, self.support)

    # ---------------------------------------------------------------- codec
    def _gather(self, y: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        y2 = y.reshape(-1, y.shape[-1])
        nnz = torch.count_nonzero(y2, dim=-1)
        if bool((nnz > m).any()):
            raise InputError(f"{self.name}: inner output has {int(nnz.max())} non-zeros, more "
                             f"than the support m={m}")
        if bool((nnz == m).all()):  # the usual case: the non-zeros, in index order
            idx = torch.nonzero(y2)[:, 1].view(y2.shape[0], m)
        else:  # fewer non-zeros (zeros in x): pad with zero positions
            idx = torch.topk(y2.abs(), m, dim=-1, sorted=False).indices
        return idx, y2.gather(-1, idx)

    def _scatter(self, idx: torch.Tensor, vals: torch.Tensor, shape: tuple[int, ...],
                 dtype: torch.dtype) -> torch.Tensor:
        out = torch.zeros((idx.shape[0], shape[-1]), dtype=dtype, device=vals.device)
        out.scatter_(-1, idx, vals.to(dtype))
        return out.view(shape)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self._prepare(x)
        y = self.inner.apply(x, generator)
        if self.support is None:
            return self.outer(x.shape[-1]).apply(y, generator)
        m = self.support_dim(x.shape[-1])
        idx, vals = self._gather(y, m)
        qv = self.outer(m).apply(vals, generator)
        return self._scatter(idx, qv, tuple(x.shape), y.dtype)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x = self._prepare(x)
        y = self.inner.apply(x, generator)
        p = self.new_payload(x)
        if self.support is None:
            qp = self.outer(x.shape[-1]).encode(y, generator)
        else:
            d = x.shape[-1]
            m = self.support_dim(d)
            idx, vals = self._gather(y, m)
            p.fields["indices"] = index_field(idx.reshape(-1), d)
            qp = self.outer(m).encode(vals, generator)
        p.fields.update({f"q.{k}": v for k, v in qp.fields.items()})
        p.__dict__["_q_dtype"] = qp.dtype
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        d = payload.dim
        m = d if self.support is None else self.support_dim(d)
        qdtype = payload.__dict__.get("_q_dtype", payload.dtype)
        qp = Payload(self.q_cls.name, (*payload.shape[:-1], m), qdtype, payload.device,
                     {k[2:]: v for k, v in payload.fields.items() if k.startswith("q.")})
        qv = self.outer(m).decode(qp)
        if self.support is None:
            return qv.to(payload.dtype)
        idx = read_indices(payload.fields["indices"], d, payload.batch * m)
        idx = idx.view(payload.batch, m)
        return self._scatter(idx.to(qv.device), qv.reshape(payload.batch, m), payload.shape,
                             payload.dtype)


def composed_class(q: type[CompressorSpec], c: type[CompressorSpec], *,
                   support: str | sp.Expr | None = None, name: str | None = None,
                   title: str | None = None, reference: str | None = None
                   ) -> type[ComposedSpec]:
    """A spec class for ``q ∘ c`` (``q`` applied after ``c``, independent randomness).
    Parameters are the union of both (a shared name means a shared value); ``support``
    names the number of non-zeros of ``c``'s output (e.g. ``"k"``) when ``q`` should act
    on the kept values only."""
    for cls in (q, c):
        if not (isinstance(cls, type) and issubclass(cls, CompressorSpec)):
            raise InputError(f"composed_class needs CompressorSpec subclasses, got {cls!r}")
    params = list(c.params)
    for p in q.params:
        same = next((o for o in params if o.name == p.name), None)
        if same is None:
            params.append(p)
        elif same != p:
            raise InputError(f"{q.name} and {c.name} both have a parameter {p.name!r} with "
                             "different definitions; rename one")
    syms = {p.name: p.symbol() for p in params} | {"d": D}
    sup = None if support is None else _as_expr(support, syms)
    if sup is not None and sup.free_symbols - set(syms.values()):
        raise InputError(f"support {sp.sstr(sup)} uses unknown symbols")
    cname = name or f"{c.name}_{q.name}"
    attrs = {
        "name": cname,
        "title": title or f"{q.title or q.name} after {c.title or c.name}",
        "reference": reference or (f"{q.name} ∘ {c.name}; classes derived by "
                                   "theorykit.compressors.algebra (compose.* rules; "
                                   "Beznosikov et al., JMLR 2023, relation 9, recalled)"),
        "params": tuple(params),
        "randomized": q.randomized or c.randomized,
        "q_cls": q,
        "c_cls": c,
        "support": sup,
        "__module__": c.__module__,
        "__doc__": f"{q.__name__} after {c.__name__} (classes derived, see algebra).",
    }
    return type(f"{c.__name__}Then{q.__name__}", (ComposedSpec,), attrs)


def compose(q: CompressorSpec, c: CompressorSpec, *, support: str | sp.Expr | None = None,
            name: str | None = None) -> CompressorSpec:
    """``q ∘ c`` as a spec instance with the parameter values of both (and ``d``)."""
    cls = composed_class(type(q), type(c), support=support, name=name)
    vals = dict(c.values)
    for k, v in q.values.items():
        if k in vals and vals[k] != v:
            raise InputError(f"parameter {k!r} differs: {vals[k]} in {c.name}, {v} in {q.name}")
        vals[k] = v
    d = c.d if c.d is not None else None
    return cls(**vals, d=d)
