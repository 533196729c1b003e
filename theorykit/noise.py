r"""Gradient-noise models: one definition each, with a sampling face and a symbolic face.

A worker ``i`` computes the stochastic gradient :math:`\nabla f(x) + Z_i` where :math:`Z_i`
is the **batch-level** noise of one step (independent across workers and steps). Every
model here has

* a **sampling face** -- :meth:`NoiseModel.sample` draws :math:`Z` of shape
  ``(replicas, n_workers, d)`` with torch (CPU or GPU, seeded by a ``torch.Generator``);
* a **symbolic face** -- :meth:`NoiseModel.cov` (the covariance :math:`\Sigma_i/B` of
  :math:`Z_i` as a SymPy matrix) and :meth:`NoiseModel.sign_mean`
  (:math:`E[\operatorname{sign}(g + Z_{ij})]` as a SymPy expression of ``g``), plus a numeric
  SciPy path :meth:`NoiseModel.sign_mean_numeric` for cross-checks.

Batch convention (the same for every model; documented and tested in ``tests/test_noise.py``)
-----------------------------------------------------------------------------------------
``batch`` = B is the per-worker mini-batch size. The per-sample noise of worker ``i`` in
coordinate ``j`` has scale ``s_ij`` (``sigma`` for the Gaussian, ``scale`` for the others) and

* **Gaussian**: :math:`Z_i \sim \mathcal N(0, \Sigma_i / B)`, the exact law of a mean of B
  i.i.d. Gaussian per-sample noises (Compagnoni et al., AISTATS 2025, setting of Sec. 2,
  *recalled*: :math:`\operatorname{Cov} Z_i = \Sigma_i / B`).
* **Heavy tails** (Student-t, Laplace, symmetric Pareto): :math:`Z_{ij} = s_{ij}\, T / \sqrt B`
  with T a standard draw of the base law. A batch mean of t variables is **not**
  t-distributed (nor Laplace/Pareto), so we do not average B samples: we model the
  batch-level noise directly as the base law and shrink its scale by
  :math:`1/\sqrt B`, which matches the variance of a batch mean whenever it is finite and
  keeps the tail index. (The source digest leaves the paper's own convention open, [?].)

Heterogeneous agents: ``sigma``/``scale`` may be a scalar (all workers, all coordinates), a
sequence of length N (one isotropic scale per worker) or an ``(N, d)`` array (per worker and
coordinate). Values may be numbers (sampling and symbolic faces) or SymPy expressions /
strings naming symbols (symbolic face only), e.g. ``Gaussian(sigma="sigma")`` or
``Gaussian.symbolic(n_workers=3)`` for :math:`\sigma_1, \sigma_2, \sigma_3`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import sympy as sp
import torch

from theorykit.distributions import SymmetricLaw
from theorykit.distributions import make as make_law
from theorykit.distributions import nice_number as _nice
from theorykit.distributions.gaussian import Gaussian as GaussianLaw
from theorykit.distributions.laplace import Laplace as LaplaceLaw
from theorykit.distributions.pareto import Lomax as LomaxLaw
from theorykit.distributions.student_t import StudentT as StudentTLaw
from theorykit.errors import AssumptionError, InputError
from theorykit.registry import Registry
from theorykit.symbols import BATCH as B_SYMBOL  # the per-worker batch size, defined once

__all__ = [
    "NOISE_MODELS",
    "NOISE_REGISTRY",
    "Gaussian",
    "Laplace",
    "LawNoise",
    "NoiseModel",
    "StudentT",
    "SymmetricPareto",
    "make_noise",
]


_G = sp.Dummy("g", real=True)
_ST = sp.Dummy("s", positive=True)
_BT = sp.Dummy("B", positive=True)


# --------------------------------------------------------------------------- helpers
def _to_sym(name: str, value: Any, *, allow_zero: bool = True) -> sp.Expr:
    """A scale value as a SymPy expression (strings become positive symbols)."""
    if isinstance(value, str):
        try:
            return sp.Symbol(value, positive=True)
        except Exception:  # pragma: no cover - sympy accepts any string
            raise InputError(f"{name}: bad symbol name {value!r}") from None
    if isinstance(value, sp.Basic):
        expr = sp.sympify(value)
        if expr.is_number:
            _to_sym(name, float(expr), allow_zero=allow_zero)  # validates the domain
        return expr
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a symbol, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        op = ">=" if allow_zero else ">"
        raise InputError(f"{name} must be {op} 0, got {v:g}")
    return _nice(v)


def diag_matrix(entries: Sequence[sp.Expr]) -> sp.Matrix:
    """A diagonal SymPy matrix, built without ``sp.diag``'s per-entry overhead."""
    n = len(entries)
    m = sp.zeros(n, n)
    for j, e in enumerate(entries):
        m[j, j] = e
    return m


