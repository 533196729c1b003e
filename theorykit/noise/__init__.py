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
* **Heavy tails** (Student-t, Laplace, symmetric Lomax): :math:`Z_{ij} = s_{ij}\, T / \sqrt B`
  with T a standard draw of the base law. A batch mean of t variables is **not**
  t-distributed (nor Laplace/Lomax), so we do not average B samples: we model the
  batch-level noise directly as the base law and shrink its scale by
  :math:`1/\sqrt B`, which matches the variance of a batch mean whenever it is finite and
  keeps the tail index. (The source digest leaves the paper's own convention open, [?].)

Heterogeneous agents: ``sigma``/``scale`` may be a scalar (all workers, all coordinates), a
sequence of length N (one isotropic scale per worker) or an ``(N, d)`` array (per worker and
coordinate). Values may be numbers (sampling and symbolic faces) or SymPy expressions /
strings naming symbols (symbolic face only), e.g. ``Gaussian(sigma="sigma")`` or
``Gaussian.symbolic(n_workers=3)`` for :math:`\sigma_1, \sigma_2, \sigma_3`.

Layout: :mod:`~theorykit.noise.scales` (scales ``s_ij`` and shape parameters),
:mod:`~theorykit.noise.base` (:class:`NoiseModel`: both faces), :mod:`~theorykit.noise.gaussian`,
:mod:`~theorykit.noise.laws` (Student-t, Laplace, Lomax, any law) and
:mod:`~theorykit.noise.registry` (``make_noise``). Input checks: :mod:`theorykit.validate`.
"""

from __future__ import annotations

from theorykit.noise.base import B_SYMBOL, NoiseModel, check_batch, diag_matrix
from theorykit.noise.gaussian import Gaussian
from theorykit.noise.laws import Laplace, LawNoise, Lomax, StudentT
from theorykit.noise.registry import NOISE_MODELS, NOISE_REGISTRY, make_noise
from theorykit.noise.scales import shape_param

__all__ = [
    "B_SYMBOL",
    "NOISE_MODELS",
    "NOISE_REGISTRY",
    "Gaussian",
    "Laplace",
    "LawNoise",
    "Lomax",
    "NoiseModel",
    "StudentT",
    "check_batch",
    "diag_matrix",
    "make_noise",
    "shape_param",
]
