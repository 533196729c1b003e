r"""(L0, L1)-smoothness claims on learning-rate schedules, from Compagnoni, Islamov, Orvieto
& Gorbunov, *On the Interaction of Noise, Compression Role, and Adaptivity under
(L0, L1)-Smoothness: An SDE-based Approach*, arXiv 2506.00181 (2025) — issue 4, part B2
(the problems, the descent identity and the Itô drift are in
``derivations/compagnoni2025_l0l1.py``, whose module doc gives the provenance).

* ``l0l1.schedule_condition``: the schedule cap derived by :mod:`theorykit.rules.l0l1` is
  exact where its two bounds are attained (MC, Richardson in dt);
* ``l0l1.decay_vs_normalized``: from a large initial point DCSGD with a decaying schedule
  diverges, the normalized schedule (derived degree) and DSignSGD converge — the real
  discrete methods and their derived SDEs, in guarded runs (:mod:`theorykit.run.guarded`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from derivations._common import COMPAGNONI2025_L0L1, one_thread
from derivations._l0l1_common import PREFIX, TAGS, ito_knobs, richardson
from derivations._l0l1_setting import DECAY, ETA, N_WORKERS, OMEGA, P_KEEP, SIGMA, THETA, X0_LARGE
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim

PAPER = COMPAGNONI2025_L0L1

SRC_SCHEDULE = Source(
    PAPER, "abstract: schedule needs an inverse dependence on the gradient norm; degree "
    "of normalization set by noise, regularity and compression (v2)", "derived",
    note="the cap eta(t) <= 2(1-theta) N/(eta omega_eff (L0 + L1 G)) and c1 = eta L1 "
         "omega_eff/N (theta = 1/2) are derived by theorykit.rules.l0l1; the paper's "
         "abstract states only the inverse dependence and what sets the degree")
SRC_FAIL = Source(
    PAPER, "abstract: decaying schedules fail for D(C)SGD unless normalized; DSignSGD "
    "converges with standard schedules; validated through simulation", "paper-abstract",
    note="the test problem, constants, schedule and criteria are theorykit's; the "
         "normalization degree is the derived one")


# ====================================================================== 4. schedule cap
CAP_X0 = (3.0,)
CAP_T = 0.02
CAP_STEPS = (20, 40)


def _cap_problem() -> Any:
    """f(x) = e^x - x - 1 on R: f' = e^x - 1, f'' = e^x = 1 + f', so f is (1, 1)-smooth with
    *equality* on x >= 0 (derived), convex, f* = 0 at 0."""
    from theorykit.problems import Problem

    x = sp.Symbol("x1", real=True)
    p = Problem.from_expr(sp.exp(x) - x - 1, [x], name="exp_minus_linear")
    p.L0, p.L1 = 1.0, 1.0
    return p


def _cap_coefficients(ctx: RunContext) -> tuple[float, float]:
    """(c0, c1) with eta(t) = 1/(c0 + c1 G) equal to the theory's cap
    2(1 - theta) N / (eta omega_eff (L0 + L1 G)) (no max(1, .) clamp: the schedule is *at*
    the cap). Knobs: the cap x factor, the 1/N dropped, omega -> 1 + omega, L1 -> 0."""
    from theorykit.rules.l0l1_descent import SYM, descent_inequality

    th = ctx.theory
    s = SYM
    di = ctx.memo(("di",), lambda: descent_inequality(sp.Rational(1, 2)))
    omega = OMEGA + 1.0 if th.flag("omega_plus_one") else OMEGA
    n_workers = 1 if th.flag("drop_1_over_N") else N_WORKERS
    L1 = 0.0 if th.flag("l1_zero") else 1.0
    vals = {s["eta"]: ETA, s["N"]: n_workers, s["L0"]: 1.0, s["L1"]: L1, s["omega"]: omega,
            s["sigma1"]: 0.0}
    c0, c1 = float(di.c0_min.subs(vals)), float(di.c1_min.subs(vals))
    k = th.factor("cap")
    return c0 / k, c1 / k


def _cap_runs(c0: float, c1: float, R: int, seed: int) -> dict[int, Any]:
    from theorykit.compressors.registry import make
    from theorykit.errors import InputError
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.rules.l0l1_dynkin import dynkin_check
    from theorykit.schedules import Constant, GradientNormalized
    from theorykit.sde import derive

    prob = _cap_problem()
    sde = derive(DCSGD(make("bernoulli", p=P_KEEP)), None, Gaussian(0.0), prob,
                 n_workers=N_WORKERS, batch=1)
    sched = GradientNormalized(Constant(), c0=c0, c1=c1)
    out = {}
    with one_thread():
        for j, steps in enumerate(CAP_STEPS):
            try:
                out[steps] = dynkin_check(sde, prob, {}, eta=ETA, schedule=sched, x0=CAP_X0,
                                          steps=steps, dt=CAP_T / steps, replicas=R,
                                          seed=seed + 31 * j, record_every=steps // 10,
                                          gh_nodes=0, second_order_cv=True)
            except InputError:  # paths left the finite range: the descent is lost
                return None
    return out


@claim(f"{PREFIX}.schedule_condition",
       "Schedule cap eta(t) <= 2(1-theta)N/(eta omega_eff (L0 + L1 ||grad f||)) is exact: at "
       "the cap DCSGD keeps the fraction theta of its descent where the bounds are attained",
       SRC_SCHEDULE, tags=TAGS,
       mutants=(*factor_mutants("cap", "the schedule cap"),
                mutant("drop_1_over_N", "cap without the 1/N of the averaged compressors",
                       drop_1_over_N=True),
                mutant("omega_plus_one", "compression constant 1 + omega (second moment) "
                       "instead of omega", omega_plus_one=True),
                mutant("l1_zero", "cap from L-smoothness with L = L0 (no 1/G)",
                       l1_zero=True)))
def schedule_condition_claim(ctx: RunContext) -> Verdict:
    """The derived cap (theta = 1/2) comes from two inequalities, ||H|| <= L0 + L1 G and
    tr(H Sigma) <= ||H|| tr Sigma. On f(x) = e^x - x - 1 (d = 1, (L0, L1) = (1, 1) with
    equality for x >= 0) with noise-free DCSGD (Bernoulli p = 1/4, omega = 3, N = 4, sigma = 0
    so tr Sigma = omega G^2/N exactly) both hold with equality, so the schedule
    eta(t) = cap(G(X_t)) (= 1/(c0 + c1 G), c0 = eta omega L0/N, c1 = eta omega L1/N) must keep
    *exactly* the fraction theta of the descent:
    E[f(X_T) - f(X_0)] = -theta E int eta(t) G^2 dt.
    Measured on Euler–Maruyama paths of the derived SDE from x0 = 3 over T = 0.02 (per
    replica f(X_T) - f(X_0) - M_T + theta int eta(t) G^2 dt, M_T the first- and
    second-order martingale parts of the Euler increments),
    Richardson-extrapolated from dt = T/20 and T/40 (independent seeds), = 0 within 3 SE;
    the paths must stay in x >= 0 (else inconclusive: the bounds are not attained there).

    A schedule above the cap keeps less (at 2x the cap the descent is lost: fraction 0),
    one below keeps more; so the check fails when the cap is off by a factor (mutants: cap
    x2 and x1/2, 1/N dropped, omega -> 1 + omega, L1 -> 0), each simulated at its own
    schedule."""
    cid = f"{PREFIX}.schedule_condition"
    R = ctx.pick(4000, 40_000)
    c0, c1 = _cap_coefficients(ctx)
    runs = ctx.memo(("cap", c0, c1, R, ctx.seed), lambda: _cap_runs(c0, c1, R, ctx.seed))
    if runs is None:
        return Verdict(
            cid, Status.CONTRADICTED, predicted=f"fraction kept = theta = {THETA:g}",
            measured="Euler–Maruyama paths at this schedule left the finite range within "
                     f"T = {CAP_T:g} (the descent is lost)",
            tolerance="any non-finite path contradicts a kept fraction theta > 0",
            sample_size=f"{R} replicas", seed=ctx.seed, details={"c0": c0, "c1": c1})
    c, f = runs[CAP_STEPS[0]], runs[CAP_STEPS[1]]
    # integral_first_order = int -eta(t) G^2 dt
    res = richardson(c.delta - THETA * c.integral_first_order,
                      f.delta - THETA * f.integral_first_order)
    descent = richardson(-c.integral_first_order, -f.integral_first_order)
    change = richardson(c.delta, f.delta)
    kept = -change.mean / descent.mean
    min_x = float(min(c.min_coordinate.min(), f.min_coordinate.min()))
    v = stats.agree(cid, 0.0, res, seed=ctx.seed, max_rel_se=None, details={
        "c0": c0, "c1": c1, "fraction_of_descent_kept": kept,
        "fraction_kept_se": res.se / descent.mean, "theta": THETA,
        "E_f_change": change.mean, "E_int_eta_G2": descent.mean,
        "min_x_visited": min_x,
        "setting": {"f": "e^x - x - 1", "x0": CAP_X0, "T": CAP_T,
                    "dt": [CAP_T / s for s in CAP_STEPS], "eta": ETA, "N": N_WORKERS,
                    "omega": OMEGA, "sigma": 0.0}})
    if min_x < 0 and v.status == Status.HOLDS:
        v.status = Status.INCONCLUSIVE  # the bounds are not attained for x < 0
    v.predicted = f"fraction kept = theta = {THETA:g} (residual 0)"
    v.measured = (f"fraction kept = {kept:.4g} ± {res.se / descent.mean:.2g}; residual "
                  f"{res.mean:.4g} ± {res.se:.2g}")
    v.sample_size = (f"{R} replicas at each of dt = T/{CAP_STEPS[0]} and T/{CAP_STEPS[1]} "
                     "(independent seeds)")
    v.tolerance += ("; measured: Richardson-extrapolated mean of f(X_T) - f(X_0) - M_T + "
                    "theta int eta(t) G^2 dt")
    return v


# ====================================================================== 5. simulations
DIVERGE_FACTOR = 100.0
FAIL_FRACTION = 0.05
CONVERGE_FRACTION = 0.01
STALL_FRACTION = 0.10
# (method, normalized?) -> seed offset; a normalization that reduces to the plain schedule
# is the plain configuration and shares its run
_SEED_TAG = {("dcsgd", False): 0, ("dcsgd", True): 1, ("dsignsgd", False): 2,
             ("dsgd", False): 3}


def _normalization(ctx: RunContext) -> tuple[float, float]:
    """(c0, c1) of the normalized schedule under the theory: the derived degree
    (:func:`~theorykit.rules.l0l1.degree_of_normalization`), computed with the theory's
    omega and L1; without an Itô term there is no cap and no normalization (1, 0)."""
    from theorykit.rules.l0l1_descent import degree_of_normalization

    ito_f, om_f, l1_f = ito_knobs(ctx)
    if ito_f == 0:
        return 1.0, 0.0
    return degree_of_normalization(ETA, N_WORKERS, 1.0, 2.0 * l1_f, om_f * OMEGA)


def _configs(c0: float, c1: float, full: bool) -> dict[str, tuple[str, Any, Any]]:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD, DSGD, DSignSGD
    from theorykit.schedules import GradientNormalized, PolynomialDecay

    base = PolynomialDecay(DECAY)
    comp = make("bernoulli", p=P_KEEP)
    plain = c0 == 1.0 and c1 == 0.0
    norm = base if plain else GradientNormalized(base, c0=c0, c1=c1)
    out = {"dcsgd_decay": ("dcsgd", DCSGD(comp), base),
           "dcsgd_normalized": ("dcsgd", DCSGD(comp), norm),
           "dsignsgd_decay": ("dsignsgd", DSignSGD(), base)}
    if full:
        out["dsgd_decay (reference)"] = ("dsgd", DSGD(), base)
    return out


def _simulate_one(method: Any, sched: Any, side: str, R: int, K: int, seed: int) -> Any:
    from theorykit.noise import Gaussian
    from theorykit.problems import L0L1Quartic
    from theorykit.run.guarded import discrete_step, guarded_run, sde_step
    from theorykit.sde import derive

    prob = L0L1Quartic(d=2)
    noise = Gaussian(SIGMA)
    thr = DIVERGE_FACTOR * max(X0_LARGE)
    if side == "discrete":
        step = discrete_step(method, prob, noise, ETA, sched, N_WORKERS)
        steps = K
    else:
        sde = derive(method, None, noise, prob, n_workers=N_WORKERS, batch=1)
        step = sde_step(sde, prob, {}, ETA, sched, ETA / 2)
        steps = 2 * K
    at = np.unique(np.round(np.geomspace(1, steps, 60)).astype(int))
    with one_thread():
        return guarded_run(step, prob, X0_LARGE, steps=steps, replicas=R, seed=seed,
                           threshold=thr, record_at=at)


def simulate_all(ctx: RunContext, sides: tuple[str, ...] = ("discrete", "sde"),
                 c0: float | None = None, c1: float | None = None
                 ) -> dict[str, dict[str, Any]]:
    """Run every configuration on both sides (GuardedRun results), each configuration once
    per context (``ctx.memo``: a mutant whose normalization reduces to the plain schedule
    reuses the plain run). ``c0, c1`` default to the theory's normalization."""
    if c0 is None or c1 is None:
        c0, c1 = _normalization(ctx)
    R = ctx.pick(400, 4000)
    K = ctx.pick(2000, 4000)
    out: dict[str, dict[str, Any]] = {s: {} for s in sides}
    for name, (mname, m, sch) in _configs(c0, c1, not ctx.quick).items():
        tag = _SEED_TAG[(mname, "Normalized" in type(sch).__name__)]
        for side in sides:
            seed = ctx.seed + 101 * tag + (7 if side == "sde" else 0)
            out[side][name] = ctx.memo(
                ("guarded", mname, repr(sch), side, R, K, seed),
                lambda m=m, sch=sch, side=side, seed=seed: _simulate_one(m, sch, side, R, K,
                                                                         seed))
    return out