def _check_batch(batch: Any) -> sp.Expr:
    """Validate a batch size: a positive integer or a SymPy symbol."""
    if isinstance(batch, sp.Basic) and not batch.is_number:
        return batch
    try:
        b = float(batch)
    except (TypeError, ValueError):
        raise InputError(f"batch size B must be a positive integer, got {batch!r}") from None
    if not math.isfinite(b) or b < 1 or b != int(b):
        raise InputError(f"batch size B must be a positive integer, got {batch!r}")
    return sp.Integer(int(b))


def _check_count(name: str, value: Any) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive integer, got {value!r}") from None
    if not math.isfinite(v) or v < 1 or v != int(v):
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(v)


class _Scales:
    """Per-worker / per-coordinate scales ``s_ij`` stored as a (N0, d0) table with
    N0 in {1, N} and d0 in {1, d} (1 = broadcast)."""

    def __init__(self, name: str, value: Any, *, allow_zero: bool = True) -> None:
        self.name = name
        if isinstance(value, str | sp.Basic) or (
                not isinstance(value, Sequence | np.ndarray | torch.Tensor)
                and np.ndim(value) == 0):
            table = [[_to_sym(name, value, allow_zero=allow_zero)]]
        else:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            if isinstance(value, np.ndarray):
                value = value.tolist()
            rows = list(value)
            if not rows:
                raise InputError(f"{name}: empty sequence of scales")
            if all(np.ndim(r) == 0 or isinstance(r, str | sp.Basic) for r in rows):
                table = [[_to_sym(f"{name}[{i}]", r, allow_zero=allow_zero)]
                         for i, r in enumerate(rows)]
            else:
                widths = {len(r) for r in rows}
                if len(widths) != 1:
                    raise InputError(f"{name}: ragged (N, d) array of scales")
                table = [[_to_sym(f"{name}[{i},{j}]", v, allow_zero=allow_zero)
                          for j, v in enumerate(r)] for i, r in enumerate(rows)]
        self.table: list[list[sp.Expr]] = table
        self.n0 = len(table)
        self.d0 = len(table[0])
        self.numeric = all(e.is_number for row in table for e in row)
        self._cache: dict[tuple, torch.Tensor] = {}

    @property
    def per_worker(self) -> bool:
        return self.n0 > 1

    def check(self, n_workers: int | None = None, d: int | None = None) -> None:
        if n_workers is not None and self.n0 > 1 and n_workers != self.n0:
            raise InputError(
                f"{self.name} has {self.n0} per-worker values but n_workers={n_workers}")
        if d is not None and self.d0 > 1 and d != self.d0:
            raise InputError(f"{self.name} has {self.d0} per-coordinate values but d={d}")

    def expr(self, i: int, j: int) -> sp.Expr:
        if self.n0 > 1 and not 0 <= i < self.n0:
            raise InputError(f"{self.name}: worker index {i} out of range 0..{self.n0 - 1}")
        if self.d0 > 1 and not 0 <= j < self.d0:
            raise InputError(f"{self.name}: coordinate index {j} out of range 0..{self.d0 - 1}")
        return self.table[i if self.n0 > 1 else 0][j if self.d0 > 1 else 0]

    def tensor(self, device: Any, dtype: torch.dtype) -> torch.Tensor:
        """The scales as a (N0, d0) tensor (numeric models only)."""
        if not self.numeric:
            raise InputError(
                f"{self.name} is symbolic ({self.free_symbols_text()}); sampling needs numbers")
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = torch.tensor([[float(e) for e in row] for row in self.table],
                                            dtype=dtype, device=device)
        return self._cache[key]

    def free_symbols_text(self) -> str:
        syms = sorted({s.name for row in self.table for e in row for s in e.free_symbols})
        return ", ".join(syms)

    def value(self) -> Any:
        """A JSON-able description of the scales."""
        def conv(e: sp.Expr) -> float | str:
            return float(e) if e.is_number else sp.sstr(e)
        if self.n0 == 1 and self.d0 == 1:
            return conv(self.table[0][0])
        if self.d0 == 1:
            return [conv(r[0]) for r in self.table]
        return [[conv(e) for e in r] for r in self.table]


