"""Statistics behind verdicts: means with standard errors, agreement and bound tests,
log-log slopes. Every helper returns the numbers *and* a sentence saying how the
tolerance follows from the standard error, so a verdict never carries a bare threshold.

Convention: a two-sided agreement test passes when |measured - predicted| <= z * SE +
model_tol, where ``z`` defaults to 3 (a 0.27% false-alarm rate per check under normality)
and ``model_tol`` is a *declared* systematic allowance (e.g. the O(eta) weak error of an
SDE), stated in the verdict. Nothing is tuned to pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theorykit.check.claim import Status, Verdict

Z_DEFAULT = 3.0


@dataclass(frozen=True)
class Estimate:
    """A sample mean with its standard error and sample size."""

    mean: float
    se: float
    n: int

    def interval(self, z: float = Z_DEFAULT) -> tuple[float, float]:
        return (self.mean - z * self.se, self.mean + z * self.se)

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        return f"{self.mean:{spec}} ± {self.se:{spec}}"


def mean_se(samples: np.ndarray | list[float], axis: int = 0) -> Estimate:
    """Mean and standard error of i.i.d. samples (NaN-free input required)."""
    a = np.asarray(samples, dtype=float)
    n = a.shape[axis]
    if n < 2:
        raise ValueError("need at least 2 samples for a standard error")
    return Estimate(float(a.mean(axis=axis)), float(a.std(axis=axis, ddof=1) / math.sqrt(n)), n)


def ratio_se(num: Estimate, den: Estimate, cov: float = 0.0) -> Estimate:
    """Delta-method estimate of num/den (independent unless ``cov`` is given)."""
    r = num.mean / den.mean
    var = (num.se / den.mean) ** 2 + (r * den.se / den.mean) ** 2 - 2 * r * cov / den.mean**2
    return Estimate(r, math.sqrt(max(var, 0.0)), min(num.n, den.n))


def agree(
    claim_id: str,
    predicted: float,
    measured: Estimate,
    *,
    z: float = Z_DEFAULT,
    model_tol: float = 0.0,
    model_tol_reason: str = "",
    seed: int | None = None,
    max_rel_se: float | None = 0.5,
    details: dict | None = None,
) -> Verdict:
    """Two-sided: holds iff |measured - predicted| <= z*SE + model_tol.

    Inconclusive when the measurement is too noisy to decide (SE > ``max_rel_se`` *
    |predicted|) or not finite."""
    diff = measured.mean - predicted
    tol = z * measured.se + model_tol
    tol_txt = f"|meas - pred| <= {z:g}·SE + model_tol = {z:g}·{measured.se:.3g} + {model_tol:.3g}"
    if model_tol_reason:
        tol_txt += f" ({model_tol_reason})"
    too_noisy = (max_rel_se is not None and predicted != 0
                 and measured.se > max_rel_se * abs(predicted))
    if not math.isfinite(measured.mean) or not math.isfinite(measured.se) or too_noisy:
        status = Status.INCONCLUSIVE
    else:
        status = Status.of(abs(diff) <= tol)
    return _test_verdict(claim_id, status, predicted, measured, z, tol_txt, seed,
                         {"diff": diff, "z": z, "model_tol": model_tol}, details)


def at_most(
    claim_id: str,
    bound: float,
    measured: Estimate,
    *,
    z: float = Z_DEFAULT,
    seed: int | None = None,
    details: dict | None = None,
) -> Verdict:
    """One-sided: holds unless measured exceeds ``bound`` by more than z*SE.
    Reports the tightness ratio measured/bound."""
    excess = measured.mean - bound
    status = Status.of(excess <= z * measured.se)
    if not math.isfinite(measured.mean) or not math.isfinite(measured.se):
        status = Status.INCONCLUSIVE
    tight = measured.mean / bound if bound not in (0, 0.0) else float("nan")
    return _test_verdict(claim_id, status, bound, measured, z,
                         f"measured <= bound + {z:g}·SE (SE={measured.se:.3g})", seed,
                         {"tightness": tight}, details)


def _test_verdict(claim_id: str, status: Status, predicted: float, measured: Estimate,
                  z: float, tolerance: str, seed: int | None, test: dict,
                  details: dict | None) -> Verdict:
    """The verdict of a test of ``measured`` against ``predicted``: the measured mean with
    its z·SE interval; details are the SE, the test's own numbers, then ``details``."""
    return Verdict(
        claim_id=claim_id,
        status=status,
        predicted=float(predicted),
        measured=float(measured.mean),
        interval=measured.interval(z),
        tolerance=tolerance,
        sample_size=measured.n,
        seed=seed,
        details={"se": measured.se, **test, **(details or {})},
    )


@dataclass(frozen=True)
class Slope:
    """Least-squares slope of log(y) against log(x) with its standard error."""

    slope: float
    se: float
    intercept: float
    n: int


def loglog_slope(x: np.ndarray, y: np.ndarray, y_se: np.ndarray | None = None) -> Slope:
    """Weighted least squares fit of log y = a + b log x. If ``y_se`` is given the weights
    are 1/Var(log y) = (y/SE)^2 and the slope SE is from the weights (not from the
    residuals), so it reflects the Monte Carlo error; else ordinary LS with residual SE."""
    lx = np.log(np.asarray(x, float))
    ly = np.log(np.asarray(y, float))
    n = lx.size
    if y_se is not None:
        w = (np.asarray(y, float) / np.asarray(y_se, float)) ** 2
        W = np.sum(w)
        xm = np.sum(w * lx) / W
        ym = np.sum(w * ly) / W
        sxx = np.sum(w * (lx - xm) ** 2)
        b = float(np.sum(w * (lx - xm) * (ly - ym)) / sxx)
        se = float(math.sqrt(1.0 / sxx))
        a = float(ym - b * xm)
    else:
        A = np.vstack([np.ones_like(lx), lx]).T
        coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
        a, b = float(coef[0]), float(coef[1])
        resid = ly - A @ coef
        dof = max(n - 2, 1)
        s2 = float(resid @ resid) / dof
        se = float(math.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    return Slope(b, se, a, n)


def bonferroni_z(n_tests: int, alpha: float = 0.0027) -> float:
    """Two-sided z for a family of ``n_tests`` checks at family-wise level ``alpha``."""
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / (2 * max(n_tests, 1))))