def _theory_at_x0(ctx: RunContext, c0: float, c1: float) -> dict[str, dict[str, float]]:
    """At x0 = (4, 4), k = 0, with the plain schedule (eta(0) = 1) and the normalized one:
    the theory's *bound* on d E f/dt (the derived descent inequality with the theory's
    omega, L1 and Itô term; its sign is the prediction: positive means the cubic Itô term
    beats the descent) and, for reference, the exact generator of the DCSGD SDE (Sigma
    written out by :func:`~theorykit.rules.l0l1.dcsgd_sigma`, whose identity with the
    derived SDE is claim ``l0l1.descent_identity``)."""
    from theorykit.problems import L0L1Quartic
    from theorykit.rules.l0l1_descent import SYM, dcsgd_sigma, descent_inequality

    s = SYM
    ito_f, om_f, l1_f = ito_knobs(ctx)
    prob = L0L1Quartic(d=2)
    at = dict(zip(prob.symbols, X0_LARGE, strict=True))
    g = prob.grad().subs(at)
    H = prob.hessian().subs(at)
    g2 = float((g.T * g)[0, 0])
    G = math.sqrt(g2)
    ito = ETA / (2 * N_WORKERS) * float(
        (H * dcsgd_sigma(g, [sp.Float(SIGMA**2)] * 2, sp.Float(OMEGA))).trace())
    di = ctx.memo(("di",), lambda: descent_inequality(sp.Rational(1, 2)))
    ito_bound = float((di.rhs + s["m"] * s["G"] ** 2).subs({
        s["m"]: 1, s["eta"]: ETA, s["N"]: N_WORKERS, s["L0"]: prob.L0,
        s["L1"]: l1_f * prob.L1, s["omega"]: om_f * OMEGA,
        s["sigma0"]: math.sqrt(prob.d) * SIGMA, s["sigma1"]: 0, s["G"]: G}))
    out: dict[str, dict[str, float]] = {"bound": {}, "generator": {}}
    for name, m in (("plain", 1.0), ("normalized", 1.0 / (c0 + c1 * G))):
        out["bound"][name] = -m * g2 + m**2 * ito_f * ito_bound
        out["generator"][name] = -m * g2 + m**2 * ito
    return out


