"""The noise-model base class: the sampling face and the symbolic face shared by every law.

:class:`NoiseModel` turns a unit symmetric law T of :mod:`theorykit.distributions` into the
batch-level noise ``Z_ij = s_ij * T / sqrt(B)`` of one step (batch convention: see
:mod:`theorykit.noise`): torch draws of shape ``(replicas, n_workers, d)``, the covariance
Σ_i/B as a SymPy matrix and the sign mean E[sign(g + Z_ij)] as a SymPy expression, with a
SciPy path for cross-checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import sympy as sp
import torch

from theorykit.distributions import SymmetricLaw
from theorykit.errors import AssumptionError, InputError
from theorykit.noise.scales import Scales
from theorykit.symbols import BATCH as B_SYMBOL  # the per-worker batch size, defined once
from theorykit.validate import positive_int

__all__ = ["B_SYMBOL", "NoiseModel", "check_batch", "diag_matrix"]

_G = sp.Dummy("g", real=True)  # placeholders of the sign-mean template in (g, s, B),
_ST = sp.Dummy("s", positive=True)  # filled in by xreplace (private: not the shared
_BT = sp.Dummy("B", positive=True)  # symbols of theorykit.symbols, which callers may pass)


def diag_matrix(entries: Sequence[sp.Expr]) -> sp.Matrix:
    """A diagonal SymPy matrix, built without ``sp.diag``'s per-entry overhead."""
    n = len(entries)
    m = sp.zeros(n, n)
    for j, e in enumerate(entries):
        m[j, j] = e
    return m


def check_batch(batch: Any) -> sp.Expr:
    """A batch size B: a positive integer (as ``sp.Integer``) or a SymPy symbol."""
    if isinstance(batch, sp.Basic) and not batch.is_number:
        return batch
    return sp.Integer(positive_int("batch size B", batch))


