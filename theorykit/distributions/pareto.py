r"""Power-law tails: the symmetric Pareto law (type I) and the symmetric Lomax law (type II).

**The one "pareto" of theorykit** is the symmetric Pareto (type I) law with tail index
:math:`\alpha` and scale :math:`x_m`: :math:`|Z| \ge x_m` with
:math:`P(|Z| > x) = (x/x_m)^{-\alpha}`, density
:math:`\frac{\alpha}{2x_m}(|x|/x_m)^{-\alpha-1}` on :math:`|x| \ge x_m` (a gap at the origin).
:math:`E Z^2 = x_m^2\,\alpha/(\alpha-2)` for :math:`\alpha > 2` (*derived*: :math:`\int_1^\infty
u^2\,\alpha u^{-\alpha-1}du`).

Before this package the name meant three laws; each is now stated in this vocabulary:

* the top-k magnitude law ``pareto(a)`` (:mod:`theorykit.rules.topk_energy`; |x| has density
  :math:`a u^{-a-1}` on [1, ∞)) is ``Pareto(alpha=a, scale=1)`` -- the same law;
* the quantization density ``pareto(rho, g_m)`` (:mod:`theorykit.rules.quantization`,
  :math:`p(g) \propto |g|^{-\rho}` on :math:`|g| \ge g_m`, a *density* exponent) is
  ``Pareto(alpha=rho - 1, scale=g_m)`` -- the same family, parametrised by the density
  exponent :math:`\rho = \alpha + 1`;
* the heavy-tailed noise model, formerly ``make_noise("pareto")``, is a *different* law: the
  symmetric **Lomax** (Pareto type II) law :class:`Lomax`,
  :math:`P(|Z|/s > p) = (1 + p)^{-\alpha}`, i.e. type I shifted to start at 0 (no gap, so the
  sign mean is not flat near zero). It is registered here as ``lomax``, and the noise model and
  the CLI call it ``lomax`` too (``make_noise("pareto")`` and ``--noise pareto`` refuse with a
  pointer to it).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from theorykit.distributions.base import (
    SymmetricLaw,
    positive_symbol,
    scale_parameter,
    shape_parameter,
)
from theorykit.distributions.registry import register

A = positive_symbol("alpha")
"""The tail index alpha of both laws."""
ALPHA = shape_parameter("alpha", "tail index: P(|Z| > x) ~ x^(-alpha)")


@register
class Pareto(SymmetricLaw):
    """Symmetric Pareto type I: |T| >= 1, P(|T| > x) = x^(-alpha); Z = scale T."""

    name = "pareto"
    title = "Symmetric Pareto (type I)"
    reference = "symmetric Pareto law; moments and sign mean derived by theorykit"
    params = (ALPHA, scale_parameter("x_m, the smallest |Z|"))
    lower = 1
    heavy_tailed = True
    closed_form_integrals = True
    tail_param = "alpha"
    unit_variance = A / (A - 2)
    variance_condition = "Pareto {} > 2 (finite variance)"

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return A / 2 * u ** (-A - 1)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        a = self.shape("alpha")
        return sp.sign(z) * sp.Piecewise((1 - sp.Abs(z) ** (-a), sp.Abs(z) >= 1), (0, True))

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        a = np.maximum(np.abs(z), 1.0)
        tail = 0.5 * a ** (-self.number("alpha"))
        return np.where(z >= 0, 1 - tail, tail)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        return (1.0 - v) ** (-1.0 / self.number("alpha"))

    def bracket(self) -> float:
        return float((1e-14) ** (-1.0 / self.number("alpha")))

    def abs_icdf_torch(self, u: torch.Tensor) -> torch.Tensor:
        return (1 - u) ** (-1.0 / self.number("alpha"))


@register
class Lomax(SymmetricLaw):
    """Symmetric Lomax (Pareto type II): P(|T| > p) = (1 + p)^(-alpha), p >= 0."""

    name = "lomax"
    title = "Symmetric Pareto (Lomax)"
    reference = "symmetric Lomax law; moments and sign mean derived by theorykit"
    params = (ALPHA, scale_parameter())
    heavy_tailed = True
    tail_param = "alpha"
    unit_variance = 2 / ((A - 1) * (A - 2))
    """2/((alpha-1)(alpha-2)) for alpha > 2 (*derived*: E P^2 of the Lomax law)."""
    variance_condition = "Pareto {} > 2 (finite noise variance)"

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return A / 2 * (1 + u) ** (-A - 1)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.sign(z) * (1 - (1 + sp.Abs(z)) ** (-self.shape("alpha")))

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, float)
        tail = 0.5 * (1 + np.abs(z)) ** (-self.number("alpha"))
        return np.where(z >= 0, 1 - tail, tail)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        return np.expm1(-np.log1p(-np.asarray(v, dtype=float)) / self.number("alpha"))

    def bracket(self) -> float:
        return float((1e-14) ** (-1.0 / self.number("alpha")) - 1.0)

    def abs_icdf_torch(self, u: torch.Tensor) -> torch.Tensor:
        # P = U'^{-1/alpha} - 1 with U' = 1 - u in (0, 1]
        return torch.expm1(-torch.log1p(-u) / self.number("alpha"))