@claim(f"{PREFIX}.decay_vs_normalized",
       "From a large initial point DCSGD with eta0/(k+1)^0.6 diverges; normalized DCSGD "
       "(derived degree) and DSignSGD with the same schedule converge", SRC_FAIL, tags=TAGS,
       mutants=(mutant("omega_zero", "compression adds no variance (omega -> 0): no cubic "
                       "term, no normalization needed", omega_zero=True),
                mutant("drop_ito", "first-order (gradient-flow) theory: no Itô term, no "
                       "normalization", drop_ito=True),
                mutant("l1_zero", "L-smooth analysis (L1 -> 0): normalization degree c1 = 0",
                       l1_zero=True)))
def decay_vs_normalized_claim(ctx: RunContext) -> Verdict:
    """Quartic f = (x1^4 + x2^4)/4 ((L0, L1) = (1, 2)), x0 = (4, 4), Gaussian noise
    sigma = 1, N = 4, B = 1, Bernoulli compressor p = 1/4 (omega = 3), eta0 = 0.1,
    eta_k = eta0/(k+1)^0.6. The prediction comes from the theory: DCSGD with a schedule
    *fails* when the derived descent bound on d E f/dt at x0 is positive (the cubic Itô
    term beats the descent) and *converges* otherwise; the normalized schedule is
    base/(c0 + c1 ||g||) with the derived degree c1 = eta L1 omega/N; DSignSGD's Itô term
    is linear in G, so it converges.
    Criteria: a replica *diverges* when a coordinate leaves |x_j| <= 100 max|x0| or is
    non-finite; a method *fails* if at least 5% of replicas diverge or the survivors' mean
    final loss exceeds 10% of f(x0); it *converges* if no replica diverges and the mean
    final loss is at most 1% of f(x0) (one-sided, 3 SE). Checked with the real discrete
    methods and with their derived SDEs (Euler–Maruyama, dt = eta/2, same schedule in SDE
    time). Mutants (omega -> 0, no Itô term, L1 -> 0) predict that the plain schedule
    converges or that c1 = 0 suffices; the simulations contradict them."""
    cid = f"{PREFIX}.decay_vs_normalized"
    c0, c1 = _normalization(ctx)
    res = simulate_all(ctx, c0=c0, c1=c1)
    gen0 = _theory_at_x0(ctx, c0, c1)
    bound0 = gen0["bound"]
    expected = {"dcsgd_decay": "fail" if bound0["plain"] > 0 else "converge",
                "dcsgd_normalized": "fail" if bound0["normalized"] > 0 else "converge",
                "dsignsgd_decay": "converge"}
    R = ctx.pick(400, 4000)
    rows: dict[str, Any] = {}
    ok = True
    series: dict[str, Any] = {}
    for side, runs in res.items():
        for name, r in runs.items():
            surv = r.final_loss[np.isfinite(r.final_loss)]
            est = stats.mean_se(surv) if surv.size >= 2 else None
            frac = r.frac_diverged
            fails = frac >= FAIL_FRACTION or (est is not None and est.mean > STALL_FRACTION
                                              * r.f0)
            conv = frac == 0 and est is not None and (
                est.mean - 3 * est.se <= CONVERGE_FRACTION * r.f0)
            expect = expected.get(name, "(reference)")
            good = fails if expect == "fail" else conv
            if name in expected:
                ok = ok and good
            rows[f"{side}:{name}"] = {
                "expected": expect, "fraction_diverged": frac,
                "fraction_diverged_se": math.sqrt(frac * (1 - frac) / R),
                "first_divergence_step": r.first_divergence,
                "final_loss_over_f0": None if est is None else est.mean / r.f0,
                "final_loss_over_f0_se": None if est is None else est.se / r.f0,
                "outcome": "fails" if fails else ("converges" if conv else "neither"),
                "as_expected": good if name in expected else "(reference)"}
            series[f"{side}:{name}:steps"] = r.steps
            series[f"{side}:{name}:loss_mean"] = r.loss_mean
            series[f"{side}:{name}:loss_median"] = r.loss_median
            dv = r.diverged_at
            series[f"{side}:{name}:diverged_by_step"] = [
                float(((dv >= 0) & (dv <= k)).mean()) for k in r.steps]
    meas = "; ".join(f"{k}: {v['fraction_diverged']:.0%} diverged, final/f0 = "
                     + ("n/a" if v["final_loss_over_f0"] is None
                        else f"{v['final_loss_over_f0']:.2g}")
                     for k, v in rows.items() if "reference" not in k)
    return Verdict(
        cid, Status.of(ok), predicted="; ".join(f"{k} {v}s" for k, v in expected.items())
        + " (discrete and SDE)", measured=meas,
        tolerance=(f"diverge: |x_j| > {DIVERGE_FACTOR:g} max|x0| or non-finite; fail: >= "
                   f"{FAIL_FRACTION:.0%} diverged or survivors' mean final loss > "
                   f"{STALL_FRACTION:.0%} f0; converge: none diverged and mean final loss - "
                   f"3 SE <= {CONVERGE_FRACTION:.0%} f0"),
        sample_size=f"{R} replicas per method and side; {ctx.pick(2000, 4000)} steps "
                    "(SDE: twice as many Euler steps of dt = eta/2)",
        seed=ctx.seed,
        details={"runs": rows, "dEf_dt_at_x0_bound_(prediction)": bound0,
                 "dEf_dt_at_x0_exact_generator": gen0["generator"],
                 "normalization_c0_c1": (c0, c1), "setting": {
                     "problem": "quartic d=2, c=1, (L0, L1) = (1, 2)", "x0": X0_LARGE,
                     "eta0": ETA, "schedule": f"(1+k)^-{DECAY}", "N": N_WORKERS, "B": 1,
                     "sigma": SIGMA, "compressor": f"bernoulli p={P_KEEP} (omega={OMEGA:g})",
                     "normalized grad norm": "discrete: ||mean of workers' stochastic "
                                             "gradients||; SDE: ||grad f(X_t)||",
                     "note": "the exact SDE with |x|^3-growing diffusion does not explode "
                             "(Feller's test), but Euler–Maruyama paths of it do "
                             "(Hutzenthaler, Jentzen & Kloeden 2011, recalled): the "
                             "SDE-side divergence fraction depends on dt; the DSGD "
                             "reference (no compression) runs in full mode only"}},
        series=series)
