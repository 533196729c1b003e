"""The error-feedback (EF-SGD) rate as a symbolic bound with its unknown constants kept
symbolic, the step-size rule behind it, and measurements of its floor.

Source (Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023 — **abstract, read** [paper-abstract]): distributed SGD with
error feedback and a compressor in ``B3(δ)`` satisfies

.. math:: E f(\\bar x^K) - f^\\star = O\\Big(\\delta L R_0
          \\exp\\big[-\\tfrac{\\mu K}{\\delta L}\\big] + \\frac{C + \\delta D}{\\mu K}\\Big),

with ``C`` the stochastic-gradient noise (``E||g_i - ∇f_i||² <= C``), ``D = (1/n) Σ
||∇f_i(x*)||²`` and ``R_0 = ||x⁰ - x*||²`` (the abstract writes ``δL exp[...]``; the
``R_0`` factor is needed for the units and is our reading). The paper's numerical
constants were **not retrieved**: :func:`ef_bound` keeps them as symbols
``c_1 .. c_4`` (:data:`CONSTANTS`); every use must say how it instantiates them.

The step-size rule is the template of Stich (*Unified optimal analysis of the (stochastic)
gradient method*, 2019, Lemma 2 [paper-recalled]): for ``r_{k+1} <= (1 - aη) r_k - bη s_k + cη²``
with ``η <= 1/d_0``,

.. math:: \\eta = \\min\\Big\\{\\frac1{d_0}, \\frac{\\ln(\\max\\{2, a^2 r_0 K^2/c\\})}{aK}\\Big\\},

and the weighted average ``x̄^K = Σ w_k x^k/Σ w_k``, ``w_k = (1 - aη/2)^{-(k+1)}``; here
``a = μ``, ``d_0 = c_d δL`` and ``c = C + c_4 δ D`` [``docs/theory/compression_papers.md``
§1.5, paper-recalled]. With a constant step the same recursion has the fixed point
``r* = cη/a`` (*derived* by :func:`constant_step_floor`), so the floor of ``f`` is
``c_3 η (C + c_4 δ D)``: linear in ``C`` and in ``D``, and δ-free at the largest admissible
step ``η = 1/(c_d δ L)`` (the derived slopes in :func:`floor_slopes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check.stats import Estimate, mean_se
from theorykit.errors import InputError
from theorykit.symbols import DELTA_B3 as DELTA
from theorykit.symbols import ETA, MU
from theorykit.symbols import L_SMOOTH as L
from theorykit.validate import positive_float

K = sp.Symbol("K", positive=True)
"""The number of iterations K."""
NOISE = sp.Symbol("C", nonnegative=True)
HET = sp.Symbol("D", nonnegative=True)
R0 = sp.Symbol("R_0", positive=True)
C1, C2, C3, C4, CD = sp.symbols("c_1 c_2 c_3 c_4 c_d", positive=True)
CONSTANTS = (C1, C2, C3, C4, CD)
"""The unknown absolute constants (not retrieved from the paper)."""
_SYM = {"L": L, "K": K, "R0": R0}
UNIT_CONSTANTS: dict[sp.Symbol, int] = dict.fromkeys(CONSTANTS, 1)
"""The instantiation used by the claims: every constant set to 1 — the O(·) read with
unit constants. A measurement above it does not contradict the paper's O(·) (whose
constants are unknown); a measurement below it is consistent with the paper's bound for
any constants >= 1."""


@dataclass(frozen=True)
class EFBound:
    """The EF rate bound with symbolic constants."""

    expr: sp.Expr
    transient: sp.Expr
    floor: sp.Expr

    def instantiate(self, constants: Mapping[sp.Symbol, Any] | None = None) -> sp.Expr:
        """The bound with the constants substituted (default: all 1)."""
        return self.expr.subs(UNIT_CONSTANTS if constants is None else dict(constants))

    def evaluate(self, *, delta: float, L: float, mu: float, K: int, C: float, D: float,
                 R0: float, constants: Mapping[sp.Symbol, Any] | None = None) -> float:
        """A number: the bound at the given problem, compressor and horizon."""
        _check_nums(delta=delta, L=L, mu=mu, K=K, R0=R0)
        if C < 0 or D < 0:
            raise InputError(f"C and D must be >= 0, got C={C}, D={D}")
        vals = {DELTA: delta, _SYM["L"]: L, MU: mu, _SYM["K"]: K, NOISE: C, HET: D,
                _SYM["R0"]: R0}
        return float(self.instantiate(constants).subs(vals))

    def latex(self) -> str:
        return sp.latex(self.expr)


def _check_nums(**kw: float) -> None:
    """Every value finite and > 0; delta >= 1 (class B3) and mu <= L when given."""
    kw = {k: positive_float(k, v, one_message=True) for k, v in kw.items()}
    if kw.get("delta", 1) < 1:
        raise InputError(f"delta must be >= 1 (B3 class), got {kw['delta']}")
    if "mu" in kw and "L" in kw and kw["mu"] > kw["L"]:
        raise InputError(f"mu={kw['mu']} > L={kw['L']}: needs mu <= L")


def ef_bound() -> EFBound:
    """c_1 δ L R_0 exp(-μK/(c_2 δ L)) + c_3 (C + c_4 δ D)/(μ K)  [paper-abstract form]."""
    transient = C1 * DELTA * L * R0 * sp.exp(-MU * K / (C2 * DELTA * L))
    floor = C3 * (NOISE + C4 * DELTA * HET) / (MU * K)
    return EFBound(transient + floor, transient, floor)


def stich_step(K_: int, *, mu: float, d0: float, r0: float, c: float) -> float:
    """η = min{1/d_0, ln(max{2, μ² r_0 K²/c})/(μK)} (Stich 2019, Lemma 2, recalled);
    ``c = 0`` (no noise, no heterogeneity) gives 1/d_0."""
    _check_nums(K=K_, mu=mu, d0=d0, r0=r0)
    if c < 0:
        raise InputError(f"c must be >= 0, got {c}")
    if c == 0:
        return 1.0 / d0
    return min(1.0 / d0, math.log(max(2.0, mu**2 * r0 * K_**2 / c)) / (mu * K_))


def ef21_step(problem: Any, alpha: float) -> tuple[float, float]:
    """EF21's step for PL functions, γ = min{1/(L + L̃ sqrt(2β/θ)), θ/(2μ)} with
    θ = 1 - sqrt(1 - α), β = (1 - α)/(1 - sqrt(1 - α)) and L̃² = mean L_i² (Richtárik,
    Sokolov, Fatkhullin, NeurIPS 2021, Theorem 2 [paper-recalled]), for a compressor in
    B3 with α = 1/δ. ``problem`` has the attributes ``L``, ``mu`` and ``L_i`` of
    :class:`theorykit.problems.LocalQuadratics`; returns (γ, θ)."""
    if not 0 < alpha <= 1:
        raise InputError(f"alpha must be in (0, 1], got {alpha}")
    theta = 1 - math.sqrt(1 - alpha)
    beta = (1 - alpha) / theta
    lt = math.sqrt(float(np.mean(np.square(problem.L_i))))
    return min(1 / (problem.L + lt * math.sqrt(2 * beta / theta)),
               theta / (2 * problem.mu)), theta


def constant_step_floor() -> sp.Expr:
    """Derive the constant-step floor: the fixed point of r = (1 - aη) r + c η² is
    r* = cη/a; in function values the floor is c_3 η (C + c_4 δ D) (``a``, ``b`` of the
    template absorbed in c_3)."""
    r, a, c = sp.symbols("r a c", positive=True)
    fixed = sp.solve(sp.Eq(r, (1 - a * ETA) * r + c * ETA**2), r)
    if len(fixed) != 1 or sp.simplify(fixed[0] - c * ETA / a) != 0:
        raise RuntimeError(f"unexpected fixed point {fixed}")
    # in f-units: r* a/b ~ c η / b, with 1/b -> c_3 and c = C + c_4 δ D
    return C3 * (fixed[0] * a).subs(c, NOISE + C4 * DELTA * HET)


def floor_slopes() -> dict[str, sp.Expr]:
    """Log-log slopes of the floors, derived by differentiation:

    * ``C``: ∂ln F/∂ln C at D = 0 (constant step)  -> 1
    * ``D``: ∂ln F/∂ln D at C = 0 (constant step)  -> 1
    * ``delta_at_cap``: ∂ln F/∂ln δ at C = 0 with η = 1/(c_d δ L)  -> 0
    * ``delta_fixed_eta``: ∂ln F/∂ln δ at C = 0, fixed η  -> 1 (an upper-bound trend)
    * ``K``: ∂ln(floor of :func:`ef_bound`)/∂ln K  -> -1
    """
    F = constant_step_floor()
    out = {
        "C": sp.simplify((NOISE * sp.diff(sp.log(F), NOISE)).subs(HET, 0)),
        "D": sp.simplify((HET * sp.diff(sp.log(F), HET)).subs(NOISE, 0)),
        "delta_fixed_eta": sp.simplify((DELTA * sp.diff(sp.log(F), DELTA)).subs(NOISE, 0)),
    }
    Fcap = F.subs(ETA, 1 / (CD * DELTA * L))
    out["delta_at_cap"] = sp.simplify((DELTA * sp.diff(sp.log(Fcap), DELTA)).subs(NOISE, 0))
    fb = ef_bound().floor
    out["K"] = sp.simplify(K * sp.diff(sp.log(fb), K))
    return out


# --------------------------------------------------------------------------- measurements
def measure_floor(*, n: int, d: int, k: int | None, C: float, D: float, eta: float,
                  window: int, replicas: int, seed: int, burn: int | None = None,
                  mu: float = 1.0, L: float = 10.0, problem_seed: int = 1,
                  compressor: str = "topk", params: Mapping[str, Any] | None = None,
                  x0_scale: float | None = None) -> Estimate:
    """Stationary mean of f(x^k) - f* of EF with ``compressor(k)`` at a constant step on
    :meth:`LocalQuadratics.random` (x* = 0, heterogeneity ``D``) with gradient noise ``C``:
    each replica's time average over the ``window`` steps after ``burn`` (default
    ``ceil(6/(μη))``, i.e. e⁻⁶ of the slowest mode's transient left), then mean ± SE over
    the independent replicas. x⁰ ~ N(0, (s/d) I) with ``s = x0_scale`` (default C + D).
    ``params`` are the compressor's parameters (default ``{"k": k}``)."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import EF, run
    from theorykit.problems import LocalQuadratics

    if burn is None:
        burn = math.ceil(6 / (mu * eta))
    if burn < 0 or window < 1:
        raise InputError(f"need burn >= 0 and window >= 1, got burn={burn}, window={window}")
    steps = burn + window
    p = LocalQuadratics.random(n, d, mu=mu, L=L, heterogeneity=D, seed=problem_seed)
    g = torch.Generator().manual_seed(seed)
    scale = C + D if x0_scale is None else x0_scale
    x0 = torch.randn(replicas, d, generator=g, dtype=torch.float64) * math.sqrt(scale / d)
    spec = make(compressor, **(dict(params) if params is not None else {"k": k}))
    r = run(EF(spec), p, x0=x0, eta=eta, steps=steps, replicas=replicas,
            noise=C, generator=g)
    if r.diverged_at is not None:
        return Estimate(math.inf, math.inf, replicas)
    return mean_se(np.asarray(r.gap[:, burn + 1:].mean(1)))


