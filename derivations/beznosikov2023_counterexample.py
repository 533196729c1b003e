"""The DCGD counterexample of Beznosikov, Horváth, Richtárik, Safaryan, *On Biased
Compression for Distributed Learning*, JMLR 24(276), 2023, Example 1, and error feedback
on it (the paper and the other topics: :mod:`derivations._beznosikov2023_common`).

Provenance: the construction (n = d = 3, top-1) and the EF algorithm are the paper's as
*recalled* — ``paper-recalled``; the growth factor of DCGD is *derived* by theorykit
(:func:`theorykit.rules.rates.dcgd_counterexample`) — ``derived``; EF21's step and
Lyapunov rate for PL functions are recalled from Richtárik, Sokolov, Fatkhullin (2021),
Theorem 2 (:func:`theorykit.rules.ef_bound.ef21_step`) — ``paper-recalled``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations._beznosikov2023_common import PAPER, PREFIX
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim

ETAS_COUNTER = (0.01, 0.05, 0.1, 0.5)


def _counter_growth(ctx: RunContext) -> tuple[sp.Expr, Any]:
    """The DCGD growth factor through the knobs: ``drop_reg`` derives it without the
    ||x||²/4 term; ``growth_slope`` scales the derived slope (d growth/dη)."""
    from theorykit.rules.rates import ETA, dcgd_counterexample

    ce = dcgd_counterexample(1, reg=0 if ctx.theory.flag("drop_reg") else sp.Rational(1, 4))
    growth = 1 + ctx.theory.factor("growth_slope") * (ce.growth - 1)
    if ctx.theory.flag("growth_sign"):
        growth = 1 - (growth - 1)
    return sp.expand(growth), ETA


@claim(
    f"{PREFIX}.dcgd_counterexample",
    "DCGD with top-1 diverges on the 3-worker example: growth factor 1 + 11η/6 per step",
    Source(PAPER, "Example 1 (construction recalled); growth factor derived", "derived",
           note="n = d = 3, f_i = <a_i, x>^2 + ||x||^2/4, a_1 = (-3, 2, 2) and "
                "permutations; x0 = (1, 1, 1)"),
    tags=("biased", "counterexample", "issue5"),
    mutants=(*factor_mutants("growth_slope", "the growth factor's slope 11/6"),
             mutant("regulariser_dropped", "growth derived without the ||x||^2/4 term "
                    "(1 + 2 eta)", drop_reg=True)),
)
def dcgd_counterexample_claim(ctx: RunContext) -> Verdict:
    """The factor is derived symbolically from the problem
    (:func:`theorykit.rules.rates.dcgd_counterexample`); the measured per-step factor
    ||x^{k+1}||/||x^k|| of the torch DCGD with the catalog top-1 must match it at every
    step for several η (two-sided). Deterministic: the tolerance is the float32 wire
    rounding of the transmitted values, computed from the *measured* relative step size
    s = ||x^{k+1} - x^k||/||x^k||: |Δ| <= s·2⁻²³ + 64·2⁻⁵³·(1 + s)."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, run
    from theorykit.problems import LocalQuadratics

    growth, ETA = _counter_growth(ctx)
    p = LocalQuadratics.counterexample()
    steps = ctx.pick(40, 100)

    def measure() -> list[np.ndarray]:
        out = []
        for eta in ETAS_COUNTER:
            r = run(DCGD(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=steps)
            if r.diverged_at is not None:
                raise RuntimeError(f"run overflowed at step {r.diverged_at}")
            out.append(np.sqrt(r.dist[0, 1:] / r.dist[0, :-1]))
        return out

    meas_all = ctx.memo(("dcgd_counter", steps), measure)
    worst, ok = 0.0, True
    series: dict[str, Any] = {"eta": list(ETAS_COUNTER), "predicted": [], "measured": []}
    for eta, meas in zip(ETAS_COUNTER, meas_all, strict=True):
        pred = float(growth.subs(ETA, eta))
        s = np.abs(meas - 1.0)  # the measured relative step (iterates stay on span{1})
        tol = s * 2.0**-23 + 64 * 2.0**-53 * (1 + s)
        err = np.abs(meas - pred)
        ok &= bool(np.all(err <= tol))
        worst = max(worst, float(np.max(err / tol)))
        series["predicted"].append(pred)
        series["measured"].append(float(np.mean(meas)))
    return Verdict(
        f"{PREFIX}.dcgd_counterexample", Status.of(ok),
        predicted=sp.sstr(growth), measured=f"max |meas - pred|/tol = {worst:.3g}",
        tolerance="every step: |meas - pred| <= s·2^-23 + 64·2^-53·(1 + s), s the measured "
                  "relative step (float32 wire values of the top-k codec)",
        sample_size=f"{len(ETAS_COUNTER)} step sizes x {steps} steps", seed=None,
        details={"growth": sp.sstr(growth)},
        series=series,
    )


@claim(
    f"{PREFIX}.ef_converges_counterexample",
    "On the DCGD counterexample DCGD diverges at the derived factor while EF converges "
    "and EF21 satisfies its Lyapunov rate (1 - γμ) at every step",
    Source(PAPER, "Example 1 and Section 5 (EF); EF21: Richtárik et al. 2021, Theorem 2 "
           "(recalled)", "paper-recalled"),
    tags=("biased", "counterexample", "ef", "issue5"),
    mutants=(mutant("growth_x1_2", "DCGD growth factor's slope x1/2", growth_slope=0.5),
             mutant("dcgd_descends", "the top-1 step taken as a descent direction "
                    "(growth 1 - 11 eta/6)", growth_sign=True),
             mutant("ef21_rate_x2", "EF21 Lyapunov rate (1 - 2 gamma mu)", ef21_rate=2.0)),
)
def ef_converges_claim(ctx: RunContext) -> Verdict:
    """Deterministic (top-1, x⁰ = (1,1,1)). (i) DCGD at η = 0.05: ||x^K||/||x⁰|| =
    growth(η)^K with the derived growth factor (relative tolerance K·2⁻²³, the float32 wire
    rounding per step). (ii) EF at η = 0.05 (ηL = 0.86): ||x^K||/||x⁰|| < 1e-10 within
    K = 600 steps (far above float64 resolution, far below any stalled run). (iii) EF21 at
    its theorem step γ (α = k/d = 1/3): the Lyapunov function Ψ = f - f* + (γ/θ)·(1/n)Σ
    ||g_i - ∇f_i(x)||² satisfies Ψ^{t+1} <= (1 - γμ)Ψ^t at every step (relative
    allowance 1e-9). The theorem's rate is within a factor 2 of the truth here: the slow
    mode contracts f at (1 - γμ)², so a rate (1 - 2γμ) is violated."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, EF, EF21, run
    from theorykit.problems import LocalQuadratics
    from theorykit.rules.ef_bound import ef21_step

    growth, ETA = _counter_growth(ctx)
    p = LocalQuadratics.counterexample()
    eta, K = 0.05, ctx.pick(600, 1500)
    K21 = ctx.pick(800, 2000)
    gamma, theta = ef21_step(p, 1 / 3)

    def measure() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for M in (DCGD, EF):
            r = run(M(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=K)
            nx = np.sqrt(r.dist[0] / r.dist[0, 0])
            out[M.__name__] = nx
        r = run(EF21(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=K)
        out["EF21"] = np.sqrt(r.dist[0] / r.dist[0, 0])
        m = EF21(make("topk", k=1))
        x = torch.ones(1, 3, dtype=torch.float64)
        st = m.init(p.worker_grads(x))
        psi = []
        for _ in range(K21 + 1):
            gr = p.worker_grads(x)
            delta, st = m.update(st, gr, gamma)
            G = float(((st["g"] - gr) ** 2).sum(-1).mean())
            psi.append(float(p.gap(x)[0]) + gamma / theta * G)
            x = x - delta
        out["psi"] = np.array(psi)
        return out

    meas = ctx.memo(("ef_counter", K, K21), measure)
    dc = meas["DCGD"]
    pred_dc = float(growth.subs(ETA, eta)) ** K
    rel = abs(dc[-1] / pred_dc - 1) if np.isfinite(dc[-1]) else math.inf
    ok_dc = rel <= K * 2.0**-23
    final = {n: float(meas[n][~np.isnan(meas[n])][-1]) for n in ("DCGD", "EF", "EF21")}
    ok_ef = final["EF"] < 1e-10 and final["EF21"] < 1e-10
    psi = meas["psi"]
    rate21 = 1 - ctx.theory.factor("ef21_rate") * gamma * p.mu
    step_ratio = psi[1:] / psi[:-1]
    ok_21 = bool(np.all(step_ratio <= rate21 * (1 + 1e-9)))
    ok = ok_dc and ok_ef and ok_21
    return Verdict(
        f"{PREFIX}.ef_converges_counterexample", Status.of(ok),
        predicted=f"DCGD ||x_K||/||x_0|| = {pred_dc:.4g}; EF, EF21 -> 0; EF21 Psi ratio <= "
                  f"{rate21:.6f}",
        measured=f"DCGD {final['DCGD']:.4g} (rel. err {rel:.1e}), EF {final['EF']:.1e}, "
                 f"EF21 {final['EF21']:.1e}; max Psi ratio {float(step_ratio.max()):.6f}",
        tolerance=f"DCGD: relative error <= K·2^-23 = {K * 2.0**-23:.1e}; EF, EF21 below "
                  "1e-10 after K steps; EF21 Psi ratio <= rate·(1 + 1e-9) at every step",
        sample_size=f"{K} steps (deterministic); EF21 theorem step {K21} steps", seed=None,
        details={**final, "dcgd_rel_error": rel, "ef21_gamma": gamma, "ef21_theta": theta,
                 "ef21_rate": rate21, "ef21_max_step_ratio": float(step_ratio.max()),
                 "ef21_overall_rate": float((psi[-1] / psi[0]) ** (1 / K21))},
        series={"eta": eta, **{n: [float(v) for v in meas[n]] for n in ("DCGD", "EF",
                                                                        "EF21")}})
