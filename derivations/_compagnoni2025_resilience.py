r"""What the resilience claims of Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025 (arXiv
2502.17009; issue 4, part B1) share: their id prefix and tags, the measured stationary floor
of a real discrete method, the Phase-3 linearisation allowance of DSignSGD's floor, and the
exact moment recursions of an Euler-type scheme (stability caps and bounds).

The claims are in :mod:`derivations.compagnoni2025_resilience` (noise and worker sweeps),
:mod:`derivations.compagnoni2025_resilience_heavy_tails` and
:mod:`derivations.compagnoni2025_resilience_stability` (stability caps and bounds). The
leading underscore keeps this module out of the claim discovery."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from theorykit.check import stats

PREFIX = "resilience"
TAGS = ("compagnoni2025_resilience", "sde", "issue4")


def stationary_floor(method: Any, prob: Any, noise: Any, *, N: int, B: int, eta: float,
                     tau: float, R: int, seed: int) -> stats.Estimate:
    """Stationary E f (per-replica time average over [4τ, 20τ], started at x* = 0)."""
    from theorykit.simulate import run_discrete

    K = max(20, round(20 * tau / eta))
    burn = round(4 * tau / eta)
    r = run_discrete(method, prob, noise, eta=eta, steps=K, replicas=R, n_workers=N, batch=B,
                     x0=0.0, seed=seed, record_every=K, stats=("loss",), average_from=burn,
                     progress=False)
    if r.diverged:
        raise RuntimeError(f"{method!r}: {r.divergence_text()}")
    return r.tail["loss"]


def sign_lin_allowance(eigs: list[float], M: Any, B: int, scale: float, nu: Any) -> float:
    """Relative Phase-3 linearisation error of the floor: the cubic term of the sign mean
    relative to the linear one is |f''(0)/f(0)| u²/6 with u = √B ∂_j f / s; at a Gaussian
    stationary spread E u⁴/E u² = 3 E u², so the drift changes by <= |f''/f| E u²/2."""
    from theorykit.rules.bounds import student_t_curvature_ratio

    curv = 1.0 if nu is None else abs(float(student_t_curvature_ratio(nu)))
    eu2 = max(float(eigs[j] ** 2 * M[j, j]) * B / scale**2 for j in range(len(eigs)))
    return curv * eu2 / 2


def moment_path(A: np.ndarray, b0: np.ndarray, m0: np.ndarray, h: float, K: int
                ) -> np.ndarray:
    """vec M after k = 0..K steps of m <- m + h (A m + b0) (exact for the scheme)."""
    out = [m0]
    m = m0
    for _ in range(K):
        m = m + h * (A @ m + b0)
        out.append(m)
    return np.array(out)


def moment_operators(st: Any, values: dict[str, float]
                     ) -> tuple[np.ndarray, np.ndarray, list]:
    """The second-moment recursion of a stationary solution ``st`` as numbers at
    ``values``: (A, b0, unknowns) with d vec M = A vec M + b0 (upper triangle of M)."""
    from theorykit.rules.bounds import _operator

    A, unk = _operator(st)
    eq = st.equation
    d = eq.shape[0]
    b0 = sp.Matrix([eq[a, b] for a in range(d) for b in range(a, d)]).xreplace(
        {u: 0 for u in unk})

    def num(e: sp.Matrix) -> np.ndarray:
        e = e.xreplace({s: values[s.name] for s in e.free_symbols if s.name in values})
        return np.array(e.evalf().tolist(), dtype=float)

    return num(A), num(b0).ravel(), unk
