r"""Dynamic compression schedules: DQ-SGD bits per step and adaptive top-k by water-filling.

**DQ-SGD** (Yan, Huang, Lan, Song, arXiv 2107.14575: the bits adapt to "the desired model
performance, the remaining number of iterations, and the gradient norm", *read* in the
abstract; the schedule below is the digest's reconstruction §2.5, *derived* here by SymPy).
A QSGD-style quantizer with ``s`` levels on :math:`|g_i|/\|g\|` has cell width
:math:`\|g\|/s` and per-coordinate variance :math:`\le (\|g\|/s)^2/4`, so
:math:`E\|Q(g)-g\|^2 \le d\|g\|^2/(4s^2)`. For an L-smooth, μ-strongly convex f and
step η, unrolling :math:`E F_{t+1} - F^* \le (1-\mu\eta)(E F_t - F^*) + \tfrac{L\eta^2}2
E\|\text{noise}\|^2` gives the quantization part of the final error

.. math:: \frac{L\eta^2 d}{8N}\sum_{t<T} w_t \frac{\|g_t\|^2}{s_t^2},\qquad
   w_t = (1-\mu\eta)^{T-1-t}.

Minimising the bits :math:`\sum_t d\log_2 s_t` under this error :math:`\le \varepsilon_Q`
by a Lagrangian (:func:`derive_dq_schedule`) gives an equal error share per step and

.. math:: s_t = \|g_t\|\,(1-\mu\eta)^{(T-1-t)/2}\sqrt{\frac{T L\eta^2 d}{8 N\varepsilon_Q}},
   \qquad b_t = 1 + \lceil\log_2 s_t\rceil.

The codec used to run it (:func:`dq_codec_levels`) needs ``s+1`` magnitude codes plus a
sign, so it charges :math:`1 + \lceil\log_2(s_t+1)\rceil` bits per coordinate (the real
QSGD payload).

**Adaptive top-k** (Ruan, Yan, Xiao, Song, Xu, arXiv 2210.13532, *read* abstract;
digest §2.4 reconstruction, *derived*): minimise :math:`\sum_t w_t e_t(k_t)` with
:math:`e_t(k) = \|g_t - \mathrm{Top}_k(g_t)\|^2` under :math:`\sum_t k_t \le K`. Each extra
coordinate lowers :math:`e_t` by the next largest :math:`g_{t,i}^2` (decreasing marginal
gains), so the exact optimum keeps every coordinate with :math:`w_t g_{t,i}^2 \ge \lambda`,
one threshold across time, λ set by the budget (:func:`waterfill`, bisection on λ).

:func:`dq_compress` turns the derived schedule into a per-step compressor hook for the
distributed-SGD run :func:`theorykit.run.quantized.run_quantized_sgd` (the run itself lives in
:mod:`theorykit.run`; this module keeps the derivations).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import DerivationError, InputError
from theorykit.run.quantized import Compress
from theorykit.symbols import DIM as D_SYM
from theorykit.symbols import ETA, MU
from theorykit.symbols import L_SMOOTH as L_SYM
from theorykit.symbols import N_WORKERS as N_SYM
from theorykit.validate import nonneg_int, positive_float, positive_int

__all__ = [
    "DQSchedule",
    "WaterFill",
    "derive_dq_schedule",
    "dq_bits",
    "dq_codec_levels",
    "dq_compress",
    "dq_error_weights",
    "dq_levels",
    "fixed_k_objective",
    "qsgd_variance_bound",
    "topk_residuals",
    "waterfill",
]

# symbols of the DQ-SGD derivation (η, μ, L, d, N are the shared ones of theorykit.symbols)
T_SYM = sp.Symbol("T", positive=True)  # the number of steps
EPS_Q = sp.Symbol("epsilon_Q", positive=True)  # the quantization error budget
T_IDX = sp.Symbol("t", integer=True, nonnegative=True)
G2 = sp.Symbol("G_t", positive=True)  # ||g_t||^2
S_T = sp.Symbol("s_t", positive=True)
W_T = sp.Symbol("w_t", positive=True)
Q_C = sp.Symbol("q", positive=True)  # the contraction factor 1 - mu*eta (in (0, 1))


# =========================================================================== DQ-SGD
def qsgd_variance_bound() -> sp.Expr:
    """E||Q(g) - g||² <= d ||g||²/(4 s²) for s levels on |g_i|/||g|| (*derived*: each
    coordinate is rounded within a cell of width ||g||/s, variance <= width²/4)."""
    width = sp.sqrt(G2) / S_T
    r = sp.Symbol("r", nonnegative=True)  # position in the cell, in widths
    cell_var = width**2 * r * (1 - r)
    worst = sp.maximum(cell_var, r, sp.Interval(0, 1))
    return sp.simplify(D_SYM * worst)


def dq_error_weights() -> sp.Expr:
    """The weight of step t's variance in the final error of strongly convex SGD,
    w_t = (1-μη)^{T-1-t} (unrolled contraction, *derived*)."""
    return (1 - MU * ETA) ** (T_SYM - 1 - T_IDX)


@dataclass(frozen=True)
class DQSchedule:
    """The derived DQ-SGD schedule: ``levels`` (s_t, with ``q`` = 1-μη, :data:`Q_C`),
    ``bits`` (b_t), ``per_step_error``
    (the equal share ε_Q/T), ``multiplier`` (ν) and the error coefficient ``c``."""

    levels: sp.Expr
    bits: sp.Expr
    per_step_error: sp.Expr
    multiplier: sp.Expr
    coefficient: sp.Expr


def derive_dq_schedule() -> DQSchedule:
    r"""Derive :math:`s_t` by a Lagrangian in SymPy (*derived*; digest §2.5).

    Per step the Lagrangian is :math:`d\log_2 s_t + \nu c\,w_t G_t/s_t^2` with
    :math:`c = \tfrac{L\eta^2}{2}\cdot\tfrac{d}{4N}` (the descent-lemma factor times the
    averaged QSGD variance bound). Its stationary point makes every step's error term equal
    to :math:`d/(2\nu\ln 2)` (no dependence on t); the constraint
    :math:`T\cdot d/(2\nu\ln2) = \varepsilon_Q` fixes ν."""
    nu = sp.Symbol("nu", positive=True)
    var_avg = qsgd_variance_bound() / N_SYM  # averaged over N independent workers
    c = sp.simplify(L_SYM * ETA**2 / 2 * var_avg / G2 * S_T**2)  # coefficient of G/s²
    term = c * W_T * G2 / S_T**2
    lagr = D_SYM * sp.log(S_T) / sp.log(2) + nu * term
    sols = [x for x in sp.solve(sp.diff(lagr, S_T), S_T) if x.is_positive is not False]
    if len(sols) != 1:
        raise DerivationError(f"DQ-SGD: expected one positive stationary point, got {sols}")
    s_nu = sols[0]
    share = sp.simplify(term.subs(S_T, s_nu))
    if share.has(W_T) or share.has(G2):
        raise DerivationError(f"DQ-SGD: per-step error share depends on the step: {share}")
    nu_star = sp.solve(sp.Eq(T_SYM * share, EPS_Q), nu)
    if len(nu_star) != 1:
        raise DerivationError(f"DQ-SGD: cannot solve the budget for nu: {nu_star}")
    s_t = sp.simplify(s_nu.subs(nu, nu_star[0]))
    # w_t = q^{T-1-t} with q = 1 - mu*eta > 0 (kept as a positive symbol so that the
    # square root splits; substitute Q_C -> 1 - MU*ETA for the explicit form)
    s_t = sp.powsimp(sp.expand_power_base(
        s_t.subs(W_T, dq_error_weights().subs(1 - MU * ETA, Q_C)), force=True), force=True)
    return DQSchedule(levels=s_t, bits=1 + sp.ceiling(sp.log(s_t, 2)),
                      per_step_error=sp.simplify(share.subs(nu, nu_star[0])),
                      multiplier=nu_star[0], coefficient=c)


def dq_levels(norms: Any, t: Any, T: int, *, mu: float, eta: float, L: float, d: int,
              n_workers: int, eps_q: float, decay_exponent: float = 1.0) -> np.ndarray:
    """Real-valued s_t of the derived schedule for gradient norms ``norms`` at steps ``t``
    (broadcast; numpy): ||g_t|| (1-μη)^{(T-1-t)/2} sqrt(T L η² d/(8 N ε_Q)).
    ``decay_exponent`` multiplies the exponent (T-1-t)/2 (1: the derived schedule; other
    values are wrong schedules, used as mutants by the claims)."""
    mu, eta, L, eps_q = (positive_float(n, v, one_message=True) for n, v in
                         (("mu", mu), ("eta", eta), ("L", L), ("eps_q", eps_q)))
    if mu * eta >= 1:
        raise InputError(f"need mu*eta < 1 for a contraction, got {mu * eta:g}")
    for n, v in (("T", T), ("d", d), ("n_workers", n_workers)):
        positive_int(n, v)
    norms = np.asarray(norms, dtype=float)
    t = np.asarray(t, dtype=float)
    return norms * (1 - mu * eta) ** (float(decay_exponent) * (T - 1 - t) / 2) * math.sqrt(
        T * L * eta**2 * d / (8 * n_workers * eps_q))


def dq_bits(s: Any) -> np.ndarray:
    """b_t = 1 + ⌈log₂ s_t⌉ (sign + magnitude; digest §2.5), s_t clipped to >= 1."""
    s = np.maximum(np.asarray(s, dtype=float), 1.0)
    return 1 + np.ceil(np.log2(s) - 1e-12).astype(int)


def dq_codec_levels(s: Any, max_bits: int = 16) -> np.ndarray:
    """The QSGD level count actually used for a real-valued s_t: the largest level count
    with the same sign+magnitude bits, s = 2^(b-1) - 1 >= s_t, where
    b = 1 + ⌈log₂(s_t + 1)⌉ (codes 0..s need ⌈log₂(s+1)⌉ bits)."""
    s = np.maximum(np.asarray(s, dtype=float), 1.0)
    b = 1 + np.ceil(np.log2(s + 1) - 1e-12).astype(int)
    b = np.minimum(b, max_bits)
    return (2 ** (b - 1) - 1).astype(int)


# =========================================================================== water-filling
def topk_residuals(grads: np.ndarray) -> np.ndarray:
    """``R[t, k] = ||g_t - Top_k(g_t)||²`` for k = 0..d (exact, from sorted squares)."""
    g2 = np.sort(np.asarray(grads, dtype=float) ** 2, axis=1)[:, ::-1]
    total = g2.sum(axis=1, keepdims=True)
    kept = np.concatenate([np.zeros((g2.shape[0], 1)), np.cumsum(g2, axis=1)], axis=1)
    return np.maximum(total - kept, 0.0)


@dataclass
class WaterFill:
    """Result of :func:`waterfill`: ``k`` per step, the threshold ``lam``, the weighted
    residual ``objective`` = Σ_t w_t ||g_t - Top_{k_t}(g_t)||² and the budget used."""

    k: np.ndarray
    lam: float
    objective: float
    used: int
    budget: int


def _check_trace(grads: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(grads, dtype=float)
    if g.ndim != 2 or g.size == 0:
        raise InputError(f"grads must be a (T, d) array, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise InputError("grads contain NaN or infinite values")
    w = np.ones(g.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (g.shape[0],) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError(f"weights must be {g.shape[0]} finite non-negative numbers")
    return g, w


def waterfill(grads: Any, weights: Any = None, budget: int = 0, *,
              iters: int = 200) -> WaterFill:
    """Exact offline optimum of Σ_t w_t e_t(k_t) s.t. Σ_t k_t <= budget: keep every
    (t, i) with w_t g_{t,i}² >= λ, λ found by bisection on the count (ties at λ filled up
    to the budget). Returns the per-step k."""
    g, w = _check_trace(grads, weights)
    T, d = g.shape
    K = min(nonneg_int("budget", budget), T * d)
    scores = w[:, None] * g**2
    lo, hi = 0.0, float(scores.max()) * (1 + 1e-12) + 1e-300
    # bisection on λ: count(λ) = #{scores >= λ} is non-increasing; want the smallest
    # λ with count(λ) <= K
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if int((scores >= mid).sum()) > K:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    lam = hi
    keep = scores >= lam
    k = keep.sum(axis=1)
    spare = K - int(k.sum())
    if spare > 0:  # ties just below λ: add the largest remaining scores
        rest = np.where(keep, -np.inf, scores).ravel()
        idx = np.argpartition(-rest, spare - 1)[:spare] if spare < rest.size else \
            np.arange(rest.size)
        idx = idx[np.isfinite(rest[idx]) & (rest[idx] > 0)]
        np.add.at(k, idx // d, 1)
    res = topk_residuals(g)
    obj = float(np.sum(w * res[np.arange(T), k]))
    return WaterFill(k=k.astype(int), lam=float(lam), objective=obj, used=int(k.sum()),
                     budget=K)


def fixed_k_objective(grads: Any, weights: Any, k: int) -> float:
    """Σ_t w_t ||g_t - Top_k(g_t)||² for the same k at every step."""
    g, w = _check_trace(grads, weights)
    k = int(k)
    if not 0 <= k <= g.shape[1]:
        raise InputError(f"k must be in [0, d={g.shape[1]}], got {k}")
    return float(np.sum(w * topk_residuals(g)[:, k]))


# =========================================================================== DQ-SGD codec hook
def dq_compress(make_spec: Callable[[int], Any], *, T: int, mu: float, eta: float, L: float,
                n_workers: int, eps_q: float, decay_exponent: float = 1.0) -> Compress:
    """DQ-SGD: every worker quantizes with s from :func:`dq_levels` at its own gradient
    norm (rounded up by :func:`dq_codec_levels`); rows with equal s share one codec call.
    ``make_spec(s)`` builds the codec (e.g. ``lambda s: make("qsgd", s=s)``);
    ``decay_exponent`` as in :func:`dq_levels`."""
    cache: dict[int, Any] = {}
    bits_cache: dict[tuple[int, int], int] = {}

    def fn(t: int, g: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        R, N, d = g.shape
        flat = g.reshape(R * N, d)
        norms = torch.linalg.vector_norm(flat, dim=1).numpy()
        s_real = dq_levels(norms, t, T, mu=mu, eta=eta, L=L, d=d, n_workers=n_workers,
                           eps_q=eps_q, decay_exponent=decay_exponent)
        s_int = dq_codec_levels(s_real)
        out = torch.empty_like(flat)
        bits = np.zeros(R * N)
        for s in np.unique(s_int):
            rows = np.nonzero(s_int == s)[0]
            if int(s) not in cache:
                cache[int(s)] = make_spec(int(s))
            spec = cache[int(s)]
            out[rows] = spec.apply(flat[rows], gen)
            if (int(s), d) not in bits_cache:
                bits_cache[(int(s), d)] = spec.numeric_bits(d)
            bits[rows] = bits_cache[(int(s), d)]
        return out.reshape(R, N, d), torch.as_tensor(bits.reshape(R, N).sum(1))

    return fn
