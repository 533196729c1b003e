r"""Proof certificates of the class algebra: the symbols, :class:`Proof` and :class:`Rule`.

A rule's every derived inequality carries a :class:`Proof`: the target slack written as a
non-negative combination of hypothesis slacks plus squares, checked by ``sympy.simplify``
(identity) and sign analysis on an explicit reparametrisation of the domain. The statistics
are those of the certifier for ``||x|| = 1`` (every class inequality is homogeneous of
degree 2 in ``x``): ``S = E||C(x)||^2``, ``I = <E C(x), x>``, ``M = ||E C(x)||^2``; ``S0,
I0, M0`` are those of the inner compressor of a composition ``Q(C0(x))``.

The class constants are the shared symbols of :mod:`theorykit.symbols` (``OMEGA`` is
``omega >= 0``: the identity is ``U(0)``; ``ALPHA_B1``, ``BETA_B12``, ``GAMMA_B2``,
``DELTA_B3`` are positive), so a rule's constants substitute into every other module's
formulas. Classes: Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276), 2023, Definitions 1–3 (recalled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from theorykit.compressors.classes import CompressorClass
from theorykit.symbols import ALPHA_B1 as ALPHA
from theorykit.symbols import BETA_B12 as BETA
from theorykit.symbols import DELTA_B3 as DELTA
from theorykit.symbols import GAMMA_B2 as GAMMA
from theorykit.symbols import OMEGA

__all__ = [
    "ALPHA",
    "BETA",
    "CAUCHY_SCHWARZ",
    "CAUCHY_SCHWARZ0",
    "DELTA",
    "GAMMA",
    "GENERIC",
    "I0",
    "JENSEN",
    "JENSEN0",
    "M0",
    "OMEGA",
    "S0",
    "STRONGER",
    "U_",
    "W_",
    "ZETA",
    "C",
    "I",
    "M",
    "Proof",
    "Rule",
    "S",
    "u_slack",
]

C, ZETA = sp.symbols("c zeta", positive=True)
"""The scale factor ``c > 0`` and ``zeta = 1 + omega_Q`` of an unbiased outer ``Q``."""
S, I, M, S0, I0, M0 = sp.symbols("S I M S_0 I_0 M_0", real=True)
U_, W_ = sp.symbols("u w", nonnegative=True)
"""Domain variables of the reparametrisations (``u, w >= 0``)."""

GENERIC: dict[str, sp.Symbol] = {
    "omega": OMEGA, "alpha": ALPHA, "beta": BETA, "gamma": GAMMA, "delta": DELTA}
"""The generic symbol of each class constant, by the constant's name."""

STRONGER: dict[str, Callable[..., sp.Expr]] = {
    "omega": sp.Min, "beta": sp.Min, "delta": sp.Min, "alpha": sp.Max, "gamma": sp.Max,
}
"""How two proven values of a constant combine: the smaller upper constant, the larger lower."""


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


def u_slack(omega: sp.Expr = OMEGA) -> sp.Expr:
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