class NoiseModel:
    """Batch-level gradient noise of one step, independent across workers and steps.

    The unit base law T is a :class:`~theorykit.distributions.SymmetricLaw` (``law``): its
    sampler, variance, sign mean and CDF are the model's (one definition per law, in
    :mod:`theorykit.distributions`); the model adds the scales ``s_ij`` and the batch
    convention. Subclasses set ``name``, ``law`` and ``scales``.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    heavy_tailed: ClassVar[bool] = False

    scales: Scales
    law: SymmetricLaw

    # ------------------------------------------------------------------ structure
    @property
    def independent_coordinates(self) -> bool:
        """Whether the coordinates of Z_i are independent (True except correlated Gaussians)."""
        return True

    @property
    def n_workers(self) -> int | None:
        """The number of workers the model is tied to (per-worker scales), else None."""
        return self.scales.n0 if self.scales.per_worker else None

    @property
    def heterogeneous(self) -> bool:
        """Whether workers have different noise laws."""
        return self.scales.per_worker

    @property
    def numeric(self) -> bool:
        """Whether every parameter is a number (so the model can be sampled)."""
        return self.scales.numeric and all(
            sp.sympify(v).is_number for v in self.shape_params().values())

    def shape_params(self) -> dict[str, sp.Expr]:
        """Shape parameters (nu, alpha) as SymPy expressions."""
        return {k: self.law.shape(k) for k in self.law.shape_names()}

    def check_workers(self, n_workers: Any) -> None:
        """Raise :class:`InputError` if the model's per-worker data does not fit N."""
        if isinstance(n_workers, sp.Basic) and not n_workers.is_number:
            if self.heterogeneous:
                raise InputError(
                    f"{self.name}: per-worker noise needs a numeric number of workers")
            return
        self.scales.check(positive_int("number of workers N", n_workers), None)

    # ------------------------------------------------------------------ sampling face
    def sample(self, replicas: int, n_workers: int, d: int, batch: int = 1,
               generator: torch.Generator | None = None, device: Any = "cpu",
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Draw the batch-level noise Z of one step, shape ``(replicas, n_workers, d)``.

        Worker ``i``, coordinate ``j``: ``Z_ij = s_ij * T_ij / sqrt(B)`` with T i.i.d. draws
        of the unit base law (Gaussian: the exact law of a batch mean; see module doc)."""
        replicas = positive_int("replicas", replicas)
        n_workers = positive_int("number of workers N", n_workers)
        d = positive_int("dimension d", d)
        b = check_batch(batch)
        if not b.is_number:
            raise InputError("sampling needs a numeric batch size B")
        self.check_dims(n_workers, d)
        if not self.numeric:
            raise InputError(f"{self.name}: sampling needs numeric parameters, got {self!r}")
        base = self._sample_base((replicas, n_workers, d), generator, device, dtype)
        return self._scale(base, n_workers, d, device, dtype) / math.sqrt(int(b))

    def check_dims(self, n_workers: int, d: int) -> None:
        self.scales.check(n_workers, d)

    def _scale(self, base: torch.Tensor, n_workers: int, d: int, device: Any,
               dtype: torch.dtype) -> torch.Tensor:
        s = self.scales.tensor(device, dtype)  # (N0, d0) broadcasts against (R, N, d)
        return base * s

    def _sample_base(self, shape: tuple[int, int, int], generator: torch.Generator | None,
                     device: Any, dtype: torch.dtype) -> torch.Tensor:
        """i.i.d. unit-scale draws of the base law."""
        return self.law.sample_unit(shape, generator, device, dtype)

    # ------------------------------------------------------------------ symbolic face
    def variance_factor(self) -> sp.Expr:
        """Variance of the unit-scale base law (``sp.oo`` if infinite)."""
        return self.law.variance_factor()

    def variance_conditions(self) -> list[str]:
        """Conditions under which :meth:`variance_factor` is finite (for symbolic shapes)."""
        return self.law.variance_conditions()

    def scale(self, i: int, j: int) -> sp.Expr:
        """The per-sample scale ``s_ij`` of worker i, coordinate j (SymPy)."""
        return self.scales.expr(i, j)

    def cov(self, i: int, d: int, batch: Any = B_SYMBOL,
            assumptions: list[str] | None = None) -> sp.Matrix:
        """Covariance Σ_i/B of the batch-level noise of worker ``i`` (d x d SymPy matrix).

        Raises :class:`AssumptionError` when the variance is infinite (e.g. Student-t with
        nu <= 2). Conditions for finiteness under symbolic shapes are appended to
        ``assumptions`` when given."""
        b = check_batch(batch)
        d = positive_int("dimension d", d)
        self.scales.check(None, d)
        vf = sp.sympify(self.variance_factor())
        if vf in (sp.oo, sp.zoo) or vf.is_infinite:
            raise AssumptionError(
                f"{self.name} noise ({self.describe_params()}) has infinite variance: "
                "a covariance-based SDE needs finite noise variance")
        if assumptions is not None:
            for a in self.variance_conditions():
                if a not in assumptions:
                    assumptions.append(a)
        return diag_matrix([vf * self.scale(i, j) ** 2 / b for j in range(d)])

    def _sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        """E[sign(z + T)] for a unit-scale base draw T (SymPy)."""
        return self.law.sign_mean_unit(z)

    def sign_mean(self, g: sp.Expr, i: int, j: int, batch: Any = B_SYMBOL) -> sp.Expr:
        """E[sign(g + Z_ij)] = 2 P(T > -g sqrt(B)/s_ij) - 1 for the symmetric base law T."""
        b = check_batch(batch)
        s = self.scale(i, j)
        if s == 0:
            return sp.sign(g)
        # built once per model as a template in (g, s, B), then filled in by xreplace:
        # ~7x faster than rebuilding the expression (matters for d ~ 100 derivations)
        tmpl = self.__dict__.get("_sign_template")
        if tmpl is None:
            tmpl = self._sign_mean_unit(_G * sp.sqrt(_BT) / _ST)
            self.__dict__["_sign_template"] = tmpl
        return tmpl.xreplace({_G: sp.sympify(g), _ST: s, _BT: b})

    def sign_mean_numeric(self, g: Any, i: int, j: int, batch: int = 1) -> np.ndarray:
        """E[sign(g + Z_ij)] via SciPy (numeric cross-check of :meth:`sign_mean`)."""
        b = int(check_batch(batch))
        s = float(self.scale(i, j))
        g = np.asarray(g, dtype=float)
        if s == 0:
            return np.sign(g)
        return 2.0 * self._cdf_unit(g * math.sqrt(b) / s) - 1.0

    def _cdf_unit(self, z: np.ndarray) -> np.ndarray:
        """CDF of the unit-scale base law (SciPy)."""
        return self.law.cdf_unit(z)

    # ------------------------------------------------------------------ presentation
    def describe_params(self) -> str:
        parts = [f"{k}={sp.sstr(v)}" for k, v in self.shape_params().items()]
        parts.append(f"{self._scale_name}={self.scales.value()}")
        return ", ".join(parts)

    _scale_name: ClassVar[str] = "scale"

    def describe(self) -> dict[str, Any]:
        """JSON-able description."""
        return {
            "name": self.name,
            "title": self.title,
            "reference": self.reference,
            "params": {k: (float(v) if v.is_number else sp.sstr(v))
                       for k, v in self.shape_params().items()}
            | {self._scale_name: self.scales.value()},
            "variance_factor": sp.sstr(self.variance_factor()),
            "batch_convention": self.batch_convention,
        }

    batch_convention: ClassVar[str] = "Z_ij = s_ij * T / sqrt(B), T ~ base law"

    def params(self) -> dict[str, sp.Symbol]:
        """Free symbols of the model (for an SDE's parameter table)."""
        out: dict[str, sp.Symbol] = {}
        for row in self.scales.table:
            for e in row:
                for s in e.free_symbols:
                    out[s.name] = s
        for v in self.shape_params().values():
            for s in sp.sympify(v).free_symbols:
                out[s.name] = s
        return out

    def latex(self) -> str:
        return rf"\text{{{self.name}}}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe_params()})"
