"""Claims of Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276):1–50, 2023 (arXiv 2002.12410).

Provenance, honestly (see ``/work/shared/theory/compression_papers.md`` §1):

* the class definitions B1/B2/B3, the DCGD counterexample and the EF algorithm are the
  paper's as *recalled* (not checked against the PDF) — ``paper-recalled``;
* the CGD rates, the counterexample's growth factor, the top-k energy curves and the
  floor slopes are *derived* by theorykit (:mod:`theorykit.rules.rates`,
  :mod:`theorykit.rules.topk_energy`, :mod:`theorykit.rules.ef_bound`) — ``derived``;
* the EF rate's form O(δL e^{-μK/(δL)} + (C + δD)/(μK)) is read from the abstract
  (``paper-abstract``); its constants were not retrieved and are kept symbolic; the
  claims instantiate them at 1 and say so.

Every measurement runs the real methods (:mod:`theorykit.methods.biased`) with the real
catalog codecs (float32 wire values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.registry import claim
from theorykit.errors import AssumptionError, InputError

PAPER = "Beznosikov, Horváth, Richtárik, Safaryan, JMLR 24(276), 2023"
PREFIX = "beznosikov2023"

#: Parameter values used to instantiate catalog compressors for the CGD-rate claim
#: (a Param's own default wins; ``k`` is a fraction of d).
PARAM_CHOICES: dict[str, Any] = {"k": lambda d: max(1, d // 4), "p": 0.25, "s": 4,
                                 "base": 2.0, "r": 2.0, "tau": 1.0,
                                 "levels": (-1.0, -0.25, 0.0, 0.25, 1.0)}
CGD_DIM = 16
CGD_MU, CGD_L = 1.0, 10.0


def instantiate_catalog(d: int) -> tuple[list[Any], dict[str, str]]:
    """Every catalog compressor with parameters from :data:`PARAM_CHOICES`; returns the
    specs and, for those skipped, the reason."""
    from theorykit.compressors.registry import catalog

    specs, skipped = [], {}
    for name, cls in catalog().items():
        values: dict[str, Any] = {}
        missing = []
        for p in cls.params:
            if p.default is not None:
                continue
            if p.name in PARAM_CHOICES:
                v = PARAM_CHOICES[p.name]
                values[p.name] = v(d) if callable(v) else v
            else:
                missing.append(p.name)
        if missing:
            skipped[name] = f"no test value for required parameter(s) {missing}"
            continue
        try:
            specs.append(cls(**values, d=d))
        except InputError as exc:
            skipped[name] = f"cannot instantiate: {exc}"
    return specs, skipped


# =========================================================================== CGD rates
@claim(
    f"{PREFIX}.cgd_rates",
    "CGD contracts f - f* at least as fast as the derived class rate, for every catalog "
    "compressor",
    Source(PAPER, "Section 3 (CGD), Theorems for B1/B2/B3 (rates re-derived)", "derived",
           note="class definitions recalled (Defs. 1-3); rates derived in "
                "theorykit.rules.rates from the descent lemma + PL"),
    tags=("biased", "rates", "issue5"),
    statement=r"For $x^{k+1} = x^k - \eta\,\mathcal C(\nabla f(x^k))$ on a quadratic with "
    r"known $\mu, L$: $E[f(x^{k+1}) - f^\star \mid x^k] \le \rho(\eta^\star)(f(x^k) - f^\star)$ "
    r"with the derived $\rho$ of the compressor's best class at its optimal step.",
)
def cgd_rates(ctx: RunContext) -> Verdict:
    """Measured one-step contraction E[r_{k+1}/r_k] (averaged over steps per replica,
    mean ± SE over replicas with random x⁰) vs the derived ρ, one-sided at the Bonferroni
    z over the compressors; deterministic codecs must also satisfy every single step
    (float32 allowance 1e-6)."""
    from theorykit.methods.biased import DCGD, LocalQuadratics, run
    from theorykit.rules.rates import cgd_rate

    d, mu, L = CGD_DIM, CGD_MU, CGD_L
    R = ctx.pick(16, 64)
    steps = ctx.pick(60, 150)
    problem = LocalQuadratics.random(1, d, mu=mu, L=L, seed=ctx.seed)
    specs, skipped = instantiate_catalog(d)
    rows, tested = [], []
    for spec in specs:
        try:
            rate = cgd_rate(spec, mu, L, d=d)
            rho = float(rate.contraction)
            eta = float(rate.eta)
        except (AssumptionError, InputError, TypeError) as exc:
            skipped[spec.name] = str(exc)
            continue
        tested.append((spec, rate, rho, eta))
    if not tested:
        return Verdict(f"{PREFIX}.cgd_rates", Status.INCONCLUSIVE, None, None,
                       details={"skipped": skipped})
    z = stats.bonferroni_z(len(tested))
    worst = Status.HOLDS
    for i, (spec, rate, rho, eta) in enumerate(tested):
        g = torch.Generator().manual_seed(ctx.seed + i)
        x0 = torch.randn(R, d, generator=g, dtype=torch.float64)
        r = run(DCGD(spec), problem, x0=x0, eta=eta, steps=steps, replicas=R, generator=g)
        gap = r.gap
        ok = gap[:, :-1] > 1e-24 * gap[:, :1]
        ratios = np.where(ok, gap[:, 1:] / np.where(ok, gap[:, :-1], 1.0), np.nan)
        per_rep = np.nanmean(ratios, axis=1)
        est = stats.mean_se(per_rep)
        v = stats.at_most("row", rho, est, z=z)
        max_step = float(np.nanmax(ratios))
        status = v.status
        if not spec.randomized and max_step > rho * (1 + 1e-6):
            status = Status.CONTRADICTED
        if status == Status.CONTRADICTED:
            worst = Status.CONTRADICTED
        elif status == Status.INCONCLUSIVE and worst == Status.HOLDS:
            worst = Status.INCONCLUSIVE
        speed = math.log(rho) / math.log(est.mean) if 0 < est.mean < 1 and rho < 1 else \
            float("nan")
        rows.append({
            "compressor": spec.name, "params": dict(spec.values), "class": rate.cls.pretty(),
            "eta": eta, "rho_bound": rho, "measured": est.mean, "se": est.se,
            "max_single_step": max_step, "tightness": est.mean / rho,
            "speed_ratio": speed, "randomized": spec.randomized, "status": status.value,
        })
    worst_row = max(rows, key=lambda r: r["tightness"])
    return Verdict(
        f"{PREFIX}.cgd_rates", worst,
        predicted=f"measured <= rho_bound for {len(rows)} compressors",
        measured=f"max tightness {worst_row['tightness']:.3f} ({worst_row['compressor']})",
        tolerance=f"per compressor: measured <= rho + {z:.2f}·SE (Bonferroni over "
                  f"{len(rows)}); deterministic codecs: every step <= rho·(1 + 1e-6)",
        sample_size=f"{R} replicas x {steps} steps per compressor",
        seed=ctx.seed,
        details={"rows": rows, "skipped": skipped, "d": d, "mu": mu, "L": L,
                 "tightness": "measured/rho_bound (<= 1: bound holds); speed_ratio = "
                              "ln(rho_bound)/ln(measured): fraction of the observed speed "
                              "the bound guarantees"},
        series={"compressor": [r["compressor"] for r in rows],
                "rho_bound": [r["rho_bound"] for r in rows],
                "measured": [r["measured"] for r in rows],
                "se": [r["se"] for r in rows]},
    )



@claim(
    f"{PREFIX}.identical_iterates",
    "An unbiased U(ζ) compressor at step 1/(ζL) and its scaled C/ζ ∈ B3(ζ) at step 1/L "
    "give identical iterates and the same derived rate",
    Source(PAPER, "Section 3, remark comparing U and B3 (recalled); rates derived",
           "derived"),
    tags=("biased", "rates", "issue5"),
)
def identical_iterates_claim(ctx: RunContext) -> Verdict:
    """Symbolic: ρ_U(1/(ζL)) - ρ_B3(ζ)(1/L) simplifies to 0. Numeric: rand-k (U(d/k - 1))
    and its contractive scaling run from the same x⁰ with the same generator seed; the
    max relative difference of the iterates must be below 1e-10 (float64 rounding of the
    scale factor over the run)."""
    from theorykit.compressors.algebra import contractive
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, LocalQuadratics, run
    from theorykit.rules.rates import cgd_rate, identical_iterates

    ii = identical_iterates()
    sym_diff = ii.difference_at_natural
    d, k, mu, L = 16, 4, 1.0, 10.0
    u = make("randk", k=k, d=d)
    b3 = contractive(u)
    ru, rb = cgd_rate(u, mu, L, cls="U"), cgd_rate(b3, mu, L, cls="B3")
    problem = LocalQuadratics.random(1, d, mu=mu, L=L, seed=ctx.seed)
    steps = ctx.pick(50, 200)
    x0 = torch.randn(8, d, generator=torch.Generator().manual_seed(ctx.seed),
                     dtype=torch.float64)
    outs = []
    for spec, eta in ((u, float(ru.eta)), (b3, float(rb.eta))):
        g = torch.Generator().manual_seed(ctx.seed + 1)
        outs.append(run(DCGD(spec), problem, x0=x0, eta=eta, steps=steps, replicas=8,
                        generator=g))
    rel = float(np.nanmax(np.abs(outs[0].dist - outs[1].dist) / outs[0].dist))
    ok = sym_diff == 0 and rel < 1e-10 and sp.simplify(ru.contraction - rb.contraction) == 0
    return Verdict(
        f"{PREFIX}.identical_iterates", Status.HOLDS if ok else Status.CONTRADICTED,
        predicted=f"rho_U = rho_B3 = {float(ru.contraction):.6g}; identical iterates",
        measured=f"symbolic difference {sp.sstr(sym_diff)}; max relative iterate "
                 f"difference {rel:.2e}",
        tolerance="symbolic: simplify(diff) == 0; numeric: relative difference < 1e-10 "
                  "(float64 rounding of the scale factor)",
        sample_size=f"8 replicas x {steps} steps", seed=ctx.seed,
        details={"rho_U(eta)": sp.sstr(ii.rho_unbiased), "rho_B3(zeta eta)":
                 sp.sstr(ii.rho_scaled), "gap rho_B3 - rho_U": sp.sstr(ii.gap),
                 "scaled_classes": [c.pretty() for c in b3.numeric_classes(d)]},
    )



# =========================================================================== counterexample
ETAS_COUNTER = (0.01, 0.05, 0.1, 0.5)


@claim(
    f"{PREFIX}.dcgd_counterexample",
    "DCGD with top-1 diverges on the 3-worker example: growth factor 1 + 11η/6 per step",
    Source(PAPER, "Example 1 (construction recalled); growth factor derived", "derived",
           note="n = d = 3, f_i = <a_i, x>^2 + ||x||^2/4, a_1 = (-3, 2, 2) and "
                "permutations; x0 = (1, 1, 1)"),
    tags=("biased", "counterexample", "issue5"),
)
def dcgd_counterexample_claim(ctx: RunContext) -> Verdict:
    """The factor is derived symbolically from the problem
    (:func:`theorykit.rules.rates.dcgd_counterexample`); the measured per-step factor
    ||x^{k+1}||/||x^k|| of the torch DCGD with the catalog top-1 must match it at every
    step for several η. Deterministic: the tolerance is the float32 wire rounding of the
    transmitted values, |Δ| <= η·c·2⁻²³ + 64·2⁻⁵³·growth, with c = 11/6 the derived slope."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, LocalQuadratics, run
    from theorykit.rules.rates import ETA, dcgd_counterexample

    ce = dcgd_counterexample(1)
    slope = float(sp.diff(ce.growth, ETA))
    p = LocalQuadratics.counterexample()
    steps = ctx.pick(40, 100)
    worst, series = 0.0, {"eta": list(ETAS_COUNTER), "predicted": [], "measured": []}
    ok = True
    for eta in ETAS_COUNTER:
        r = run(DCGD(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=steps)
        meas = np.sqrt(r.dist[0, 1:] / r.dist[0, :-1])
        pred = float(ce.growth.subs(ETA, eta))
        tol = eta * slope * 2.0**-23 + 64 * 2.0**-53 * pred
        err = float(np.max(np.abs(meas - pred)))
        ok &= err <= tol and r.diverged_at is None
        worst = max(worst, err / tol)
        series["predicted"].append(pred)
        series["measured"].append(float(np.mean(meas)))
    return Verdict(
        f"{PREFIX}.dcgd_counterexample", Status.HOLDS if ok else Status.CONTRADICTED,
        predicted=sp.sstr(ce.growth), measured=f"max |meas - pred|/tol = {worst:.3f}",
        tolerance="every step: |meas - pred| <= η·(11/6)·2^-23 + 64·2^-53·pred (float32 "
                  "wire values of the top-k codec)",
        sample_size=f"{len(ETAS_COUNTER)} step sizes x {steps} steps", seed=None,
        details={"mu": sp.sstr(ce.mu), "L": sp.sstr(ce.L), "update_at_t1": sp.sstr(ce.update),
                 "hessian": sp.sstr(ce.hessian)},
        series=series,
    )



@claim(
    f"{PREFIX}.ef_converges_counterexample",
    "Error feedback and EF21 converge on the DCGD counterexample",
    Source(PAPER, "Example 1 and Section 5 (EF); EF21: Richtárik et al. 2021 (recalled)",
           "paper-recalled"),
    tags=("biased", "counterexample", "ef", "issue5"),
)
def ef_converges_claim(ctx: RunContext) -> Verdict:
    """At η = 0.05 (ηL = 0.86) from x⁰ = (1,1,1): DCGD's ||x^K|| grows while EF's and
    EF21's fall below 1e-10·||x⁰|| within K = 600 steps (deterministic; the threshold is far
    above float64 resolution and far below any stalled run)."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, EF, EF21, LocalQuadratics, run

    p = LocalQuadratics.counterexample()
    eta, K = 0.05, ctx.pick(600, 1500)
    series: dict[str, Any] = {"eta": eta}
    final = {}
    for M in (DCGD, EF, EF21):
        r = run(M(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=K)
        nx = np.sqrt(r.dist[0] / r.dist[0, 0])
        series[M.__name__] = [float(v) for v in nx]
        final[M.__name__] = float(nx[~np.isnan(nx)][-1])
    ok = final["EF"] < 1e-10 and final["EF21"] < 1e-10 and final["DCGD"] > 1
    return Verdict(
        f"{PREFIX}.ef_converges_counterexample", Status.HOLDS if ok else Status.CONTRADICTED,
        predicted="EF, EF21: ||x_K||/||x_0|| -> 0; DCGD diverges",
        measured=f"EF {final['EF']:.1e}, EF21 {final['EF21']:.1e}, DCGD {final['DCGD']:.3g}",
        tolerance="EF and EF21 below 1e-10 after K steps; DCGD above 1",
        sample_size=f"{K} steps (deterministic)", seed=None, details=final, series=series)



# =========================================================================== EF-SGD bound
EF_N, EF_D, EF_MU, EF_L = 4, 16, 1.0, 10.0


@claim(
    f"{PREFIX}.ef_bound",
    "EF-SGD: E f(x̄^K) - f* stays below O(δL R0 e^{-μK/(δL)} + (C + δD)/(μK)) with unit "
    "constants",
    Source(PAPER, "abstract (EF rate); Theorem on EF-SGD (constants not retrieved)",
           "paper-abstract",
           note="constants c_1..c_4 unknown; instantiated at 1 (theorykit.rules.ef_bound."
                "UNIT_CONSTANTS); step and averaging from Stich's template (recalled)"),
    tags=("biased", "ef", "issue5"),
)
def ef_bound_claim(ctx: RunContext) -> Verdict:
    """EF with top-k (δ = d/k) on heterogeneous quadratics, step η = min{1/(δL),
    ln(max{2, μ²R0K²/(C+δD)})/(μK)}, weighted average x̄^K with w_k = (1 - μη/2)^{-(k+1)}.
    For each (δ, C, D, K) the mean over replicas of f(x̄^K) - f* must not exceed the
    unit-constant bound by more than z·SE (Bonferroni over the grid). With unknown
    constants, a violation would only say that the constants exceed 1: it is then reported
    as inconclusive, never as a contradiction of the paper."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import EF, LocalQuadratics, run
    from theorykit.rules.ef_bound import ef_bound, stich_step

    bound = ef_bound()
    R = ctx.pick(16, 64)
    Ks = ctx.pick((250, 1000), (250, 500, 1000, 2000))
    ks = (8, 2)
    cds = ((1.0, 0.0), (0.0, 1.0))
    n_tests = len(Ks) * len(ks) * len(cds)
    z = stats.bonferroni_z(n_tests)
    rows, worst_ratio, status = [], 0.0, Status.HOLDS
    i = 0
    for C, D in cds:
        p = LocalQuadratics.random(EF_N, EF_D, mu=EF_MU, L=EF_L, heterogeneity=D,
                                   seed=ctx.seed)
        for k in ks:
            delta = EF_D / k
            for K in Ks:
                i += 1
                g = torch.Generator().manual_seed(ctx.seed + 100 * i)
                x0 = torch.randn(R, EF_D, generator=g, dtype=torch.float64)
                x0 = x0 / x0.norm(dim=1, keepdim=True)  # R0 = 1 exactly
                eta = stich_step(K, mu=EF_MU, d0=delta * EF_L, r0=1.0, c=C + delta * D)
                r = run(EF(make("topk", k=k)), p, x0=x0, eta=eta, steps=K, replicas=R,
                        noise=C, generator=g, record_every=K, average_q=1 - EF_MU * eta / 2)
                est = stats.mean_se(r.gap_avg)
                b = bound.evaluate(delta=delta, L=EF_L, mu=EF_MU, K=K, C=C, D=D, R0=1.0)
                v = stats.at_most("row", b, est, z=z)
                if v.status != Status.HOLDS:
                    status = Status.INCONCLUSIVE
                worst_ratio = max(worst_ratio, est.mean / b)
                rows.append({"C": C, "D": D, "delta": delta, "K": K, "eta": eta,
                             "measured": est.mean, "se": est.se, "bound": b,
                             "ratio": est.mean / b, "last_iterate": float(np.mean(r.gap[:, -1]))})
    return Verdict(
        f"{PREFIX}.ef_bound", status,
        predicted="measured <= bound(c_i = 1) on every grid point",
        measured=f"max measured/bound = {worst_ratio:.3f}",
        tolerance=f"measured <= bound + {z:.2f}·SE (Bonferroni over {n_tests} points); "
                  "constants c_1..c_4 = 1 (unknown in the paper)",
        sample_size=f"{R} replicas per point, {n_tests} points", seed=ctx.seed,
        details={"rows": rows, "bound": sp.sstr(bound.expr),
                 "instantiation": "c_1 = c_2 = c_3 = c_4 = 1, R0 = ||x0 - x*||^2 = 1, "
                                  "step and averaging of Stich (2019) Lemma 2 (recalled)",
                 "n": EF_N, "d": EF_D, "mu": EF_MU, "L": EF_L},
        series={k: [r[k] for r in rows] for k in ("C", "D", "delta", "K", "measured", "se",
                                                 "bound")},
    )



def _slope_check(xs: list[float], ests: list[stats.Estimate], predicted: float, z: float
                 ) -> tuple[stats.Slope, bool]:
    s = stats.loglog_slope(np.array(xs), np.array([e.mean for e in ests]),
                           np.array([e.se for e in ests]))
    return s, abs(s.slope - predicted) <= z * s.se


FLOOR_ETA = 0.02


@claim(
    f"{PREFIX}.ef_floor_C",
    "EF-SGD's loss floor grows linearly with the gradient noise C (slope 1 in log-log)",
    Source(PAPER, "abstract: the (C + δD)/(μK) term; slope derived from the bound's form",
           "derived"),
    tags=("biased", "ef", "issue5"),
)
def ef_floor_c_claim(ctx: RunContext) -> Verdict:
    """D = 0, top-k with δ = 4, constant η = 0.02 (= 0.8/(δL)): the stationary
    f - f* (time average after a 6/(μη) burn-in, mean ± SE over independent replicas, an
    independent seed per C) at C ∈ {1/4, 1, 4, 16}; the weighted log-log slope must agree
    with the derived ∂ln F/∂ln C = 1 within z·SE(slope)."""
    from theorykit.rules.ef_bound import floor_slopes, measure_floor

    pred = float(floor_slopes()["C"])
    Cs = [0.25, 1.0, 4.0, 16.0]
    R, window = ctx.pick(32, 128), ctx.pick(500, 2000)
    ests = [measure_floor(n=EF_N, d=EF_D, k=EF_D // 4, C=c, D=0.0, eta=FLOOR_ETA,
                          window=window, replicas=R, seed=ctx.seed + i)
            for i, c in enumerate(Cs)]
    s, ok = _slope_check(Cs, ests, pred, stats.Z_DEFAULT)
    return Verdict(
        f"{PREFIX}.ef_floor_C", Status.HOLDS if ok else Status.CONTRADICTED,
        predicted=pred, measured=s.slope,
        interval=(s.slope - stats.Z_DEFAULT * s.se, s.slope + stats.Z_DEFAULT * s.se),
        tolerance=f"|slope - 1| <= 3·SE(slope) = {3 * s.se:.3g} (weighted LS on the replica "
                  "SEs)",
        sample_size=f"{R} replicas x {window} averaged steps x {len(Cs)} values of C",
        seed=ctx.seed,
        details={"slope_se": s.se, "eta": FLOOR_ETA, "delta": 4, "D": 0.0},
        series={"C": Cs, "floor": [e.mean for e in ests], "se": [e.se for e in ests]},
    )



@claim(
    f"{PREFIX}.ef_floor_deltaD",
    "EF's loss floor (C = 0) grows linearly with D, and does not grow with δ at the "
    "bound's largest step η = 1/(δL)",
    Source(PAPER, "abstract: the δD/(μK) term; slopes derived from the bound's form",
           "derived"),
    tags=("biased", "ef", "issue5"),
)
def ef_floor_dd_claim(ctx: RunContext) -> Verdict:
    """C = 0 (full local gradients), heterogeneous quadratics. (i) δ = 4, η = 0.02, D ∈
    {1/4, 1, 4, 16}: slope in D vs the derived 1, two-sided (the bound is linear in D and
    the measured floor is exactly homogeneous of degree 1 in D). (ii) D = 1, η = 1/(δL),
    δ ∈ {2, 4, 8, 16}: the bound's floor c_3 η (C + c_4 δ D) at η = 1/(δL) is the δ-free
    c_3 c_4 D/L (derived slope 0); an *upper* bound that does not grow in δ is
    contradicted only by a floor that grows, so the test is one-sided: slope <= 0 + z·SE.
    z is Bonferroni over the two tests. Also
    reported: the slope in δ at a fixed η (the bound's upper-bound trend is 1; the measured
    floor may grow faster, ≈ η²δ²D L, which stays below ηδD because ηδL <= 1)."""
    from theorykit.rules.ef_bound import floor_slopes, measure_floor

    sl = floor_slopes()
    z = stats.bonferroni_z(2)
    R, window = ctx.pick(32, 128), ctx.pick(500, 2000)
    Ds = [0.25, 1.0, 4.0, 16.0]
    ests_d = [measure_floor(n=EF_N, d=EF_D, k=EF_D // 4, C=0.0, D=dd, eta=FLOOR_ETA,
                            window=window, replicas=R, seed=ctx.seed + 10 + i)
              for i, dd in enumerate(Ds)]
    s_d, ok_d = _slope_check(Ds, ests_d, float(sl["D"]), z)
    ks = ctx.pick([8, 4, 2], [8, 4, 2, 1])
    deltas = [EF_D / k for k in ks]
    ests_c = [measure_floor(n=EF_N, d=EF_D, k=k, C=0.0, D=1.0, eta=1 / (dl * EF_L),
                            window=window, replicas=R, seed=ctx.seed + 20 + i)
              for i, (k, dl) in enumerate(zip(ks, deltas, strict=True))]
    s_c = stats.loglog_slope(np.array(deltas), np.array([e.mean for e in ests_c]),
                             np.array([e.se for e in ests_c]))
    ok_c = s_c.slope <= float(sl["delta_at_cap"]) + z * s_c.se
    ests_f = [measure_floor(n=EF_N, d=EF_D, k=k, C=0.0, D=1.0, eta=FLOOR_ETA / 4,
                            window=window, replicas=R, seed=ctx.seed + 30 + i)
              for i, k in enumerate(ks)] if not ctx.quick else []
    s_f = _slope_check(deltas, ests_f, 1.0, z)[0] if ests_f else None
    ok = ok_d and ok_c
    return Verdict(
        f"{PREFIX}.ef_floor_deltaD", Status.HOLDS if ok else Status.CONTRADICTED,
        predicted=f"slope_D = {sl['D']}, slope_delta(eta=1/(delta L)) <= {sl['delta_at_cap']}",
        measured=f"slope_D = {s_d.slope:.3f} ± {s_d.se:.3f}, slope_delta = "
                 f"{s_c.slope:.3f} ± {s_c.se:.3f}",
        tolerance=f"|slope_D - 1| <= {z:.2f}·SE and slope_delta <= 0 + {z:.2f}·SE "
                  "(Bonferroni over 2)",
        sample_size=f"{R} replicas x {window} averaged steps after a burn-in of 6/(mu eta) "
                    f"steps; {len(Ds)} values of D, {len(deltas)} of delta",
        seed=ctx.seed,
        details={"slope_D": s_d.slope, "slope_D_se": s_d.se, "slope_delta": s_c.slope,
                 "slope_delta_se": s_c.se,
                 "slope_delta_fixed_eta": None if s_f is None else s_f.slope,
                 "slope_delta_fixed_eta_se": None if s_f is None else s_f.se,
                 "note": "at fixed eta the bound's floor trend in delta is linear (an upper "
                         "bound under eta <= 1/(delta L)); measured in full mode only"},
        series={"D": Ds, "floor_D": [e.mean for e in ests_d], "se_D": [e.se for e in ests_d],
                "delta": deltas, "floor_delta": [e.mean for e in ests_c],
                "se_delta": [e.se for e in ests_c],
                "floor_delta_fixed_eta": [e.mean for e in ests_f],
                "se_delta_fixed_eta": [e.se for e in ests_f]},
    )



# =========================================================================== top-k energy
TOPK_RHOS = (0.1, 0.01, 0.001)
TOPK_LAWS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("uniform", {}), ("gaussian", {}), ("laplace", {}), ("pareto", {"a": 4}))


