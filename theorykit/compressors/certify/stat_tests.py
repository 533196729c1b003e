"""The certifier's statistical tests: per-draw statistics, the linear test of a class
inequality, the unbiasedness test, Cochran's rule and the implied constant.

Decision rules (stated in full in :mod:`theorykit.compressors.certify`) [derived]: a linear
inequality ``sum_s c_s E[stat_s] (<= | >=) rhs`` is rejected when its violation exceeds
``z SE + float_rtol scale``; unbiasedness ``E C(x) = x`` by the Satterthwaite–Welch
approximation of ``n ||mean Y||^2``; a rejection of a randomized compressor is trusted only
where Cochran's rule ``n >= 25 G1^2`` holds. Class definitions: Beznosikov, Horváth,
Richtárik & Safaryan, JMLR 24(276), 2023, Defs. 1–3 (recalled).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check.claim import Status
from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.classes import CompressorClass, Inequality

__all__ = [
    "ALPHA", "CONFIRM_FACTOR", "CONFIRM_MAX", "FLOAT_RTOL", "MAX_REL_SE", "STATISTICS",
    "NumericTest", "cochran_ok", "implied_constant", "linear_test", "sample_stats",
    "unbiased_test",
]

STATISTICS = ("err", "sq", "inner")
"""The normalised statistics, in the column order of :func:`sample_stats`."""
ALPHA = 0.0027
"""Family-wise level of the Bonferroni-corrected tests."""
FLOAT_RTOL = 1e-5
"""Floating-point allowance relative to the scale of the terms."""
MAX_REL_SE = 0.5
"""A test whose SE exceeds this fraction of its scale is inconclusive."""
CONFIRM_FACTOR = 20
"""How many times more fresh draws confirm a first-stage rejection."""
CONFIRM_MAX = 50_000
"""At most this many confirmation draws (unless the first stage had more)."""


@dataclass
class NumericTest:
    """One claimed class inequality at one dimension, with float coefficients: ``key``
    (``"B1.beta"``), the membership and its symbolic inequality, ``coeffs`` of the
    statistics, ``rhs`` and the constant's formula (for the report)."""

    key: str
    cls: CompressorClass
    ineq: Inequality
    coeffs: dict[str, float]
    rhs: float
    formula: str


@functools.lru_cache(maxsize=256)
def _implied_solver(cls_type: type[CompressorClass], label: str, others: tuple[str, ...]):
    """Symbolic solve of the inequality ``label`` of ``cls_type`` at equality for its
    constant ``label``; returns lambdified (value, gradient wrt means, d slack/d constant)
    as functions of (means..., other constants...), or ``None``."""
    t = sp.Symbol("t_", positive=True)
    ms = sp.symbols("m_err m_sq m_inner", real=True)
    oth = sp.symbols([f"o_{o}" for o in others], positive=True) if others else []
    try:
        trial = cls_type(**{label: t, **dict(zip(others, oth, strict=True))})
        ineq = next(q for q in trial.inequalities() if q.label == label)
    except (StopIteration, TypeError):
        return None
    lhs = sum((sp.sympify(ineq.coeffs.get(s, 0)) * m for s, m in zip(STATISTICS, ms,
                                                                       strict=True)),
              sp.Integer(0))
    f = lhs - sp.sympify(ineq.rhs)
    slack = -f if ineq.sense == "le" else f
    try:
        sols = sp.solve(sp.Eq(f, 0), t)
    except NotImplementedError:
        return None
    if len(sols) != 1:
        return None
    sol = sols[0]
    args = [*ms, *oth]
    value = sp.lambdify(args, sol, "math")
    grad = [sp.lambdify(args, sp.diff(sol, m), "math") for m in ms]
    dslack = sp.lambdify([*args, t], sp.diff(slack, t), "math")
    return value, grad, dslack


def implied_constant(test: NumericTest, means: np.ndarray, cov_means: np.ndarray
             ) -> tuple[float | None, float | None, float | None]:
    """Implied constant, its SE and the tightness at one input (None if not solvable)."""
    consts = test.cls.constants()
    label = test.ineq.label
    if label not in consts:
        return None, None, None
    others = tuple(sorted(k for k in consts if k != label))
    solver = _implied_solver(type(test.cls), label, others)
    if solver is None:
        return None, None, None
    value, grad, dslack = solver
    try:
        oth = [float(consts[o]) for o in others]
        claimed = float(consts[label])
        args = [*map(float, means), *oth]
        v = float(value(*args))
        g = np.array([float(gf(*args)) for gf in grad])
        se = float(math.sqrt(max(float(np.einsum("i,ij,j->", g, cov_means, g)), 0.0)))
        upper = float(dslack(*args, claimed)) > 0
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None, None, None
    if claimed == 0:
        return v, se, None  # tightness undefined for a zero constant (e.g. omega = 0)
    if not math.isfinite(v) or v < 0:
        # no positive constant makes the inequality hold with equality: e.g. err > 1
        # leaves no finite delta; the bound is exceeded at any value of the constant
        return v if math.isfinite(v) else None, se, math.inf
    if upper:
        return v, se, v / claimed
    return v, se, claimed / v if v > 0 else math.inf


