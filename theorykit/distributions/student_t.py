r"""Student's t law with ``nu`` degrees of freedom and a scale (nu = 1: Cauchy).

Density :math:`f_\nu(t) = \frac{\Gamma(\frac{\nu+1}2)}{\sqrt{\nu\pi}\,\Gamma(\frac\nu2)}
(1 + t^2/\nu)^{-(\nu+1)/2}` (standard). The variance :math:`\operatorname{Var}T_\nu =
\nu/(\nu-2)` for :math:`\nu > 2` is *derived* here by SymPy from this density (SymPy returns
the convergence condition :math:`\nu > 2`; infinite otherwise) -- the one definition used by
the noise models and :mod:`theorykit.rules.bounds`. Sign mean (Compagnoni et al. 2025,
arXiv 2411.15958, *recalled*; checked against SciPy):

.. math:: E[\operatorname{sign}(z + T)] = 2F_\nu(z) - 1 = 2 z \frac{\Gamma(\frac{\nu+1}2)}
   {\sqrt{\pi\nu}\,\Gamma(\frac\nu2)}\; {}_2F_1\!\left(\tfrac12, \tfrac{\nu+1}2;
   \tfrac32; -\tfrac{z^2}\nu\right).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

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
from theorykit.errors import DerivationError

NU = positive_symbol("nu")


def _pdf(t: sp.Expr, nu: sp.Expr) -> sp.Expr:
    return (sp.gamma((nu + 1) / 2) / (sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2))
            * (1 + t**2 / nu) ** (-(nu + 1) / 2))


@lru_cache(maxsize=1)
def variance_derivation() -> tuple[sp.Expr, sp.Basic]:
    """(Var T_nu, its convergence condition), derived by ``sympy.integrate`` of
    :math:`t^2 f_\\nu(t)` over the real line (``conds="separate"``)."""
    t = sp.Symbol("t", real=True)
    res = sp.integrate(t**2 * _pdf(t, NU), (t, -sp.oo, sp.oo), conds="separate")
    if not isinstance(res, tuple):
        raise DerivationError("sympy did not return the convergence condition of Var T_nu")
    expr, cond = res
    return sp.simplify(sp.gammasimp(sp.combsimp(sp.expand_func(expr)))), cond


def bailey_sample(shape: tuple[int, ...], nu: float, generator: torch.Generator | None,
                  device: Any, dtype: torch.dtype) -> torch.Tensor:
    """Student-t draws by Bailey's polar method (Bailey 1994, Math. Comp. 62:779-781,
    *recalled*): U, V ~ Unif(-1, 1), W = U^2 + V^2 < 1 accepted (prob. π/4), then
    T = U sqrt(nu (W^{-2/nu} - 1) / W). Seeded by ``generator`` (torch has no t sampler that
    takes one). Tested against scipy's t CDF by a KS test."""
    n = math.prod(shape)
    out = torch.empty(n, device=device, dtype=dtype)
    filled = 0
    while filled < n:
        m = int((n - filled) * 1.35) + 64
        u = torch.rand(m, generator=generator, device=device, dtype=dtype) * 2 - 1
        v = torch.rand(m, generator=generator, device=device, dtype=dtype) * 2 - 1
        w = u * u + v * v
        ok = (w < 1) & (w > 0)
        u, w = u[ok], w[ok]
        t = u * torch.sqrt(nu * torch.expm1(-(2.0 / nu) * torch.log(w)) / w)
        take = min(t.numel(), n - filled)
        out[filled:filled + take] = t[:take]
        filled += take
    return out.reshape(shape)


@register
class StudentT(SymmetricLaw):
    """Student-t(nu) times ``scale``; sampled by Bailey's polar method."""

    name = "student_t"
    title = "Student-t"
    reference = "Student-t law; Compagnoni et al., AISTATS 2025 (heavy-tailed noise) [recalled]"
    params = (shape_parameter("nu", "degrees of freedom (tail index)"), scale_parameter())
    heavy_tailed = True
    direct_sampler = True
    tail_param = "nu"
    variance_condition = "Student-t {} > 2 (finite noise variance)"

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return _pdf(u, NU)

    def variance_factor(self) -> sp.Expr:
        """nu/(nu - 2) (:func:`variance_derivation`); ``sp.oo`` for numeric nu <= 2."""
        nu = self.shape("nu")
        expr, cond = variance_derivation()
        if nu.is_number and not bool(cond.subs(NU, nu)):
            return sp.oo
        return expr.subs(NU, nu)

    def density_at_zero(self) -> sp.Expr:
        """f_nu(0) = Γ((ν+1)/2)/(sqrt(νπ) Γ(ν/2))."""
        return _pdf(sp.Integer(0), self.shape("nu"))

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        nu = self.shape("nu")
        half = sp.Rational(1, 2)
        c = sp.gamma((nu + 1) / 2) / (sp.sqrt(sp.pi * nu) * sp.gamma(nu / 2))
        # evaluate=False: hyper's auto-evaluation costs ~5 ms per entry and never simplifies
        # this family (sympy.hyperexpand gives closed forms for integer nu on request)
        h = sp.hyper(sp.Tuple(half, (nu + 1) / 2), sp.Tuple(sp.Rational(3, 2)), -z**2 / nu,
                     evaluate=False)
        return 2 * z * c * h

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        from scipy.stats import t

        return t.cdf(z, self.number("nu"))

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        from scipy.stats import t

        return t.ppf(0.5 + v / 2, self.number("nu"))

    def bracket(self) -> float:
        from scipy.stats import t

        return float(t.isf(1e-14, self.number("nu")))

    def sample_unit(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                    device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return bailey_sample(shape, self.number("nu"), generator, device, dtype)
