r"""(L0, L1)-smoothness: the checker, the Itô descent inequality for D(C)SGD, the condition
on the learning-rate schedule and the normalized DCSGD schedule it implies.

Source: Compagnoni, Islamov, Orvieto & Gorbunov, *On the Interaction of Noise, Compression
Role, and Adaptivity under (L0, L1)-Smoothness: An SDE-based Approach*, arXiv 2506.00181
(2025); digest ``docs/theory/sde_papers.md`` §3. Provenance, honestly: the
conclusions (D(C)SGD with a pre-scheduled decaying learning rate fails unless the schedule
depends inversely on the gradient norm; normalization is the fix; its *degree* is set by the
noise, the regularity and the compression rate; DSignSGD converges with standard schedules)
are in the paper's abstracts (*read*); every formula below is *derived* here by SymPy from the
SDEs of :mod:`theorykit.sde` (which are the papers' as *recalled*).

(L0, L1)-smoothness (Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1, *recalled*)
------------------------------------------------------------------------------
.. math:: \|\nabla^2 f(x)\|_2 \le L_0 + L_1 \|\nabla f(x)\|_2 .

:func:`check_l0l1` verifies it for a :class:`~theorykit.problems.Problem` symbolically when
f is separable (then the 1-D inequality :math:`|f_j''| \le L_0 + L_1|f_j'|` per coordinate
is necessary and sufficient when each :math:`f_j'` vanishes somewhere; its supremum is found
with ``sympy.solve`` on the critical points, the endpoint and the limit at infinity) and
numerically on samples (random directions on log-spaced radii plus the axes), and reports
whether f is L-smooth (symbolically: :math:`\lim_{|x_j|\to\infty}|f_j''| = \infty`;
numerically: growth of :math:`\sup\|\nabla^2 f\|` over shells).

The descent inequality (*derived*, :func:`descent_inequality`)
--------------------------------------------------------------
With a schedule :math:`\eta(t)\in(0,1]` the DCSGD SDE reads
:math:`dX = -\eta(t)\nabla f\,dt + \eta(t)\sqrt{\eta/N}\,\Sigma^{1/2}dW`
(docs/theory/sde_papers.md §3.1),
and Itô's formula (the generator, :func:`generator`) gives

.. math:: \frac{d}{dt}E f(X_t) = E\Big[-\eta(t)\|\nabla f\|^2
   + \frac{\eta\,\eta(t)^2}{2N}\operatorname{tr}(\nabla^2 f\,\Sigma)\Big].

For PSD Σ, :math:`\operatorname{tr}(H\Sigma)\le\|H\|_2\operatorname{tr}\Sigma`; with
(L0, L1)-smoothness, unbiased compressors in U(ω) and affine-variance noise
:math:`\operatorname{tr}\Sigma_i/B \le \sigma_0^2 + \sigma_1^2\|\nabla f\|^2`,
:math:`\operatorname{tr}\Sigma = \omega G^2 + (1+\omega)\operatorname{tr}\Sigma_i/B`
(G = ‖∇f‖), so

.. math:: \frac{d}{dt}E f \le E\Big[-\eta(t)G^2 + \frac{\eta\,\eta(t)^2}{2N}(L_0 + L_1G)
   \big(\omega_{\rm eff} G^2 + (1+\omega)\sigma_0^2\big)\Big],\qquad
   \omega_{\rm eff} = \omega + (1+\omega)\sigma_1^2,

whose **cubic term** :math:`\frac{\eta\,\eta(t)^2}{2N}L_1\omega_{\rm eff}G^3` no fixed
schedule dominates for large G. Keeping a fraction θ of the descent
(:math:`\frac{\eta\eta(t)^2}{2N}(L_0+L_1G)\omega_{\rm eff}G^2 \le (1-\theta)\eta(t)G^2`)
needs

.. math:: \eta(t) \le \frac{2(1-\theta)N}{\eta\,\omega_{\rm eff}(L_0 + L_1 G)}
   \;\sim\; \frac{2(1-\theta)N}{\eta L_1\omega_{\rm eff}\,G}\quad (G\to\infty),

an inverse dependence on the gradient norm. The normalized schedule
:math:`\eta(t) = \hat\eta(t)/(c_0 + c_1 G)` with :math:`\hat\eta\le1` meets it for every G
iff :math:`c_0 \ge \frac{\eta\omega_{\rm eff}L_0}{2(1-\theta)N}` and

.. math:: c_1 \ge \frac{\eta\,L_1\,\omega_{\rm eff}}{2(1-\theta)N}
   = \frac{\eta L_1(\omega + (1+\omega)\sigma_1^2)}{2(1-\theta)N},

the *degree of normalization* (:func:`degree_of_normalization`; θ = 1/2 by default).

DSignSGD (*derived*): :math:`\operatorname{Cov}[D] = \frac1{N^2}\sum_i
\operatorname{diag}(1 - m_i^2) \preceq I/N` whatever the noise, so its Itô term is at most
:math:`\frac{\eta\,\eta(t)^2}{2N}d(L_0 + L_1G)`: **linear** in G (:func:`sign_noise_bound`).

Where the parts live
--------------------
This module gathers them under one name; each is defined once in

* :mod:`theorykit.rules.l0l1_check` — the checker (:func:`check_l0l1`, :func:`smallest_l0`);
* :mod:`theorykit.rules.l0l1_descent` — the generator, the descent inequality, the degree of
  normalization and the normalized schedule (symbols :data:`SYM`, from
  :mod:`theorykit.symbols`);
* :mod:`theorykit.rules.l0l1_dynkin` — Dynkin's formula along Euler–Maruyama paths
  (:func:`dynkin_check`, a Monte Carlo check of the generator);
* :mod:`theorykit.run.guarded` — the guarded runs (:func:`guarded_run` on the one loop
  :func:`theorykit.run.loop.iterate`, with the steps :func:`discrete_step` and
  :func:`sde_step`): run machinery, not part of this module.
"""

from __future__ import annotations

from theorykit.rules.l0l1_check import L0L1Report, check_l0l1, smallest_l0
from theorykit.rules.l0l1_descent import (
    SYM,
    DescentInequality,
    dcsgd_sigma,
    degree_of_normalization,
    descent_inequality,
    generator,
    normalized_schedule,
    sign_noise_bound,
)
from theorykit.rules.l0l1_dynkin import DynkinCheck, dynkin_check

__all__ = [
    "SYM",
    "DescentInequality",
    "DynkinCheck",
    "L0L1Report",
    "check_l0l1",
    "dcsgd_sigma",
    "degree_of_normalization",
    "descent_inequality",
    "dynkin_check",
    "generator",
    "normalized_schedule",
    "sign_noise_bound",
    "smallest_l0",
]
