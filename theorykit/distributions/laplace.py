r"""The Laplace law with scale ``b``: density :math:`e^{-|x|/b}/(2b)`.

Variance :math:`2b^2`; :math:`|T| \sim \mathrm{Exp}(1)`, quantile :math:`-\ln(1 - v)`;
:math:`E\operatorname{sign}(z + T) = \operatorname{sign}(z)(1 - e^{-|z|})` (*derived* from
:math:`F(z) = 1 - e^{-z}/2`, z >= 0). The gradient model of TNQSGD (Yan et al., arXiv
2402.01160, *read*).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from theorykit.distributions.base import SymmetricLaw, scale_parameter
from theorykit.distributions.registry import register


@register
class Laplace(SymmetricLaw):
    """Laplace(0, scale); |T| by inverse transform, an independent fair sign."""

    name = "laplace"
    title = "Laplace"
    reference = "standard Laplace law; sign mean derived by theorykit"
    params = (scale_parameter("scale b (variance 2 b^2)"),)
    closed_form_integrals = True
    unit_variance = sp.Integer(2)

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return sp.exp(-u) / 2

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.sign(z) * (1 - sp.exp(-sp.Abs(z)))

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        from scipy.stats import laplace

        return laplace.cdf(z)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        return -np.log1p(-v)

    def bracket(self) -> float:
        return 40.0

    def abs_icdf_torch(self, u: torch.Tensor) -> torch.Tensor:
        return -torch.log1p(-u)  # Exp(1), u in [0, 1)
