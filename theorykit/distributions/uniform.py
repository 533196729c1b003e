r"""The uniform law on :math:`[-a, a]`: density :math:`1/(2a)` on :math:`|x| < a`.

Variance :math:`a^2/3`; :math:`E\operatorname{sign}(z + T) = \operatorname{clip}(z, -1, 1)`
(*derived*: :math:`F(z) = (1 + z)/2` on [-1, 1]). |T| is uniform on [0, 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.distributions.base import SymmetricLaw, scale_parameter
from theorykit.distributions.registry import register


@register
class Uniform(SymmetricLaw):
    """Uniform[-scale, scale]; sampled as 2U - 1."""

    name = "uniform"
    title = "Uniform"
    reference = "uniform law"
    params = (scale_parameter("half-width a"),)
    upper = sp.Integer(1)
    direct_sampler = True
    closed_form_integrals = True
    unit_variance = sp.Rational(1, 3)

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return sp.Rational(1, 2)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.Max(-1, sp.Min(1, z))

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(z, dtype=float) + 1) / 2, 0.0, 1.0)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(v, dtype=float)

    def bracket(self) -> float:
        return 1.0

    def abs_icdf_torch(self, u: torch.Tensor) -> torch.Tensor:
        return u

    def sample_unit(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                    device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype) * 2 - 1