# --------------------------------------------------------------------------- exact floor
def ef_floor_exact(problem: Any, *, p: float, eta: float, C: float, ef: bool = True,
                   tol: float = 1e-13, max_iter: int = 200_000) -> float:
    """The stationary E f(x) - f* of EF with Bernoulli sparsification ``C(v)_j = m_j v_j``,
    ``m_j ~ Bernoulli(p)`` i.i.d. (the catalog's ``biased_bernoulli``, ``B3(1/p)``), at the
    constant step ``eta``, on :class:`~theorykit.problems.LocalQuadratics` with
    gradient noise ``ξ_i ~ N(0, (C/d) I)`` — computed *exactly* from the first- and
    second-moment recursion of the state ``s = (x, e_1, …, e_n)`` (derived here; no Monte
    Carlo). ``ef=False``: the same compressor without memory (``e ≡ 0``, DCGD-SGD).

    Derivation. With ``z = (x, v_1, …, v_n)``, ``v_i = e_i + η(A_i x - b_i + ξ_i)`` the
    pre-compression vectors, ``z = P s + c + ηΞ`` (``P``, ``c`` affine, ``Ξ`` the noise),
    and ``s⁺ = M z`` with ``x⁺ = x - (1/n) Σ m_i∘v_i``, ``e_i⁺ = (1 - m_i)∘v_i``. ``M`` is
    affine in the independent masks: ``M = M̄ + Σ_{i,a} (m_{ia} - p) u_{ia} w_{ia}ᵀ`` with
    ``w_{ia}`` selecting ``v_{i,a}`` and ``u_{ia} = -(1/n) e_{x,a} - e_{e_i,a}``, so
    ``E s⁺ = M̄ E z`` and ``E s⁺s⁺ᵀ = M̄ Q M̄ᵀ + p(1-p) Σ_{ia} Q_{(ia),(ia)} u_{ia}u_{ia}ᵀ``
    with ``Q = E zzᵀ`` — a linear map on the second moment, iterated to its fixed point.
    The float32 wire rounding of the codec (relative 2⁻²⁴) is not modelled."""
    if not 0 < p <= 1:
        raise InputError(f"p must be in (0, 1], got {p}")
    if eta <= 0 or C < 0:
        raise InputError(f"need eta > 0 and C >= 0, got eta={eta}, C={C}")
    A = problem.A.detach().cpu().numpy().astype(float)
    b = problem.b.detach().cpu().numpy().astype(float)
    n, d = b.shape
    N = (n + 1) * d
    P = np.zeros((N, N))
    P[:d, :d] = np.eye(d)
    c = np.zeros(N)
    for i in range(n):
        blk = slice((i + 1) * d, (i + 2) * d)
        P[blk, :d] = eta * A[i]
        if ef:
            P[blk, blk] = np.eye(d)
        c[blk] = -eta * b[i]
    Mbar = np.zeros((N, N))
    Mbar[:d, :d] = np.eye(d)
    for i in range(n):
        blk = slice((i + 1) * d, (i + 2) * d)
        Mbar[:d, blk] = -(p / n) * np.eye(d)
        Mbar[blk, blk] = (1 - p) * np.eye(d)
    noise = np.zeros(N)
    noise[d:] = eta**2 * C / d
    T = Mbar @ P
    m = np.zeros(N)
    S = np.zeros((N, N))
    x_star = problem.x_star.detach().cpu().numpy().astype(float)
    Abar = A.mean(0)
    idx_x = np.tile(np.arange(d), n)
    idx_e = np.arange(d, N)
    prev = math.inf
    for it in range(max_iter):
        Pm = P @ m
        Q = P @ S @ P.T + np.outer(Pm, c) + np.outer(c, Pm) + np.outer(c, c) + np.diag(noise)
        q = np.diag(Q)[d:] * p * (1 - p)
        S_new = Mbar @ Q @ Mbar.T
        np.add.at(S_new, (idx_x, idx_x), q / n**2)
        np.add.at(S_new, (idx_x, idx_e), q / n)
        np.add.at(S_new, (idx_e, idx_x), q / n)
        S_new[idx_e, idx_e] += q
        m = T @ m + Mbar @ c
        S = S_new
        if not np.all(np.isfinite(S)):
            return math.inf
        Sx = S[:d, :d] - np.outer(m[:d], x_star) - np.outer(x_star, m[:d]) + \
            np.outer(x_star, x_star)
        val = 0.5 * float(np.sum(Abar * Sx))
        if it > 10 and abs(val - prev) <= tol * max(abs(val), 1e-300):
            return val
        if val > 1e150:
            return math.inf
        prev = val
    raise RuntimeError(f"the moment recursion did not converge in {max_iter} iterations")
