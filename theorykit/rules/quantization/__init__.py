r"""Optimal truncated (non-)uniform quantization of symmetric gradient densities.

Model (digest ``docs/theory/compression_papers.md`` §2.0, *derived*; it reproduces the
published TNQSGD constant exactly). A gradient coordinate ``g`` with symmetric density ``p``
is truncated,
:math:`T_\alpha(g) = \operatorname{clip}(g, -\alpha, \alpha)` (the definition of TUQSGD/TNQSGD,
Yan et al., arXiv 2402.01798, *read* on a review page), then stochastically rounded to one
of the ``s + 1`` levels :math:`-\alpha = \ell_0 < \dots < \ell_s = \alpha` (``s``
intervals; unbiased for :math:`T_\alpha(g)`; conditional variance
:math:`(g - \ell_j)(\ell_{j+1} - g) \le \Delta_j^2/4`). The per-coordinate error is

.. math::
    E(\alpha, \lambda) = B(\alpha) + c_Q \int_{-\alpha}^{\alpha} \frac{p(g)}{\lambda(g)^2}\,dg,
    \qquad B(\alpha) = E\big[(|g| - \alpha)^2\, 1\{|g| > \alpha\}\big],

with a level density :math:`\lambda \ge 0`, :math:`\int\lambda = s` (spacing
:math:`\Delta \approx 1/\lambda`). The constant :math:`c_Q` stays symbolic
(:data:`CQ`) and takes one of two values:

* :data:`C_Q_WORST` = 1/4: the worst case of one cell, :math:`(g-\ell_j)(\ell_{j+1}-g) \le
  \Delta_j^2/4`. For **uniform** levels the formula with 1/4 is an exact upper bound of the
  codec's quantization variance; it is the constant of the published TNQSGD result
  (Yan et al., arXiv 2402.01160, E_TQ = 27 d γ²/(N (s + 3√6/2)²), *read* on a summary page)
  and therefore the **default** of :func:`optimize`.
* :data:`C_Q_HIGH_RES` = 1/6: the average of :math:`(g-\ell_j)(\ell_{j+1}-g)` over a cell when
  ``p`` is locally flat (the high-resolution regime, ``s`` large). The real codec's variance
  is close to this value, so MC errors sit near the 1/6 formula, below the 1/4 one.

The exact MSE of the real codec for given levels is :func:`codec_mse` (numeric
integration, no high-resolution approximation); claims compare Monte Carlo against it.

Derivations carried out here (all *derived* by SymPy; closed forms match digest §2.1-2.2):

* :func:`optimal_level_density`: pointwise Lagrangian of
  :math:`c_Q p/\lambda^2 + \mu\lambda` gives :math:`\lambda^* = s\,p^{1/3}/\int p^{1/3}` and
  the minimum :math:`c_Q (\int_{-\alpha}^{\alpha} p^{1/3})^3 / s^2`.
* :func:`cubic_tradeoff`: :math:`E(y) = A y^3 + K (1-y)^3` has
  :math:`y^* = \sqrt K/(\sqrt A + \sqrt K)`, :math:`E^* = AK/(\sqrt A + \sqrt K)^2`.
* Non-uniform closed form whenever :math:`B(\alpha) = A\,y(\alpha)^3` with
  :math:`y = 1 - J(\alpha)/J(\infty)`, :math:`J(\alpha) = \int_{-\alpha}^{\alpha} p^{1/3}`
  (detected automatically; true for Laplace and Pareto): Laplace gives
  :math:`\alpha^* = 3\gamma\ln(1 + s\sqrt6/9)`,
  :math:`E^* = 27\gamma^2/(s + 3\sqrt6/2)^2` at :math:`c_Q = 1/4`.
* Uniform closed form from ``solve(dE/dα = 0)`` where SymPy finds one: Laplace
  :math:`\alpha^* = \gamma W(s^2/(4 c_Q))` (Lambert W), Pareto a power law.
* Otherwise (Gaussian, Student-t, user densities) ``nsolve`` on :math:`dE/d\alpha` or a
  bounded scalar minimisation; the bi-scaled scheme by ``scipy.optimize``.

Uniform objective (``mass`` switch of :func:`optimize`): ``"bound"`` (default) uses
:math:`c_Q (2\alpha/s)^2`, i.e. :math:`P(|g| \le \alpha) \le 1` -- the TUQSGD-style bound of
the digest with the Lambert-W / power-law closed forms; ``"exact"`` keeps
:math:`c_Q (2\alpha/s)^2 P(|g|\le\alpha)` (the clipped mass sits on the levels ±α and has
no rounding variance).

Bits: :math:`\lceil \log_2(s+1) \rceil` per coordinate plus 32 for α per message;
``bits = b`` means ``s = 2^b - 1``.

The package has one module per job: :mod:`.densities` (the densities), :mod:`.bits`,
:mod:`.symbolic` (SymPy pieces of the error model), :mod:`.numeric` (their numeric faces and
the scalar minimiser), :mod:`.closed_form`, :mod:`.scalar` (uniform / non-uniform optimum
and levels), :mod:`.biscaled`, :mod:`.optimum` (:func:`optimize`, the exact-MSE threshold),
:mod:`.result` (:class:`QuantizerOptimum`) and :mod:`.codec` (:func:`codec_mse`). Everything
public is re-exported here, so ``from theorykit.rules.quantization import X`` keeps working.
The symbols :data:`G`, :data:`ALPHA`, :data:`S` and :data:`CQ` are those of
:mod:`theorykit.symbols` (``GRAD_COORD``, ``TRUNCATION``, ``LEVELS``, ``C_Q``).
"""

from theorykit.rules.quantization.bits import bits_per_coordinate, levels_for_bits
from theorykit.rules.quantization.codec import codec_mse
from theorykit.rules.quantization.densities import DENSITIES, Density, density
from theorykit.rules.quantization.numeric import _numeric_pieces as _numeric_pieces
from theorykit.rules.quantization.numeric import _objective_std as _objective_std
from theorykit.rules.quantization.optimum import exact_optimal_threshold, optimize
from theorykit.rules.quantization.result import QuantizerOptimum
from theorykit.rules.quantization.scalar import nonuniform_levels
from theorykit.rules.quantization.symbolic import (
    C_Q_HIGH_RES,
    C_Q_WORST,
    cubic_tradeoff,
    nonuniform_error,
    optimal_level_density,
    p13_integral,
    quantization_variance,
    truncation_bias,
    uniform_error,
)
from theorykit.symbols import C_Q as CQ
from theorykit.symbols import GRAD_COORD as G
from theorykit.symbols import LEVELS as S
from theorykit.symbols import TRUNCATION as ALPHA

__all__ = [
    "ALPHA",
    "CQ",
    "C_Q_HIGH_RES",
    "C_Q_WORST",
    "DENSITIES",
    "Density",
    "G",
    "QuantizerOptimum",
    "S",
    "bits_per_coordinate",
    "codec_mse",
    "cubic_tradeoff",
    "density",
    "exact_optimal_threshold",
    "levels_for_bits",
    "nonuniform_error",
    "nonuniform_levels",
    "optimal_level_density",
    "optimize",
    "p13_integral",
    "quantization_variance",
    "truncation_bias",
    "uniform_error",
]
