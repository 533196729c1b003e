r"""Hyperparameter scaling rules, found by SymPy from the SDE of a method.

A scaling rule says how to change the learning rate when the number of workers, the batch
size or the compression change, so that training *per sample seen* is unchanged. Write the
changes as

.. math:: \eta \to \kappa\eta,\qquad B \to \delta B,\qquad N \to \alpha N,\qquad
   \omega \to \omega' .

**Time variable.** The SDEs of :mod:`theorykit.sde` run in SDE time :math:`t = k\eta`
(k steps). After k steps :math:`s = kNB` samples have been seen, so
:math:`t = \eta s/(NB)` and, with :math:`dX = b\,dt + \sqrt\eta\,\Sigma^{1/2}dW_t`,

.. math:: dX = \underbrace{\frac{\eta}{NB}\,b}_{b_s}\,ds
   + \Big(\underbrace{\frac{\eta^2}{NB}\,\Sigma}_{\Sigma_s}\Big)^{1/2} dW_s .

Two runs see the same law of :math:`X` as a function of samples seen iff their per-sample
drift :math:`b_s` and per-sample diffusion :math:`\Sigma_s` coincide. :func:`derive_rules`
derives the SDE at :math:`(\eta, B, N, \omega)` and at :math:`(\kappa\eta, \delta B,
\alpha N, \omega')` with :func:`theorykit.sde.derive`, writes both per sample, turns
":math:`b_s' = b_s` and :math:`\Sigma_s' = \Sigma_s` for every gradient and noise scale"
into coefficient equations (rational entries: coefficients of the numerator; erf/₂F₁
entries: Taylor coefficients, the solution then re-checked on the full expressions) and
solves them with ``sympy.solve`` for the learning-rate factor κ (and, when κ alone cannot
do it, for the factors the rule has to pin, such as δ = 1).

Where exact invariance is impossible, the rule preserves *named quantities* only (the time
scale = drift per sample, the batch-noise and compression parts of the diffusion, the
stationary loss on a quadratic from :mod:`theorykit.rules.stationary`) and says which it
preserves and which it breaks, with the factor. Nothing here is typed in: the forms below
are what the solver returns (and ``tests/test_scaling.py`` re-derives them).

Results (*derived* by this module; compare docs/theory/sde_papers.md §2.3(e)):

* DSGD: :math:`\kappa = \alpha\delta` (linear scaling in the total batch NB), exact.
* DCSGD, any unbiased compressor :math:`\mathcal C \in U(\omega)`: exact only with
  :math:`\delta = 1, \omega' = \omega`, then :math:`\kappa = \alpha`. With
  :math:`\delta \ne 1` the DSGD rule :math:`\kappa = \alpha\delta` keeps the time scale,
  the batch noise and the leading-order stationary loss but multiplies the compression
  term :math:`\omega\|\nabla f\|^2` per sample by δ. Changing ω: no exact rule;
  :math:`\kappa = \alpha\delta(1+\omega)/(1+\omega')` keeps the leading-order stationary
  loss but slows the time scale by :math:`(1+\omega)/(1+\omega')`, the (1+ω) structure the
  paper's rule is recalled to have (docs/theory/sde_papers.md §2.3(e), paper-recalled). From
  ω = 0 to ω' > 0 exact matching is impossible (the multiplicative term has no counterpart).
* DSignSGD (Gaussian or Student-t noise): exact only with δ = 1, then κ = α. In the
  Phase-3 (small-gradient) linearisation :math:`\kappa = \alpha\sqrt\delta` — the
  square-root rule of the digest [derived] and, as recalled, of the paper's poster ("for
  DSignSGD it is enough to ensure that ... to preserve the performance", Compagnoni et al.,
  AISTATS 2025 [paper-recalled]); it does not depend on the tail index ν. In Phase 1 (noise
  negligible) the linear rule :math:`\kappa = \alpha\delta` holds instead.

Provenance: that such rules exist is stated in the abstract of Compagnoni, Islamov,
Proske & Lucchi, AISTATS 2025 (*read*); the SDEs are the paper's as *recalled*; every
rule's form is *derived* here.

One module per job: :mod:`.rule` (:class:`ScalingRule`, the factor symbols, :func:`per_sample`),
:mod:`.setup` (inputs resolved, SDE pair), :mod:`.conditions` (preserved quantities and their
conditions), :mod:`.build` (a solution made into a rule) and :mod:`.search`
(:func:`derive_rules`, :func:`rules_by_kind`). Everything public is re-exported here.
"""

from theorykit.rules.scaling.rule import FACTORS, TIME_VARIABLE, Kind, ScalingRule, per_sample
from theorykit.rules.scaling.search import derive_rules, rules_by_kind
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import CURVATURE as LAMBDA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA, OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA

__all__ = [
    "ALPHA",
    "DELTA",
    "FACTORS",
    "KAPPA",
    "LAMBDA",
    "OMEGA",
    "OMEGA_NEW",
    "TIME_VARIABLE",
    "Kind",
    "ScalingRule",
    "derive_rules",
    "per_sample",
    "rules_by_kind",
]