@claim(
    f"{PREFIX}.topk_gain",
    "Top-k keeps E_top(ρ) of the energy (derived closed forms) vs ρ for rand-k: Monte "
    "Carlo matches at ρ = 0.1, 0.01, 0.001",
    Source(PAPER, "abstract: synthetic and empirical gradient distributions (Section 6); "
           "closed forms derived", "derived"),
    tags=("biased", "topk", "issue5"),
)
def topk_gain_claim(ctx: RunContext) -> Verdict:
    """For each law (uniform, Gaussian, Laplace, Pareto a = 4) and ρ: the catalog top-k
    on d = 10⁵ i.i.d. coordinates, ||C(x)||²/||x||² averaged over replicas, vs the derived
    E_top(ρ); two-sided at the Bonferroni z over the 12 checks. Finite-d bias (the ratio
    of sums and exactly-k selection) is O(1/(ρd)) relative and is not given an allowance:
    it was < 1 SE at 64 replicas in development runs."""
    from theorykit.rules.topk_energy import energy_fraction, law, mc_energy

    d = 100_000
    R = ctx.pick(12, 64)
    n_tests = len(TOPK_LAWS) * len(TOPK_RHOS)
    z = stats.bonferroni_z(n_tests)
    rows, status = [], Status.HOLDS
    series: dict[str, Any] = {"rho": list(TOPK_RHOS)}
    for j, (name, params) in enumerate(TOPK_LAWS):
        lw = law(name, **params)
        curve = energy_fraction(lw)
        m = mc_energy(lw, TOPK_RHOS, d=d, replicas=R, seed=ctx.seed + j)
        series[lw.name] = {"mc": [e.mean for e in m.topk], "se": [e.se for e in m.topk],
                           "closed_form": list(m.predicted)}
        for rho, est, pred in zip(TOPK_RHOS, m.topk, m.predicted, strict=True):
            v = stats.agree("row", pred, est, z=z)
            if v.status == Status.CONTRADICTED:
                status = Status.CONTRADICTED
            elif v.status == Status.INCONCLUSIVE and status == Status.HOLDS:
                status = Status.INCONCLUSIVE
            rows.append({"law": lw.name, "rho": rho, "closed_form": pred,
                         "expression": sp.sstr(curve.fraction), "mc": est.mean, "se": est.se,
                         "gain_closed_form": pred / rho, "gain_mc": est.mean / rho,
                         "z_score": (est.mean - pred) / est.se if est.se > 0 else 0.0})
    worst = max(rows, key=lambda r: abs(r["z_score"]))
    return Verdict(
        f"{PREFIX}.topk_gain", status,
        predicted="E_top(rho) closed forms (derived)",
        measured=f"max |z| = {abs(worst['z_score']):.2f} ({worst['law']}, rho={worst['rho']})",
        tolerance=f"|MC - closed form| <= {z:.2f}·SE (Bonferroni over {n_tests})",
        sample_size=f"{R} vectors of d = {d} per law", seed=ctx.seed,
        details={"rows": rows}, series=series)

