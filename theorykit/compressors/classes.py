"""Compressor classes as symbolic objects.

Definitions (Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276), 2023, Definitions 1–3; the unbiased class in the
common omega-notation, omega = zeta - 1). For all x in R^d:

* Unbiased ``U(omega)``:  E C(x) = x  and  E||C(x) - x||^2 <= omega ||x||^2.
* ``B1(alpha, beta)``:    alpha ||x||^2 <= E||C(x)||^2 <= beta <E C(x), x>.
* ``B2(gamma, beta)``:    max{gamma ||x||^2, E||C(x)||^2 / beta} <= <E C(x), x>.
* ``B3(delta)``:          E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2   (delta >= 1).

Each membership knows which *normalised statistics* certify it. With ``n = ||x||^2`` the
certifier estimates, per input, the means of

* ``err``   = ||C(x) - x||^2 / n
* ``sq``    = ||C(x)||^2 / n
* ``inner`` = <C(x), x> / n

and checks linear inequalities in these means (:class:`Inequality`). Unbiasedness is
checked separately through the vector mean of C(x).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, fields
from typing import ClassVar, Literal

import sympy as sp

Statistic = Literal["err", "sq", "inner"]


@dataclass(frozen=True)
class Inequality:
    """``sum_s coeffs[s] * E[stat_s]  (<= or >=)  rhs`` in the normalised statistics."""

    label: str
    coeffs: dict[str, sp.Expr]
    sense: Literal["le", "ge"]
    rhs: sp.Expr
    text: str

    def subs(self, values: dict) -> Inequality:
        return Inequality(
            self.label,
            {k: sp.sympify(v).subs(values) for k, v in self.coeffs.items()},
            self.sense,
            sp.sympify(self.rhs).subs(values),
            self.text,
        )


def _bound(label: str, stat: Statistic, sense: Literal["le", "ge"], rhs: sp.Expr,
           text: str) -> Inequality:
    """``E[stat] (<= | >=) rhs``: one statistic against its constant."""
    return Inequality(label, {stat: sp.Integer(1)}, sense, sp.sympify(rhs), text)


def _beta_bound(beta: sp.Expr) -> Inequality:
    """``E||C(x)||^2 <= beta <E C(x), x>``, the upper inequality of both B1 and B2."""
    return Inequality("beta", {"sq": sp.Integer(1), "inner": -sp.sympify(beta)}, "le",
                      sp.Integer(0), "E||C(x)||^2 <= beta <E C(x), x>")


@dataclass(frozen=True)
class CompressorClass(abc.ABC):
    """A class membership with its constants as SymPy expressions."""

    name: ClassVar[str]
    requires_unbiased: ClassVar[bool] = False

    def constants(self) -> dict[str, sp.Expr]:
        return {f.name: sp.sympify(getattr(self, f.name)) for f in fields(self)}

    def subs(self, values: dict) -> CompressorClass:
        return type(self)(**{k: sp.sympify(v).subs(values) for k, v in self.constants().items()})

    def simplify(self) -> CompressorClass:
        return type(self)(**{k: sp.simplify(v) for k, v in self.constants().items()})

    def latex(self) -> str:
        args = ", ".join(rf"\{k}={sp.latex(v)}" for k, v in self.constants().items())
        return rf"\mathcal{{{self.latex_name}}}({args})"

    def pretty(self) -> str:
        args = ", ".join(f"{k}={sp.sstr(v)}" for k, v in self.constants().items())
        return f"{self.name}({args})"

    latex_name: ClassVar[str] = ""

    @abc.abstractmethod
    def inequalities(self) -> tuple[Inequality, ...]:
        """The inequalities in the normalised statistics that define the membership."""


@dataclass(frozen=True)
class Unbiased(CompressorClass):
    """U(omega): E C(x) = x, E||C(x) - x||^2 <= omega ||x||^2."""

    omega: sp.Expr
    name: ClassVar[str] = "U"
    latex_name: ClassVar[str] = "U"
    requires_unbiased: ClassVar[bool] = True

    def inequalities(self) -> tuple[Inequality, ...]:
        return (_bound("omega", "err", "le", self.omega, "E||C(x)-x||^2 <= omega ||x||^2"),)


@dataclass(frozen=True)
class B1(CompressorClass):
    """B1(alpha, beta): alpha ||x||^2 <= E||C(x)||^2 <= beta <E C(x), x>."""

    alpha: sp.Expr
    beta: sp.Expr
    name: ClassVar[str] = "B1"
    latex_name: ClassVar[str] = "B^1"

    def inequalities(self) -> tuple[Inequality, ...]:
        return (_bound("alpha", "sq", "ge", self.alpha, "E||C(x)||^2 >= alpha ||x||^2"),
                _beta_bound(self.beta))


@dataclass(frozen=True)
class B2(CompressorClass):
    """B2(gamma, beta): max{gamma ||x||^2, E||C(x)||^2/beta} <= <E C(x), x>."""

    gamma: sp.Expr
    beta: sp.Expr
    name: ClassVar[str] = "B2"
    latex_name: ClassVar[str] = "B^2"

    def inequalities(self) -> tuple[Inequality, ...]:
        return (_bound("gamma", "inner", "ge", self.gamma, "<E C(x), x> >= gamma ||x||^2"),
                _beta_bound(self.beta))


@dataclass(frozen=True)
class B3(CompressorClass):
    """B3(delta): E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2."""

    delta: sp.Expr
    name: ClassVar[str] = "B3"
    latex_name: ClassVar[str] = "B^3"

    def inequalities(self) -> tuple[Inequality, ...]:
        return (_bound("delta", "err", "le", 1 - 1 / sp.sympify(self.delta),
                       "E||C(x)-x||^2 <= (1 - 1/delta) ||x||^2"),)


@dataclass(frozen=True)
class SignType(CompressorClass):
    """Sign-type compressor outside U/B1/B2/B3 (not positively homogeneous).

    ``reason`` says why; such compressors are modelled through their own moments
    (e.g. E sign(g) under a noise model) rather than through class constants.
    """

    reason: str = "not positively homogeneous: C(c x) != c C(x)"
    name: ClassVar[str] = "sign-type"
    latex_name: ClassVar[str] = "S"

    def constants(self) -> dict[str, sp.Expr]:
        return {}

    def subs(self, values: dict) -> SignType:
        return self

    def simplify(self) -> SignType:
        return self

    def pretty(self) -> str:
        return f"sign-type ({self.reason})"

    def latex(self) -> str:
        return r"\text{sign-type}"

    def inequalities(self) -> tuple[Inequality, ...]:
        return ()


CLASS_TYPES: dict[str, type[CompressorClass]] = {
    c.name: c for c in (Unbiased, B1, B2, B3, SignType)
}