def sample_stats(spec: CompressorSpec, x: torch.Tensor, n: int, seed: int
                  ) -> tuple[np.ndarray, torch.Tensor | None, str]:
    """Per-draw (err, sq, inner) as an (n, 3) array, the normalised deviations
    ``(C - x)/||x||`` as (n, d), and an error note ('' if fine)."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    X = x.expand(n, -1).clone()
    try:
        with torch.no_grad():
            C = spec.apply(X, gen)
    except Exception as exc:  # a failing compressor is reported, not raised
        return np.full((n, 3), np.nan), None, f"apply failed: {type(exc).__name__}: {exc}"
    if tuple(C.shape) != tuple(X.shape):
        return (np.full((n, 3), np.nan), None,
                f"apply returned shape {tuple(C.shape)}, expected {tuple(X.shape)}")
    C = C.to(torch.float64)
    nx = torch.dot(x, x)
    # normalise first so that tiny (1e-20) and huge (1e15) inputs stay in range
    scale = torch.sqrt(nx)
    xn = x / scale
    Cn = C / scale
    Y = Cn - xn
    err = (Y * Y).sum(-1)
    sq = (Cn * Cn).sum(-1)
    inner = (Cn * xn).sum(-1)
    stats = torch.stack([err, sq, inner], dim=1).cpu().numpy()
    return stats, Y, ""


def cochran_ok(samples: np.ndarray) -> tuple[bool, str]:
    """Cochran's rule for the normal approximation of a mean: n >= 25 G1^2."""
    n = samples.shape[0]
    sd = samples.std(ddof=1)
    if sd == 0 or not math.isfinite(sd):
        return True, f"all {n} draws give the same value"
    g1 = float(np.mean(((samples - samples.mean()) / samples.std()) ** 3))
    need = 25 * g1 * g1
    if n >= need:
        return True, ""
    return False, f"normal approximation doubtful: skewness {g1:.3g} needs n >= {need:.0f}"


def linear_test(test: NumericTest, stats: np.ndarray, z: float, float_rtol: float,
                 max_rel_se: float) -> dict[str, Any]:
    c = np.array([test.coeffs.get(s, 0.0) for s in STATISTICS])
    finite = bool(np.isfinite(stats).all())
    L = np.einsum("ns,s->n", stats, c)
    n = L.shape[0]
    mean = float(L.mean()) if finite else math.nan
    se = float(L.std(ddof=1) / math.sqrt(n)) if finite else math.nan
    means = stats.mean(0)
    scale = abs(test.rhs) + float(np.abs(c * means).sum()) if finite else math.nan
    violation = mean - test.rhs if test.ineq.sense == "le" else test.rhs - mean
    threshold = z * se + float_rtol * scale
    if not finite:
        status = Status.INCONCLUSIVE
        note = "non-finite values among the draws"
    elif violation > threshold:
        status = Status.CONTRADICTED
        note = ""
    elif se > max_rel_se * scale:
        status = Status.INCONCLUSIVE
        note = f"SE {se:.3g} > {max_rel_se:g}·scale {scale:.3g}"
    else:
        status = Status.HOLDS
        note = ""
    return {"mean": mean, "se": se, "violation": violation, "threshold": threshold,
            "status": status, "note": note, "L": L, "means": means, "stats": stats,
            "scale": scale}


def unbiased_test(stats: np.ndarray, Y: torch.Tensor | None, n_tests: int, alpha: float,
                   float_rtol: float) -> dict[str, Any]:
    from scipy.stats import chi2

    n = stats.shape[0]
    if Y is None or not bool(torch.isfinite(Y).all()):
        return {"mean": math.nan, "se": math.nan, "violation": math.nan, "threshold": math.nan,
                "status": Status.INCONCLUSIVE, "note": "non-finite values among the draws",
                "proj": None, "p": math.nan}
    Ynp = Y.cpu().numpy()
    ybar = Ynp.mean(0)
    Yc = Ynp - ybar
    # tr S and tr S^2 from the smaller Gram matrix (einsum: no BLAS threads, which are
    # very slow for these small products on a loaded machine)
    if n <= Ynp.shape[1]:
        G = np.einsum("ni,mi->nm", Yc, Yc) / (n - 1)
    else:
        G = np.einsum("ni,nj->ij", Yc, Yc) / (n - 1)
    tr = float(np.trace(G))
    tr2 = float((G * G).sum())
    b2 = float(np.einsum("i,i->", ybar, ybar))
    T = n * b2
    bias = b2 - tr / n  # unbiased estimate of ||E C - x||^2 / ||x||^2
    # Var ||mean Y||^2 ≈ 4 b' S b / n + 2 tr(S^2) / n^2 (b = E Y; the second term alone
    # under H0)
    yb = np.einsum("ni,i->n", Yc, ybar)
    bsb = float(np.einsum("n,n->", yb, yb)) / (n - 1)
    se = math.sqrt(max(4 * bsb / n + 2 * tr2 / n**2, 0.0))
    ftol = float_rtol * (1 + math.sqrt(max(float(stats[:, 1].mean()), 0.0)))
    level = alpha / max(n_tests, 1)
    if tr2 <= 0 or tr <= 0:
        p = 0.0 if math.sqrt(b2) > ftol else 1.0
    else:
        g = tr2 / tr
        nu = tr * tr / tr2
        p = float(chi2.sf(T / g, nu))
    rejected = p < level and math.sqrt(b2) > ftol
    proj = np.einsum("ni,i->n", Ynp, ybar / math.sqrt(b2)) if b2 > 0 else None
    return {"mean": bias, "se": se, "violation": math.sqrt(b2), "threshold": ftol,
            "status": Status.of(not rejected),
            "note": f"T={T:.4g}, p={p:.3g} vs level {level:.3g}", "proj": proj, "p": p}

