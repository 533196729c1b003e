r"""Heavy-tail claims of Compagnoni, Islamov, Proske & Lucchi, *Unbiased and Sign Compression
in Distributed Learning: Comparing Noise Resilience via SDEs*, AISTATS 2025 (PMLR
258:4087–4095, arXiv 2502.17009) — issue 4, part B1: DCSGD's floor under Student-t(ν) noise
is the Gaussian one times ν/(ν−2) (infinite for ν ≤ 2), DSignSGD's is finite for every ν.

Provenance, honestly (``docs/theory/sde_papers.md`` §0, §2.3(d)): that DSignSGD is resilient
to heavy-tailed noise is in the paper's abstract (*read*, ``paper-abstract``, with its
Student-t experiment, ν in {1, 2, 3, 8, 64}); the factors ν/(ν−2) and 1/(2 f_ν(0)) are
*derived* by :mod:`theorykit.rules.bounds` with sympy.stats. Floors are measured as in
:mod:`derivations.compagnoni2025_resilience` (per-replica time averages of the real
methods, SEs across replicas); the mutants are read through ``ctx.theory``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from derivations._common import COMPAGNONI2025, one_thread
from derivations._compagnoni2025_resilience import (
    PREFIX,
    TAGS,
    sign_lin_allowance,
    stationary_floor,
)
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import mutant
from theorykit.check.registry import claim

NUS = (1, 2, 3, 8, 64)

SRC_TAILS = Source(
    COMPAGNONI2025, "abstract + heavy-tail experiment (Student-t, nu in {1,2,3,8,64}); factors "
    "nu/(nu-2) and 1/(2 f_nu(0)) derived (docs/theory/sde_papers.md §2.3(d))", "paper-abstract",
    note="the factors are derived by theorykit.rules.bounds with sympy.stats")


def _tail_floors(method: Any, prob: Any, scale: float, nus: tuple[int, ...], *, seed: int,
                 tau_of: Callable[[int | None], float], ctx: RunContext, **run: Any
                 ) -> dict[int | None, stats.Estimate]:
    """Stationary floors of ``method`` under Gaussian(σ = scale) (key None, seed ``seed``),
    then under Student-t(ν, scale) for each ν of ``nus`` (seed ``seed + 1 + i``);
    ``tau_of(ν)`` is the relaxation time (ν = None: Gaussian), ``run`` = N, B, eta, R."""
    from theorykit.noise import Gaussian, StudentT

    out: dict[int | None, stats.Estimate] = {
        None: stationary_floor(method, prob, Gaussian(sigma=scale), tau=tau_of(None),
                               seed=seed, **run)}
    for i, nu in enumerate(nus):
        out[nu] = stationary_floor(method, prob, StudentT(nu=nu, scale=scale),
                                   tau=tau_of(nu), seed=seed + 1 + i, **run)
        ctx.report((i + 1) / len(nus))
    return out


def _tail_ratios(floors: dict[int | None, stats.Estimate], nus: tuple[int, ...],
                 pred_of: Callable[[int], float]
                 ) -> list[tuple[int, stats.Estimate, stats.Estimate, float]]:
    """(ν, floor, floor / Gaussian floor with its delta-method SE, predicted ratio) per ν."""
    g = floors[None]
    return [(nu, floors[nu], stats.ratio_se(floors[nu], g), pred_of(nu)) for nu in nus]


def _ratio_verdict(cid: str, statuses: list[Status], rows: list[dict[str, Any]],
                   worst: dict[str, Any], nus: tuple[int, ...], z: float, ctx: RunContext,
                   **fields: Any) -> Verdict:
    """The verdict of a floor-ratio claim, reported at its ``worst`` row (``fields``:
    tolerance, sample_size, details)."""
    return Verdict(
        claim_id=cid, status=joint_status(statuses),
        against="derived",  # the exact factor is derived (the abstract is qualitative)
        predicted=worst["predicted"], measured=worst["ratio"],
        interval=(worst["ratio"] - z * worst["ratio_se"],
                  worst["ratio"] + z * worst["ratio_se"]),
        seed=ctx.seed, **fields,
        series={"nu": list(nus), "ratio": [q["ratio"] for q in rows],
                "ratio_se": [q["ratio_se"] for q in rows],
                "predicted": [q["predicted"] for q in rows]})


def _dcsgd_tail_cfg() -> dict[str, Any]:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD

    return {"method": DCSGD(make("bernoulli", p=0.5)), "eigs": [1.0], "eta": 0.1, "N": 4,
            "B": 1, "scale": 1.0}


TAIL_JUDGED = (5, 8, 64)
"""nu judged by the DCSGD factor claim: f = x^2/2 has a finite variance iff the noise has a
finite fourth moment (nu > 4), so only there is the CLT-based SE of the floor valid."""
TAIL_SHOWN = (3,)
"""nu shown but not judged (infinite variance of f: the SE is not a valid error bar)."""


def _tail_factor_pred(nu: int, theory: Any) -> float:
    """The theory's DCSGD heavy-tail factor (knob ``tail_factor``: ``variance`` as derived,
    ``one`` or ``sign`` as the mutants)."""
    from theorykit.rules.bounds import dcsgd_variance_factor, dsignsgd_floor_ratio

    which = theory.choice("tail_factor", "variance")
    if which == "one":
        return 1.0
    if which == "sign":
        return float(dsignsgd_floor_ratio(nu))
    return float(dcsgd_variance_factor(nu))


@claim(f"{PREFIX}.heavy_tails.dcsgd_factor",
       "DCSGD floor under Student-t noise = ν/(ν−2) × Gaussian floor (ν = 5, 8, 64 judged; "
       "ν = 3 shown)", SRC_TAILS, tags=TAGS, mutants=(
           mutant("tail_factor_one", "tail factor nu/(nu-2) -> 1 (floor blind to the tails)",
                  tail_factor="one"),
           mutant("tail_factor_sign", "DSignSGD's factor (1/(2 f_nu(0)))/sqrt(pi/2) used for "
                  "DCSGD", tail_factor="sign")))
def dcsgd_tail_factor(ctx: RunContext) -> Verdict:
    """DCSGD (Bernoulli p = 1/2, N = 4) on f = x²/2 with Student-t(ν, s) noise: the
    stationary E f over the Gaussian(σ = s) one equals the derived variance factor ν/(ν−2).

    Scope, honestly: on a quadratic the exact second-moment recursion of DCSGD depends on
    the noise only through its covariance, so this checks that the heavy-tailed floor is the
    Gaussian one scaled by Var T_ν (the SDE's statement: only the covariance enters, the
    factor ν/(ν−2) derived by sympy.stats) — ν enters nowhere else in this setting. It fails
    if the floor's tail factor is not ν/(ν−2) (mutants: factor 1; DSignSGD's factor). ν = 3
    is shown, not judged: there f has infinite variance (tail index ν/2 = 1.5) and its SE is
    no error bar."""
    with one_thread():
        from theorykit.problems import Quadratic

        cfg = _dcsgd_tail_cfg()
        prob = Quadratic(eigs=cfg["eigs"])
        R = ctx.pick(4000, 40_000)
        tau = 1.0 / (2 * min(cfg["eigs"]))
        nus = TAIL_JUDGED + TAIL_SHOWN
        floors = ctx.memo(("dcsgd-tail", ctx.mode, ctx.seed), lambda: _tail_floors(
            cfg["method"], prob, cfg["scale"], nus, seed=ctx.seed + 1, tau_of=lambda _: tau,
            ctx=ctx, N=cfg["N"], B=cfg["B"], eta=cfg["eta"], R=R))
        g = floors[None]
        z = stats.bonferroni_z(len(TAIL_JUDGED))
        rows, statuses = [], []
        for nu, e, r, pred in _tail_ratios(floors, nus,
                                           lambda nu: _tail_factor_pred(nu, ctx.theory)):
            judged = nu in TAIL_JUDGED
            st = Status.of(abs(r.mean - pred) <= z * r.se)
            if judged:
                statuses.append(st)
            rows.append({"nu": nu, "ratio": r.mean, "ratio_se": r.se, "predicted": pred,
                         "z_score": (r.mean - pred) / r.se, "floor": e.mean, "floor_se": e.se,
                         "status": st.value if judged else "shown (not judged: Var f = inf)"})
        jr = [q for q in rows if q["nu"] in TAIL_JUDGED]
        worst = max(jr, key=lambda q: abs(q["z_score"]))
        return _ratio_verdict(
            f"{PREFIX}.heavy_tails.dcsgd_factor", statuses, rows, worst, nus, z, ctx,
            tolerance=f"each |ratio - factor| <= {z:.2f}·SE for nu in {TAIL_JUDGED} "
                      f"(Bonferroni over {len(TAIL_JUDGED)}; delta-method SE of the ratio); "
                      "no model allowance (the floor is linear in the noise covariance, "
                      "exactly, for the algorithm on a quadratic)",
            sample_size=f"{R} replicas per nu",
            details={"rows": rows, "gaussian_floor": g.mean, "gaussian_floor_se": g.se,
                     "reported": f"worst judged row nu = {worst['nu']} (z = "
                                 f"{worst['z_score']:.2f})",
                     "tail_factor_model": ctx.theory.choice("tail_factor", "variance"),
                     **{k: v for k, v in cfg.items() if k != "method"},
                     "method": repr(cfg["method"])})


def _typical_means(v: np.ndarray, ns: list[int]) -> tuple[list[float], list[float]]:
    """Median over disjoint blocks of size n of the block means (the 'typical sample mean
    at sample size n'), with a SE from the order statistics of the block means."""
    med, se = [], []
    for n in ns:
        blocks = v[: (len(v) // n) * n].reshape(-1, n).mean(1)
        m = len(blocks)
        med.append(float(np.median(blocks)))
        # the count of blocks below the median has SD sqrt(m)/2, so the quantiles
        # 0.5 -+ 1/(2 sqrt(m)) are ~1 SE of the median on either side
        lo, hi = np.quantile(blocks, [0.5 - 0.5 / math.sqrt(m), 0.5 + 0.5 / math.sqrt(m)])
        se.append(float((hi - lo) / 2))
    return med, se


@lru_cache(maxsize=4)
def _final_losses(nu: int | None, R: int, seed: int) -> np.ndarray:
    from theorykit.noise import Gaussian, StudentT
    from theorykit.problems import Quadratic
    from theorykit.simulate import run_discrete

    cfg = _dcsgd_tail_cfg()
    prob = Quadratic(eigs=cfg["eigs"])
    nz = Gaussian(sigma=cfg["scale"]) if nu is None else StudentT(nu=nu, scale=cfg["scale"])
    K = round(20 * (1.0 / (2 * min(cfg["eigs"]))) / cfg["eta"])
    r = run_discrete(cfg["method"], prob, nz, eta=cfg["eta"], steps=K, replicas=R,
                     n_workers=cfg["N"], batch=cfg["B"], x0=0.0, seed=seed, record_every=K,
                     stats=("loss",), progress=False, threshold=1e150)
    if r.diverged:
        raise RuntimeError(r.divergence_text())
    return prob.loss(r.x).numpy()


@claim(f"{PREFIX}.heavy_tails.dcsgd_infinite",
       "DCSGD under Student-t noise with ν ≤ 2: E f is infinite (sample mean grows with the "
       "sample size, median finite)", SRC_TAILS, tags=TAGS, mutants=(
           mutant("finite_for_nu_gt_1", "Var T_nu finite for nu > 1 (the mean's condition "
                  "instead of the variance's)", variance_threshold=1),
           mutant("always_finite", "the floor finite for every nu (the Gaussian picture)",
                  variance_threshold=0),
           mutant("infinite_up_to_64", "the floor infinite up to nu = 64 (a fourth-moment-"
                  "like condition taken far too strictly)", variance_threshold=64)))
def dcsgd_tail_infinite(ctx: RunContext) -> Verdict:
    """For ν ≤ 2 the derived variance factor is infinite (sympy: Var T_ν converges only for
    ν > 2), so DCSGD's stationary E f is infinite. Shown by sampling: the typical sample
    mean of f over n replicas (median of block means) keeps growing with n — its
    log-increment from n = 64 to n = 256 is still > 3 SE — while the median of f stays
    finite; ν = 64 is the finite-mean contrast (the same increment within 3 SE of 0).
    Fails if a finite-mean ν keeps growing or an infinite-mean ν levels off (mutants: the
    finiteness threshold moved to ν > 1, ν > 0, ν > 64)."""
    with one_thread():
        from theorykit.rules.bounds import dcsgd_variance_factor

        R = ctx.pick(2**16, 2**18)
        ns = [4, 16, 64, 256, 1024]
        rows, statuses, series = [], [], {"n": ns}
        for i, nu in enumerate((1, 2, 64)):
            v = _final_losses(nu, R, ctx.seed + 40 + i)
            tm, tse = _typical_means(v, ns)
            med = float(np.median(v))
            # 'keeps growing': the log-increment of the typical mean over the late interval
            # n = 64 -> 256 (>= 64 blocks each at quick size, so the median's SE is usable).
            # An infinite mean (tail index of f <= 1) keeps a non-vanishing increment; a
            # finite mean has levelled off by then. n = 1024 is shown, not tested.
            j1, j2 = ns.index(64), ns.index(256)
            growth = math.log(tm[j2] / tm[j1])
            g_se = math.hypot(tse[j1] / tm[j1], tse[j2] / tm[j2])  # conservative (nested)
            factor = dcsgd_variance_factor(nu)
            thr = ctx.theory.choice("variance_threshold", None)  # None: sympy's condition
            infinite = bool(factor == sp.oo) if thr is None else nu <= thr
            grows = growth > 3 * g_se
            sl = stats.loglog_slope(np.array(ns, float), np.array(tm))
            st = Status.of(grows == infinite)
            statuses.append(st)
            rows.append({"nu": nu, "variance_factor": sp.sstr(factor),
                         "predicted_infinite": infinite, "median_f": med,
                         "typical_mean": tm, "typical_mean_se": tse,
                         "log_growth_n64_to_n256": growth, "log_growth_se": g_se,
                         "loglog_slope_typical_mean": sl.slope,
                         "sample_mean_all": float(v.mean()), "max_f": float(v.max()),
                         "status": st.value})
            series[f"typical_mean_nu{nu}"] = tm
            series[f"typical_mean_se_nu{nu}"] = tse
            series[f"median_nu{nu}"] = [med] * len(ns)
            ctx.report((i + 1) / 3)
        r1 = rows[0]
        return Verdict(
            claim_id=f"{PREFIX}.heavy_tails.dcsgd_infinite", status=joint_status(statuses),
            predicted=("E f = inf for nu in "
                       f"{[q['nu'] for q in rows if q['predicted_infinite']]}"), measured=(
                f"nu=1: typical mean {r1['typical_mean'][0]:.3g} -> "
                f"{r1['typical_mean'][-1]:.3g} (n = {ns[0]} -> {ns[-1]}), median "
                f"{r1['median_f']:.3g}"),
            tolerance=("still growing late: log(typical sample mean at n=256 / at n=64) > 3 SE "
                       "for nu <= 2 (infinite mean) and <= 3 SE for nu = 64 (finite mean); SE "
                       "of a median of block means from its order statistics, delta method "
                       "on the log"),
            sample_size=f"{R} replicas (final states after 20 relaxation times) per nu",
            seed=ctx.seed, details={"rows": rows, "n": ns,
                                    "setup": {k: v for k, v in _dcsgd_tail_cfg().items()
                                              if k != "method"}},
            series=series)


def _dsign_tail_theory() -> dict[str, Any]:
    """Knob-free derived objects: the Phase-3-linearised SDE and discrete floors of DSignSGD
    on f = x²/2 with a symbolic Gaussian scale (a Student-t floor is the Gaussian one at the
    equivalent scale sqrt(2B/pi)/a, a = 2 f_nu(0) sqrt(B)/s)."""
    from theorykit.methods import DSignSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.rules.stationary import stationary_discrete, stationary_sde
    from theorykit.sde import derive

    c = DSIGN_TAIL
    prob = Quadratic(eigs=c["eigs"])
    H = prob.hessian()
    sde_g = derive(DSignSGD(), None, Gaussian(sigma="sigma"), prob, n_workers=c["N"],
                   batch=c["B"])
    lin = stationary_sde(sde_g, H, linearize=True)
    dis = stationary_discrete(DSignSGD(), Gaussian(sigma="sigma"), H, c["N"], c["B"],
                              c["eta"], linearize=True)
    return {"sde": sde_g, "lin": lin, "dis": dis}


DSIGN_TAIL = {"eigs": [1.0], "N": 4, "B": 1, "eta": 0.05, "s": 1.0}


def _dsign_tail_pred(nu: int, theory: Any) -> float:
    """The theory's DSignSGD floor ratio Student-t / Gaussian (knob ``tail_factor``:
    ``sign`` as derived; ``variance`` = DCSGD's nu/(nu-2) and ``one`` as mutants)."""
    from theorykit.rules.bounds import dcsgd_variance_factor, dsignsgd_floor_ratio

    which = theory.choice("tail_factor", "sign")
    if which == "one":
        return 1.0
    if which == "variance":
        v = dcsgd_variance_factor(nu)
        return math.inf if v == sp.oo else float(v)
    return float(dsignsgd_floor_ratio(nu)) * theory.factor("density_at_zero") ** -1


@claim(f"{PREFIX}.heavy_tails.dsignsgd_factor",
       "DSignSGD floor under Student-t noise / Gaussian floor = (1/(2 f_ν(0)))/√(π/2) for "
       "every ν, including ν = 1", SRC_TAILS, tags=TAGS, mutants=(
           mutant("tail_factor_variance", "DCSGD's variance factor nu/(nu-2) (infinite for "
                  "nu <= 2) used for DSignSGD", tail_factor="variance"),
           mutant("tail_factor_one", "tail factor -> 1 (floor blind to the tails)",
                  tail_factor="one"),
           mutant("density_at_zero_x1_2", "f_nu(0) halved in the Phase-3 drift slope "
                  "(a = f_nu(0) sqrt(B)/s instead of 2 f_nu(0) sqrt(B)/s), Student-t only",
                  density_at_zero=0.5)))
def dsignsgd_tail_factor(ctx: RunContext) -> Verdict:
    """DSignSGD (N = 4, B = 1) on f = x²/2: the stationary E f under Student-t(ν, s) over
    the one under Gaussian(σ = s) equals the derived Phase-3 ratio
    (1/(2 f_ν(0)))/√(π/2) for ν = 1, 2, 3, 8, 64 — finite even where the noise variance is
    infinite. Two-sided per ν (Bonferroni), with a declared allowance from the derived
    linearised discrete floors (O(η)) and the Phase-3 linearisation error bound, both
    evaluated under the theory being tested. Fails if the tail enters otherwise (mutants:
    DCSGD's variance factor; factor 1; f_ν(0) off by 2 in the drift slope)."""
    with one_thread():
        from theorykit.methods import DSignSGD
        from theorykit.problems import Quadratic
        from theorykit.rules.bounds import student_t_density_at_zero

        c = DSIGN_TAIL
        eigs, N, B, eta, s = c["eigs"], c["N"], c["B"], c["eta"], c["s"]
        prob = Quadratic(eigs=eigs)
        R = ctx.pick(2000, 20_000)
        th = ctx.memo(("dsign-tail-theory",), _dsign_tail_theory)
        sig = sp.Symbol("sigma", positive=True)

        def tau_of(nu: Any) -> float:
            f0 = 1 / math.sqrt(2 * math.pi) if nu is None else float(
                student_t_density_at_zero(nu))
            return 1 / (2 * (2 * f0 * math.sqrt(B) / s) * eigs[0])

        floors = ctx.memo(("dsign-tail", ctx.mode, ctx.seed), lambda: _tail_floors(
            DSignSGD(), prob, s, NUS, seed=ctx.seed + 60, tau_of=tau_of, ctx=ctx, N=N, B=B,
            eta=eta, R=R))

        def closed(ratio: float) -> tuple[float, float, float]:
            """(linearised SDE floor, linearised discrete floor, linearisation rel. error)
            at the equivalent Gaussian scale that gives the floor ratio ``ratio``."""
            s_eq = s * ratio
            M = th["lin"].M.xreplace({th["sde"].lr: eta, sig: s_eq})
            return (th["lin"].value({th["sde"].lr: eta, sig: s_eq}),
                    th["dis"].value({sig: s_eq}), sign_lin_allowance(eigs, M, B, s_eq, None))

        g = floors[None]
        g_lin, g_dis, g_rel = closed(1.0)
        z = stats.bonferroni_z(len(NUS))
        rows, statuses = [], []
        for nu, e, r, pred in _tail_ratios(floors, NUS,
                                           lambda nu: _dsign_tail_pred(nu, ctx.theory)):
            if not math.isfinite(pred):
                st, tol_model, f_lin, f_dis = Status.CONTRADICTED, 0.0, math.inf, math.inf
            else:
                f_lin, f_dis, rel = closed(pred)
                # declared allowance: O(eta) gap of the derived linearised discrete floors
                # + the Phase-3 linearisation error bound of both floors (same theory)
                tol_model = abs(f_dis / g_dis - pred) + (rel + g_rel) * pred
                ok = abs(r.mean - pred) <= z * r.se + tol_model
                st = Status.of(ok)
                if st == Status.HOLDS and (r.se > 0.25 * pred or tol_model > 0.1 * pred):
                    st = Status.INCONCLUSIVE  # too noisy, or the declared allowance too wide
            statuses.append(st)
            rows.append({"nu": nu, "ratio": r.mean, "ratio_se": r.se, "predicted": pred,
                         "f_nu(0)": float(student_t_density_at_zero(nu)),
                         "model_tol": tol_model, "floor": e.mean, "floor_se": e.se,
                         "closed_linearised": f_lin, "closed_linearised_discrete": f_dis,
                         "status": st.value})
        worst = max(rows, key=lambda q: abs(q["ratio"] - q["predicted"])
                    / (z * q["ratio_se"] + q["model_tol"]))
        return _ratio_verdict(
            f"{PREFIX}.heavy_tails.dsignsgd_factor", statuses, rows, worst, NUS, z, ctx,
            tolerance=(f"each |ratio - pred| <= {z:.2f}·SE (Bonferroni over {len(NUS)} nu) + "
                       "model_tol (declared: O(eta) gap of the derived linearised discrete "
                       "floors + Phase-3 linearisation error bound |f''(0)/f(0)| E u²/2)"),
            sample_size=f"{R} replicas per noise",
            details={"rows": rows, "gaussian_floor": g.mean, "gaussian_floor_se": g.se,
                     "gaussian_closed_linearised": g_lin, "eta": eta, "N": N, "B": B,
                     "eigs": eigs, "scale": s, "reported": f"worst row nu = {worst['nu']}",
                     "tail_factor_model": ctx.theory.choice("tail_factor", "sign")})
