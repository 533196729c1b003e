r"""Gaussian gradient noise :math:`Z_i \sim \mathcal N(0, \Sigma_i/B)`: diagonal scales or a
full (per-worker) covariance, the exact law of a mean of B Gaussian samples (Compagnoni et
al., AISTATS 2025, setting of Sec. 2, *recalled*)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.distributions import nice_number
from theorykit.distributions.gaussian import Gaussian as GaussianLaw
from theorykit.errors import InputError
from theorykit.noise.base import B_SYMBOL, NoiseModel, check_batch
from theorykit.noise.scales import Scales
from theorykit.validate import positive_int

__all__ = ["Gaussian"]


class Gaussian(NoiseModel):
    r"""Gaussian batch noise :math:`Z_i \sim \mathcal N(0, \Sigma_i/B)`.

    ``sigma``: per-sample standard deviation -- scalar, per-worker sequence (length N) or
    ``(N, d)`` array; :math:`\Sigma_i = \operatorname{diag}(\sigma_{ij}^2)`. Or ``cov``: a full
    per-sample covariance, ``(d, d)`` shared or ``(N, d, d)`` per worker (then ``sigma`` must be
    left at its default).

    Sign mean (Compagnoni et al. 2025, SignSGD SDE of arXiv 2411.15958, *recalled*; identity
    2Φ(z) - 1 = erf(z/√2) *derived*):
    :math:`E[\operatorname{sign}(g + Z_{ij})] =
    \operatorname{erf}(g\sqrt B / (\sqrt2\,\sigma_{ij}))`.
    """

    name = "gaussian"
    title = "Gaussian"
    reference = "Compagnoni et al., AISTATS 2025, Sec. 2 (Cov Z_i = Σ_i/B) [recalled]"
    batch_convention = "Z_i ~ N(0, Σ_i/B): the exact law of a mean of B Gaussian samples"
    _scale_name = "sigma"

    def __init__(self, sigma: Any = 1.0, cov: Any = None) -> None:
        self.law = GaussianLaw()
        self._cov: list[sp.Matrix] | None = None
        self._chol: dict[tuple, torch.Tensor] = {}
        if cov is not None:
            if not (isinstance(sigma, int | float) and sigma == 1.0):
                raise InputError("Gaussian: give either sigma or cov, not both")
            self._cov = self._parse_cov(cov)
            d = self._cov[0].shape[0]
            diag_sd = [[sp.sqrt(m[j, j]) for j in range(d)] for m in self._cov]
            self.scales = Scales.from_table("sigma", diag_sd)
        else:
            self.scales = Scales("sigma", sigma)

    @classmethod
    def symbolic(cls, n_workers: int | None = None, name: str = "sigma") -> Gaussian:
        """Isotropic Gaussian with symbolic scale ``sigma`` (or ``sigma_1..sigma_N``)."""
        if n_workers is None:
            return cls(sigma=name)
        n = positive_int("number of workers N", n_workers)
        return cls(sigma=[f"{name}_{i + 1}" for i in range(n)])

    @staticmethod
    def _parse_cov(cov: Any) -> list[sp.Matrix]:
        if isinstance(cov, sp.MatrixBase):
            mats = [sp.Matrix(cov)]
        else:
            if isinstance(cov, torch.Tensor):
                cov = cov.detach().cpu().numpy()
            arr = np.asarray(cov, dtype=object)
            if arr.ndim == 2:
                mats = [sp.Matrix(arr.tolist())]
            elif arr.ndim == 3:
                mats = [sp.Matrix(a.tolist()) for a in arr]
            else:
                raise InputError("Gaussian: cov must be (d, d) or (N, d, d)")
        out = []
        for k, m in enumerate(mats):
            if m.shape[0] != m.shape[1]:
                raise InputError(f"Gaussian: cov[{k}] is not square ({m.shape})")
            m = m.applyfunc(lambda e: nice_number(float(e)) if isinstance(e, sp.Float) else e)
            if (m - m.T).applyfunc(sp.simplify) != sp.zeros(*m.shape):
                raise InputError(f"Gaussian: cov[{k}] is not symmetric")
            if all(e.is_number for e in m):
                a = np.array(m.evalf().tolist(), dtype=float)
                if not np.all(np.isfinite(a)):
                    raise InputError(f"Gaussian: cov[{k}] has non-finite entries")
                ev = np.linalg.eigvalsh(a)
                if ev.min() < -1e-10 * max(1.0, abs(ev).max()):
                    raise InputError(
                        f"Gaussian: cov[{k}] is not positive semi-definite "
                        f"(min eigenvalue {ev.min():.3g})")
            out.append(m)
        if len({m.shape for m in out}) != 1:
            raise InputError("Gaussian: per-worker covariances differ in shape")
        return out

    @property
    def independent_coordinates(self) -> bool:
        if self._cov is None:
            return True
        return all(m[a, b] == 0 for m in self._cov for a in range(m.shape[0])
                   for b in range(m.shape[0]) if a != b)

    def check_dims(self, n_workers: int, d: int) -> None:
        self.scales.check(n_workers, d)

    def _cov_of(self, i: int) -> sp.Matrix:
        assert self._cov is not None
        if len(self._cov) > 1 and not 0 <= i < len(self._cov):
            raise InputError(f"Gaussian: worker index {i} out of range")
        return self._cov[i if len(self._cov) > 1 else 0]

    def cov(self, i: int, d: int, batch: Any = B_SYMBOL,
            assumptions: list[str] | None = None) -> sp.Matrix:
        if self._cov is None:
            return super().cov(i, d, batch, assumptions)
        b = check_batch(batch)
        d = positive_int("dimension d", d)
        m = self._cov_of(i)
        if m.shape[0] != d:
            raise InputError(f"Gaussian: cov is {m.shape[0]}x{m.shape[0]} but d={d}")
        return m / b

    def _scale(self, base, n_workers, d, device, dtype):
        if self._cov is None or self.independent_coordinates:
            return super()._scale(base, n_workers, d, device, dtype)
        key = (str(device), dtype)
        if key not in self._chol:
            facs = []
            for m in self._cov:
                a = np.array(m.evalf().tolist(), dtype=float)
                w, v = np.linalg.eigh(a)  # symmetric square root: works for singular PSD
                facs.append(v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T)
            self._chol[key] = torch.tensor(np.stack(facs), dtype=dtype, device=device)
        fac = self._chol[key]  # (N0, d, d)
        return torch.einsum("nab,rnb->rna", fac, base)

    def describe_params(self) -> str:
        if self._cov is not None:
            return f"cov={[sp.sstr(m) for m in self._cov]}"
        return super().describe_params()

    def latex(self) -> str:
        return r"\mathcal{N}\!\left(0, \Sigma_i / B\right)"