def _numeric_float(name: str, value: Any, *, positive: bool = True) -> sp.Expr:
    """A shape parameter (nu, alpha): number > 0 or a symbol."""
    if isinstance(value, str):
        return sp.Symbol(value, positive=True)
    if isinstance(value, sp.Basic) and not value.is_number:
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    if positive and v <= 0:
        raise InputError(f"{name} must be > 0, got {v:g}")
    return _nice(v)


# --------------------------------------------------------------------------- base class
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

    scales: _Scales
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
        self.scales.check(_check_count("number of workers N", n_workers), None)

    # ------------------------------------------------------------------ sampling face
    def sample(self, replicas: int, n_workers: int, d: int, batch: int = 1,
               generator: torch.Generator | None = None, device: Any = "cpu",
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Draw the batch-level noise Z of one step, shape ``(replicas, n_workers, d)``.

        Worker ``i``, coordinate ``j``: ``Z_ij = s_ij * T_ij / sqrt(B)`` with T i.i.d. draws
        of the unit base law (Gaussian: the exact law of a batch mean; see module doc)."""
        replicas = _check_count("replicas", replicas)
        n_workers = _check_count("number of workers N", n_workers)
        d = _check_count("dimension d", d)
        b = _check_batch(batch)
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
        b = _check_batch(batch)
        d = _check_count("dimension d", d)
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
        b = _check_batch(batch)
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
        b = int(_check_batch(batch))
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


# --------------------------------------------------------------------------- Gaussian
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
            self.scales = _Scales.__new__(_Scales)
            self.scales.name = "sigma"
            self.scales.table = diag_sd
            self.scales.n0, self.scales.d0 = len(diag_sd), d
            self.scales.numeric = all(e.is_number for r in diag_sd for e in r)
            self.scales._cache = {}
        else:
            self.scales = _Scales("sigma", sigma)

    @classmethod
    def symbolic(cls, n_workers: int | None = None, name: str = "sigma") -> Gaussian:
        """Isotropic Gaussian with symbolic scale ``sigma`` (or ``sigma_1..sigma_N``)."""
        if n_workers is None:
            return cls(sigma=name)
        n = _check_count("number of workers N", n_workers)
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
            m = m.applyfunc(lambda e: _nice(float(e)) if isinstance(e, sp.Float) else e)
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
        b = _check_batch(batch)
        d = _check_count("dimension d", d)
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


# --------------------------------------------------------------------------- Student-t
class StudentT(NoiseModel):
    r"""Student-t batch noise :math:`Z_{ij} = s_{ij} T_\nu / \sqrt B` (nu = 1: Cauchy).

    The base law is :class:`theorykit.distributions.student_t.StudentT` (Bailey sampler,
    variance :math:`\nu/(\nu-2)` derived by SymPy for nu > 2, infinite for nu <= 2 -- then
    :meth:`cov` raises :class:`AssumptionError` -- and the hypergeometric sign mean)."""

    name = "student-t"
    title = "Student-t"
    reference = "Compagnoni et al., AISTATS 2025 (heavy-tailed noise, Student-t) [recalled]"
    heavy_tailed = True
    batch_convention = ("Z_ij = scale_ij * T_nu / sqrt(B): the batch-level noise is modelled "
                        "directly (a mean of t variables is not t-distributed)")

    def __init__(self, nu: Any, scale: Any = 1.0) -> None:
        self.nu = _numeric_float("Student-t nu", nu)
        self.law = StudentTLaw(nu=self.nu)
        self.scales = _Scales("scale", scale)

    @classmethod
    def symbolic(cls, n_workers: int | None = None, nu: Any = "nu",
                 name: str = "s") -> StudentT:
        """Student-t with symbolic ``nu`` and scale ``s`` (or ``s_1..s_N``)."""
        if n_workers is None:
            return cls(nu=nu, scale=name)
        n = _check_count("number of workers N", n_workers)
        return cls(nu=nu, scale=[f"{name}_{i + 1}" for i in range(n)])

    def density_at_zero(self) -> sp.Expr:
        """f_nu(0) = Γ((ν+1)/2)/(sqrt(νπ) Γ(ν/2)) (the law's density at 0)."""
        return self.law.density_at_zero()

    def latex(self) -> str:
        return rf"s_{{ij}}\, t_{{{sp.latex(self.nu)}}} / \sqrt{{B}}"


# --------------------------------------------------------------------------- Laplace
class Laplace(NoiseModel):
    r"""Laplace batch noise :math:`Z_{ij} = b_{ij} L / \sqrt B`, L standard Laplace
    (:class:`theorykit.distributions.laplace.Laplace`: density e^{-|x|}/2, variance 2,
    sign mean :math:`\operatorname{sign}(g)(1 - e^{-|z|})`, z = g√B/b)."""

    name = "laplace"
    title = "Laplace"
    reference = "standard Laplace law; sign mean derived by theorykit"

    def __init__(self, scale: Any = 1.0) -> None:
        self.law = LaplaceLaw()
        self.scales = _Scales("scale", scale)

    def latex(self) -> str:
        return r"b_{ij}\,\mathrm{Laplace}(1) / \sqrt{B}"


# --------------------------------------------------------------------------- Pareto
class SymmetricPareto(NoiseModel):
    r"""Symmetric Pareto type II (Lomax) batch noise, tail index ``alpha``:
    :math:`Z_{ij} = s_{ij} S\,P / \sqrt B` with a random sign S and
    :math:`P(P > p) = (1 + p)^{-\alpha}`, p >= 0 (no gap at the origin). The base law is
    :class:`theorykit.distributions.pareto.Lomax` (variance factor
    :math:`2/((\alpha-1)(\alpha-2))` for alpha > 2; sign mean
    :math:`\operatorname{sign}(g)\,(1 - (1 + |z|)^{-\alpha})`, z = g√B/s). Not the type I
    "pareto" law of :mod:`theorykit.distributions.pareto` (see its docstring)."""

    name = "pareto"
    title = "Symmetric Pareto (Lomax)"
    reference = "symmetric Lomax law; moments and sign mean derived by theorykit"
    heavy_tailed = True

    def __init__(self, alpha: Any, scale: Any = 1.0) -> None:
        self.alpha = _numeric_float("Pareto alpha", alpha)
        self.law = LomaxLaw(alpha=self.alpha)
        self.scales = _Scales("scale", scale)

    def latex(self) -> str:
        return rf"s_{{ij}}\,\mathrm{{Pareto_{{II}}}}({sp.latex(self.alpha)}) / \sqrt{{B}}"


# --------------------------------------------------------------------------- any law
class LawNoise(NoiseModel):
    """Batch noise ``Z_ij = s_ij T / sqrt(B)`` with T any unit law of
    :mod:`theorykit.distributions` (a registered name or a user's ``module:Object``)."""

    name = "law"
    title = "noise from a law"

    def __init__(self, law: SymmetricLaw | str, scale: Any = 1.0, **params: Any) -> None:
        self.law = make_law(law, **params) if isinstance(law, str) else law
        if self.law.scale_param is not None and self.law.scale != 1.0:
            raise InputError(f"noise {self.law.name}: give the scale as scale=..., the law "
                             "itself must have unit scale")
        self.name = self.law.name  # type: ignore[misc]
        self.title = self.law.title  # type: ignore[misc]
        self.reference = self.law.reference  # type: ignore[misc]
        self.heavy_tailed = self.law.heavy_tailed  # type: ignore[misc]
        self.scales = _Scales("scale", scale)


# --------------------------------------------------------------------------- registry
NOISE_REGISTRY: Registry[type[NoiseModel]] = Registry(
    "noise model", key=str.lower, sort=False,
    aliases={"normal": "gaussian", "t": "student-t", "studentt": "student-t",
             "student_t": "student-t", "cauchy": "student-t", "lomax": "pareto"},
    entries={"gaussian": Gaussian, "student-t": StudentT, "laplace": Laplace,
             "pareto": SymmetricPareto})
NOISE_MODELS: dict[str, type[NoiseModel]] = NOISE_REGISTRY.entries
"""Noise models by CLI name (``pareto`` is the Lomax law, kept for compatibility; any other
law of :mod:`theorykit.distributions`, or ``module:Object``, goes through :class:`LawNoise`)."""


def make_noise(name: str, **params: Any) -> NoiseModel:
    """A noise model by name: ``gaussian`` (sigma | cov), ``student-t`` (nu, scale;
    ``cauchy`` = nu 1), ``laplace`` (scale), ``pareto`` (the Lomax law: alpha, scale), or any
    other law of :mod:`theorykit.distributions` / ``module:Object`` (its shape parameters
    and ``scale``)."""
    if name.lower() == "cauchy":
        params.setdefault("nu", 1)
    key = NOISE_REGISTRY.key(name)
    if key in NOISE_MODELS:
        return NOISE_REGISTRY.make(key, **params)
    if ":" in name:
        return LawNoise(name, **params)
    from theorykit.distributions import catalog

    if key not in catalog():
        raise NOISE_REGISTRY.unknown(name, sorted(set(NOISE_MODELS) | set(catalog())))
    return LawNoise(key, **params)
