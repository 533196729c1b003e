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
gradient method*, 2019, Lemma 2 [recalled]): for ``r_{k+1} <= (1 - aη) r_k - bη s_k + cη²``
with ``η <= 1/d_0``,

.. math:: \\eta = \\min\\Big\\{\\frac1{d_0}, \\frac{\\ln(\\max\\{2, a^2 r_0 K^2/c\\})}{aK}\\Big\\},

and the weighted average ``x̄^K = Σ w_k x^k/Σ w_k``, ``w_k = (1 - aη/2)^{-(k+1)}``; here
``a = μ``, ``d_0 = c_d δL`` and ``c = C + c_4 δ D`` [digest §1.5, recalled]. With a constant
step the same recursion has the fixed point ``r* = cη/a`` (*derived* by
:func:`constant_step_floor`), so the floor of ``f`` is ``c_3 η (C + c_4 δ D)``: linear in
``C`` and in ``D``, and δ-free at the largest admissible step ``η = 1/(c_d δ L)`` (the
derived slopes in :func:`floor_slopes`).
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

DELTA = sp.Symbol("delta", positive=True)
L = sp.Symbol("L", positive=True)
MU = sp.Symbol("mu", positive=True)
K = sp.Symbol("K", positive=True)
ETA = sp.Symbol("eta", positive=True)
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
    for k, v in kw.items():
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise InputError(f"{k} must be a finite number > 0, got {v!r}")
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
def measure_floor(*, n: int, d: int, k: int, C: float, D: float, eta: float, window: int,
                  replicas: int, seed: int, burn: int | None = None, mu: float = 1.0,
                  L: float = 10.0, problem_seed: int = 1, compressor: str = "topk"
                  ) -> Estimate:
    """Stationary mean of f(x^k) - f* of EF with ``compressor(k)`` at a constant step on
    :meth:`LocalQuadratics.random` (x* = 0, heterogeneity ``D``) with gradient noise ``C``:
    each replica's time average over the ``window`` steps after ``burn`` (default
    ``ceil(6/(μη))``, i.e. e⁻⁶ of the slowest mode's transient left), then mean ± SE over
    the independent replicas. x⁰ ~ N(0, ((C + D)/d) I), so runs at different scales of
    (C, D) start at the matching scale (the measured floor is then exactly homogeneous)."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import EF, LocalQuadratics, run

    if burn is None:
        burn = math.ceil(6 / (mu * eta))
    if burn < 0 or window < 1:
        raise InputError(f"need burn >= 0 and window >= 1, got burn={burn}, window={window}")
    steps = burn + window
    p = LocalQuadratics.random(n, d, mu=mu, L=L, heterogeneity=D, seed=problem_seed)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(replicas, d, generator=g, dtype=torch.float64) * math.sqrt((C + D) / d)
    r = run(EF(make(compressor, k=k)), p, x0=x0, eta=eta, steps=steps, replicas=replicas,
            noise=C, generator=g)
    if r.diverged_at is not None:
        return Estimate(math.inf, math.inf, replicas)
    return mean_se(np.asarray(r.gap[:, burn + 1:].mean(1)))
