r"""Learning-rate schedules as dimensionless multipliers.

A schedule gives the multiplier :math:`m_k` of the base learning rate η, so the discrete
step is :math:`\eta_k = \eta\, m_k` and, in SDE time :math:`t = k\eta`, the SDE of a
scheduled method reads (Compagnoni et al., arXiv 2506.00181, §3 as digested in
docs/theory/sde_papers.md §3.1, *recalled*)

.. math:: dX_t = -m(t)\, b(X_t)\,dt + m(t)\sqrt{\eta}\,\Sigma(X_t)^{1/2}\,dW_t,
   \qquad m(t) = m_{t/\eta}.

Every schedule is a callable ``schedule(k, grad_norm=None)`` returning a float or a tensor
``(R,)`` (one multiplier per replica when it depends on the gradient norm); ``k`` may be
an int or a float (SDE time divided by η). ``needs_grad_norm`` tells the driver whether to
pass the norms.

* :class:`Constant` -- :math:`m_k = 1`.
* :class:`PolynomialDecay` -- :math:`m_k = (1 + k)^{-a}`, i.e. η_k = η0/(1+k)^a. For
  a in (1/2, 1] it satisfies the "standard" conditions Σ η_k = ∞, Σ η_k² < ∞
  (:meth:`PolynomialDecay.standard` checks this symbolically).
* :class:`GradientNormalized` -- :math:`m_k = \hat m_k / (c_0 + c_1\|g_k\|)` with a base
  schedule :math:`\hat m`: the inverse dependence on the gradient norm that
  docs/theory/sde_papers.md
  §3.3 derives as needed for D(C)SGD under (L0, L1)-smoothness (*derived* there; abstract
  of arXiv 2506.00181, *read*).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.registry import Registry

__all__ = ["SCHEDULES", "Constant", "GradientNormalized", "PolynomialDecay", "Schedule",
           "make_schedule"]


def _num(name: str, v: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(x) or x < minimum or (strict and x == minimum):
        op = ">" if strict else ">="
        raise InputError(f"{name} must be finite and {op} {minimum:g}, got {v!r}")
    return x


class Schedule(abc.ABC):
    """A learning-rate multiplier ``m_k`` (see module doc)."""

    needs_grad_norm: bool = False

    @abc.abstractmethod
    def __call__(self, k: float, grad_norm: torch.Tensor | None = None) -> float | torch.Tensor:
        """Multiplier at step ``k`` (``grad_norm``: ``(R,)`` norms when needed)."""

    def at_time(self, t: float, eta: float, grad_norm: torch.Tensor | None = None
                ) -> float | torch.Tensor:
        """Multiplier in SDE time: ``m(t) = m_{t/eta}``."""
        return self(t / eta, grad_norm)

    @abc.abstractmethod
    def expr(self, k: sp.Symbol, g: sp.Symbol | None = None) -> sp.Expr:
        """The multiplier as a SymPy expression of the step ``k`` (and gradient norm g)."""

    def latex(self) -> str:
        k, g = sp.Symbol("k", nonnegative=True), sp.Symbol(r"\|g_k\|", nonnegative=True)
        return rf"\eta_k = \eta\cdot {sp.latex(self.expr(k, g))}"


class Constant(Schedule):
    """m_k = 1."""

    def __call__(self, k, grad_norm=None):
        return 1.0

    def expr(self, k, g=None):
        return sp.Integer(1)

    def __repr__(self) -> str:
        return "Constant()"


class PolynomialDecay(Schedule):
    """m_k = (1 + k)^(-a), a >= 0 (eta_k = eta0 / (1 + k)^a)."""

    def __init__(self, a: float = 0.6) -> None:
        self.a = _num("decay exponent a", a)

    def __call__(self, k, grad_norm=None):
        if k < 0:
            raise InputError(f"schedule step k must be >= 0, got {k!r}")
        return (1.0 + k) ** (-self.a)

    def expr(self, k, g=None):
        return (1 + k) ** (-sp.nsimplify(self.a))

    def standard(self) -> tuple[bool, bool]:
        """(sum m_k diverges, sum m_k^2 converges), decided by SymPy's convergence tests."""
        k = sp.Symbol("k", integer=True, nonnegative=True)
        s1 = sp.Sum(self.expr(k), (k, 0, sp.oo)).is_convergent()
        s2 = sp.Sum(self.expr(k) ** 2, (k, 0, sp.oo)).is_convergent()
        return not bool(s1), bool(s2)

    def __repr__(self) -> str:
        return f"PolynomialDecay(a={self.a:g})"


class GradientNormalized(Schedule):
    """m_k = base_k / (c0 + c1 ||g_k||), c0 > 0, c1 >= 0."""

    needs_grad_norm = True

    def __init__(self, base: Schedule | None = None, c0: float = 1.0, c1: float = 1.0) -> None:
        self.base = base if base is not None else Constant()
        if not isinstance(self.base, Schedule):
            raise InputError(f"base must be a Schedule, got {base!r}")
        self.c0 = _num("c0", c0, strict=True)
        self.c1 = _num("c1", c1)

    def __call__(self, k, grad_norm=None):
        if grad_norm is None:
            raise InputError("GradientNormalized needs the gradient norm (grad_norm=)")
        return self.base(k) / (self.c0 + self.c1 * grad_norm)

    def expr(self, k, g=None):
        g = sp.Symbol("g", nonnegative=True) if g is None else g
        return self.base.expr(k) / (sp.nsimplify(self.c0) + sp.nsimplify(self.c1) * g)

    def __repr__(self) -> str:
        return f"GradientNormalized({self.base!r}, c0={self.c0:g}, c1={self.c1:g})"


def _constant(**_ignored: Any) -> Constant:
    return Constant()


def _normalized(a: float | None = None, **params: Any) -> GradientNormalized:
    return GradientNormalized(None if a is None else PolynomialDecay(a), **params)


SCHEDULES: Registry[Callable[..., Schedule]] = Registry(
    "schedule", key=str.lower, sort=False,
    aliases={"polynomial": "poly", "gradient-normalized": "normalized"},
    entries={"constant": _constant, "poly": PolynomialDecay, "normalized": _normalized})
"""Schedule factories by name (registration order; ``polynomial`` and
``gradient-normalized`` are aliases)."""


def make_schedule(name: str | Schedule | None, **params: Any) -> Schedule:
    """A schedule by name: ``constant``, ``poly`` (a), ``normalized`` (c0, c1, a: a
    polynomial base when given); ``None`` means constant."""
    if name is None:
        return Constant()
    if isinstance(name, Schedule):
        return name
    return SCHEDULES.make(name, **params)
