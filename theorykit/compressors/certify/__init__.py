"""Monte Carlo certifier: the empirical face of a :class:`CompressorSpec`.

For every claimed class membership (:mod:`theorykit.compressors.classes`, definitions of
Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023, Defs. 1–3 [recalled]) the certifier estimates, over a suite
of random and adversarial inputs ``x`` (:func:`input_suite`), the normalised statistics

    err   = ||C(x) - x||^2 / ||x||^2,   sq = ||C(x)||^2 / ||x||^2,
    inner = <C(x), x> / ||x||^2

from ``n`` independent draws of ``C(x)`` (one batched call ``spec.apply(X)`` with ``x``
repeated along a leading dimension, in float64) and tests every class inequality
``sum_s c_s E[stat_s] (<= | >=) rhs`` as the mean of the per-draw linear combination
(an unbiased estimator of the left-hand side, so the test is exact in the means).

Decision rule per (dimension, input, inequality) [derived; stated in every report]:

* ``violation`` = ``mean - rhs`` (for ``<=``) or ``rhs - mean`` (for ``>=``);
* ``threshold`` = ``z * SE + tol``, ``z = bonferroni_z(number of tests)`` at family-wise
  level ``alpha = 0.0027`` and ``tol = float_rtol * (|rhs| + sum_s |c_s| |mean_s|)``
  (``float_rtol = 1e-5``: floating-point allowance, the only tolerance of a deterministic
  compressor, whose SE is 0);
* ``violation > threshold`` -> *contradicted*, but for a randomized compressor only after
  confirmation: the input is re-drawn with ``confirm_factor`` times more samples and
  independent randomness and the contradiction must recur there with a trustworthy normal
  approximation (Cochran's rule ``n >= 25 G1^2`` on the sample skewness ``G1``; a
  degenerate sample with SE = 0 is accepted and noted). A non-confirmed rejection is
  recorded; an untrustworthy one makes the test *inconclusive*;
* otherwise *holds*, unless some draw is not finite or ``SE > max_rel_se * scale``
  (``scale = |rhs| + sum_s |c_s| |mean_s|``, ``max_rel_se = 0.5``): *inconclusive*.

Unbiasedness (class ``U``) is tested on the vector mean: with ``Y = (C(x) - x)/||x||`` and
``T = n ||mean Y||^2``, under H0 (``E C(x) = x``) ``T ≈ sum_j lambda_j chi^2_1`` with
``lambda`` the eigenvalues of ``Cov Y``; the Satterthwaite–Welch approximation
``T ≈ g chi^2_nu`` with ``g = tr(S^2)/tr S``, ``nu = (tr S)^2 / tr(S^2)`` (``S`` the sample
covariance) gives a p-value, compared with the Bonferroni level ``alpha / n_tests``. The
reported estimate is the bias ``||E C(x) - x||^2/||x||^2`` estimated without its
``tr S / n`` offset. The same confirmation stage applies (Cochran's rule on the projection
of ``Y`` onto the apparent bias direction).

Sign-type memberships (not positively homogeneous) are checked by comparing
``E||C(2x)||^2 / 4`` with ``E||C(x)||^2`` (two-sample z test): a difference is evidence of
non-homogeneity (*holds*); no difference is *inconclusive* (never contradicted: equal
second moments do not prove homogeneity).

Tightness (optional, ``tight=``): a one-sided test cannot tell a true constant from a
looser one (``omega`` x2 passes ``E||C - x||^2 <= omega ||x||^2`` whenever ``omega`` does).
Where a constant is claimed *attained* at known inputs (rand-k's ``d/k - 1`` at every x,
natural compression's ``1/8`` at ``|x_j| = (4/3) 2^j``), the caller names them and the
certifier adds the reverse inequality there (key ``KEY.attained``) under the same rule and
Bonferroni count, so the bound is judged two-sided where it is tight.

Per constant the report gives the verdict, the worst (d, input) — a contradicted one if any,
else the one closest to the bound — the *implied constant* there (the value that makes the
inequality tight, solved symbolically from the class definition) ± its delta-method SE,
and the *tightness*: implied/claimed for a constant that relaxes the inequality as it
grows (omega, beta, delta), claimed/implied otherwise (alpha, gamma) — at most 1 when the
claim holds at that input, 1 when the bound is attained.

The modules: :mod:`~.inputs` (the input suite), :mod:`~.stat_tests` (statistics and
tests), :mod:`~.claimed` (the claimed inequalities as numbers), :mod:`~.report` (rows,
per-constant results, the report) and :mod:`~.driver` (:func:`certify`).
"""

from __future__ import annotations

from theorykit.compressors.certify.claimed import ClaimedClasses
from theorykit.compressors.certify.driver import certify
from theorykit.compressors.certify.inputs import HUGE, TINY, InputSuite, input_suite
from theorykit.compressors.certify.report import (
    ATTAINED,
    CertificationReport,
    ConstantResult,
    TestRow,
)
from theorykit.compressors.certify.stat_tests import (
    ALPHA,
    CONFIRM_FACTOR,
    CONFIRM_MAX,
    FLOAT_RTOL,
    MAX_REL_SE,
    STATISTICS,
)
from theorykit.compressors.certify.stat_tests import sample_stats as _sample_stats
from theorykit.compressors.certify.stat_tests import unbiased_test as _unbiased_test

__all__ = [
    "ALPHA",
    "ATTAINED",
    "CONFIRM_FACTOR",
    "CONFIRM_MAX",
    "FLOAT_RTOL",
    "HUGE",
    "MAX_REL_SE",
    "STATISTICS",
    "TINY",
    "CertificationReport",
    "ClaimedClasses",
    "ConstantResult",
    "InputSuite",
    "TestRow",
    "_sample_stats",
    "_unbiased_test",
    "certify",
    "input_suite",
]
