r"""The Gaussian law :math:`\mathcal N(0, \sigma^2)`.

Density :math:`e^{-x^2/(2\sigma^2)}/(\sigma\sqrt{2\pi})`, variance :math:`\sigma^2`;
:math:`E\operatorname{sign}(z + T) = 2\Phi(z) - 1 = \operatorname{erf}(z/\sqrt2)` (standard
identity, *derived*; the sign mean of the SignSGD SDE, Compagnoni et al. 2025,
arXiv 2411.15958, *recalled*).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.distributions.base import SymmetricLaw, scale_parameter
from theorykit.distributions.registry import register


@register
class Gaussian(SymmetricLaw):
    """N(0, sigma^2); sampled by ``torch.randn``."""

    name = "gaussian"
    title = "Gaussian"
    reference = "standard normal law"
    params = (scale_parameter("standard deviation", "sigma"),)
    scale_param = "sigma"
    direct_sampler = True
    closed_form_integrals = True
    unit_variance = sp.Integer(1)

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return sp.exp(-u**2 / 2) / sp.sqrt(2 * sp.pi)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.erf(z / sp.sqrt(2))

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        return norm.cdf(z)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        return norm.ppf(0.5 + v / 2)

    def bracket(self) -> float:
        return 9.0

    def sample_unit(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                    device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
