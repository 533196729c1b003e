r"""(L0, L1)-smoothness claims of Compagnoni, Islamov, Orvieto & Gorbunov, *On the Interaction
of Noise, Compression Role, and Adaptivity under (L0, L1)-Smoothness: An SDE-based Approach*,
arXiv 2506.00181 (2025; v2 2026 with Proske & Lucchi) — issue 4, part B2.

Provenance, honestly (``docs/theory/sde_papers.md`` §0, §3):

* *read* (``paper-abstract``): D(C)SGD with a pre-scheduled decaying learning rate fails to
  converge unless the schedule depends inversely on the gradient norm; normalizing the
  update is the fix and its *degree* is set by the noise, the landscape regularity and the
  compression rate; DSignSGD converges under standard schedules; "validated through
  simulation";
* *derived* by theorykit (``derived``): the (L0, L1) constants of the test problems, the
  Itô descent inequality with its cubic term, the schedule cap, the degree of normalization
  c1 (all in :mod:`theorykit.rules.l0l1`). The paper's exact theorem statements were not
  retrieved; its constants may differ.

Every claim declares mutants — concrete wrong versions of its theory (a constant x2 or x1/2,
the Itô term dropped, the compression variance ω set to 0, the cap of the schedule x2 ...)
— read from ``ctx.theory`` where the theory enters, and the same check must contradict each
of them (``theorykit verify --mutants``). What is measured: the (L0, L1) inequality and its
tightness at sampled points; the generator identity symbolically and the sharpness of the
derived bound at sampled states; Dynkin's formula along Euler–Maruyama paths (MC with SE,
Richardson in dt); the fraction of the descent kept by a schedule at the derived cap, on a
function where the cap is exact (MC, Richardson in dt); and the real discrete methods
(Bernoulli compressor codec, sampled Gaussian noise) and their derived SDEs from a large
initial point. The first three claims are here; the two on schedules (the cap and the
decaying vs the normalized schedule) are in ``derivations/compagnoni2025_l0l1_schedules.py``,
and what they share in ``derivations/_l0l1_common.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations._common import COMPAGNONI2025_L0L1, one_thread
from derivations._l0l1_common import PREFIX, TAGS, dcsgd_sde, ito_knobs, richardson
from derivations._l0l1_setting import DECAY, ETA, N_WORKERS, OMEGA, P_KEEP, ROUND, SIGMA
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim

PAPER = COMPAGNONI2025_L0L1

SRC_PROBLEMS = Source(
    PAPER, "(L0,L1)-smooth test functions (x^4, cosh), docs/theory/sde_papers.md §3.1", "derived",
    note="(L0,L1)-smoothness: Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1 (recalled); "
         "the constants are derived by theorykit.rules.l0l1.check_l0l1 / smallest_l0")
SRC_DESCENT = Source(
    PAPER, "Itô descent inequality for D(C)SGD with schedule, docs/theory/sde_papers.md §3.3",
    "derived",
    note="the paper bounds D(C)SGD under (L0,L1)-smoothness and flexible noise (abstract, "
         "read); the inequality and its cubic term are derived by "
         "theorykit.rules.l0l1.descent_inequality from the DCSGD SDE (recalled)")


# ====================================================================== 1. the problems
def _problem_samples(prob: Any, n: int, seed: int) -> dict[str, np.ndarray]:
    """||Hess f|| and ||grad f|| at the sampled points of :func:`check_l0l1` plus the points
    where the stated constants are attained (quartic: x = e_j, cosh: x = 0)."""
    from theorykit.rules.l0l1_check import sample_points

    P, rad = sample_points(prob.d, 8.0, n, seed)
    extra = np.vstack([np.eye(prob.d), -np.eye(prob.d), np.zeros((1, prob.d))])
    P = np.vstack([P, extra])
    rad = np.concatenate([rad, np.zeros(len(extra))])
    X = torch.as_tensor(P, dtype=torch.float64)
    with torch.no_grad():
        H = torch.linalg.matrix_norm(prob.hessian(X), ord=2).numpy()
        G = prob.grad(X).norm(dim=-1).numpy()
    shells = [(float(r), float(H[rad == r].max())) for r in np.unique(rad) if r > 0]
    r_out, h_out = shells[-1]
    half = min(shells[:-1], key=lambda s: abs(s[0] - r_out / 2))
    return {"H": H, "G": G, "n": np.array(len(P)), "growth": np.array(h_out / half[1])}


@claim(f"{PREFIX}.problems",
       "Test problems: x^4/4 is (1,2)- and cosh (1,1)-smooth with tight constants, and "
       "neither is L-smooth", SRC_PROBLEMS, tags=TAGS,
       mutants=(*factor_mutants("L0", "the stated L0"), *factor_mutants("L1", "the stated L1"),
                mutant("l_smooth", "the test problems are L-smooth (bounded Hessian)",
                       l_smooth=True)))
def problems_claim(ctx: RunContext) -> Verdict:
    """For L0L1Quartic (c = 1) with stated (L0, L1) = (1, 2) and CoshSum with (1, 1), at
    float64 sample points (random directions on log-spaced radii up to 8, the axes, and the
    points where the constants are attained):

    * *valid*: ||H|| <= L0 + L1 ||grad f|| at every point (relative excess <= 1e-9) and
      SymPy's smallest L0 for the stated L1 is <= L0 (the quartic's is 4c/L1^2);
    * *tight*: SymPy's smallest L0 equals the stated L0, max (||H|| - L1 G) over the samples
      reaches L0, and max (||H|| - L0)/G reaches L1 to 1e-3 (cosh approaches its L1 only
      as |x| -> oo: tanh(4) = 1 - 6.7e-4 at radius 8);
    * *not L-smooth*: SymPy's limit of |f''| is oo and sup ||H|| more than doubles when the
      radius doubles.

    Fails when a stated constant is too small (violated) or too large (not tight), or if a
    problem were L-smooth. Mutants: L0 or L1 x2 / x1/2, "L-smooth"."""
    from theorykit.problems import CoshSum, L0L1Quartic
    from theorykit.rules.l0l1_check import check_l0l1, smallest_l0

    cid = f"{PREFIX}.problems"
    th = ctx.theory
    n = ctx.pick(1200, 12_000)
    L1s = sp.Symbol("L_1", positive=True)

    def quartic_formula() -> bool:
        sym_l0 = smallest_l0(L0L1Quartic(d=1), L1s)
        return sym_l0 is not None and sp.simplify(
            sym_l0[0] - L0L1Quartic.l0_for("L_1").subs(L0L1Quartic.c_symbol, 1)) == 0 \
            and sp.simplify(sym_l0[0] - 4 / L1s**2) == 0

    ident = ctx.memo(("quartic_l0_formula",), quartic_formula)
    rows: dict[str, Any] = {}
    oks = [ident]
    for prob in (L0L1Quartic(d=2), CoshSum(d=2)):
        L0 = prob.L0 * th.factor("L0")
        L1 = prob.L1 * th.factor("L1")
        meas = ctx.memo(("samples", prob.name, n, ctx.seed),
                        lambda p=prob: _problem_samples(p, n, ctx.seed))
        # separable with identical coordinates: the 1-D problem has the same constants
        sym = ctx.memo(("symbolic", prob.name, L1), lambda p=prob, a=L1: check_l0l1(
            type(p)(d=1), L0=p.L0, L1=a, samples=48, seed=ctx.seed,
            raise_on_violation=False))
        H, G = meas["H"], meas["G"]
        rhs = L0 + L1 * G
        rel_excess = float(((H - rhs) / np.maximum(rhs, 1e-300)).max())
        l0_min = None if sym.l0_min is None else max(float(e) for e in sym.l0_min)
        sup_l0 = float((H - L1 * G).max())
        pos = G > 0
        sup_l1 = float(((H[pos] - L0) / G[pos]).max())
        valid = rel_excess <= ROUND and l0_min is not None and l0_min <= L0 * (1 + ROUND)
        tight = (l0_min is not None and l0_min >= L0 * (1 - ROUND)
                 and sup_l0 >= L0 * (1 - ROUND) and sup_l1 >= L1 * (1 - 1e-3))
        not_l = bool(sym.hessian_unbounded) and float(meas["growth"]) > 2.0
        predicted_l_smooth = th.flag("l_smooth")
        good = valid and tight and (not_l != predicted_l_smooth)
        oks.append(good)
        rows[prob.name] = {
            "stated": (L0, L1), "l0_min_sympy_at_stated_L1": l0_min,
            "n_points": int(meas["n"]), "max_rel_excess": rel_excess,
            "sup_H_minus_L1G": sup_l0, "sup_(H-L0)/G": sup_l1, "valid": valid,
            "tight": tight, "hessian_unbounded_sympy": sym.hessian_unbounded,
            "sup_hess_growth_when_radius_doubles": float(meas["growth"]),
            "predicted_L_smooth": predicted_l_smooth, "measured_not_L_smooth": not_l,
            "ok": good}
    meas_txt = "; ".join(
        f"{k}: rel excess {v['max_rel_excess']:.2g}, SymPy min L0 {v['l0_min_sympy_at_stated_L1']}"
        f", sup(H - L1 G) = {v['sup_H_minus_L1G']:.4g}, sup((H - L0)/G) = "
        f"{v['sup_(H-L0)/G']:.4g}, sup||H|| x{v['sup_hess_growth_when_radius_doubles']:.3g}"
        " per doubling" for k, v in rows.items())
    pred = "; ".join(f"{k} ({v['stated'][0]:g}, {v['stated'][1]:g}) valid and tight"
                     for k, v in rows.items())
    pred += "; L-smooth" if th.flag("l_smooth") else "; not L-smooth"
    return Verdict(
        cid, Status.of(all(oks)), predicted=pred, measured=meas_txt,
        tolerance="valid: relative excess <= 1e-9 (float64 rounding) at every point and "
                  "SymPy min L0 <= L0; tight: SymPy min L0 = L0, sup(H - L1 G) >= L0 "
                  "(1 - 1e-9), sup((H - L0)/G) >= L1 (1 - 1e-3); not L-smooth: SymPy "
                  "lim |f''| = oo and sup ||H|| more than doubles per radius doubling",
        sample_size=f"{n} points + axes and attaining points per problem", seed=ctx.seed,
        details={"problems": rows, "quartic_identity_4c_over_L1sq": ident})


# ====================================================================== 2. the identity
def _identity_measurement() -> dict[str, Any]:
    """The generators of the derived SDEs (symbolic U(omega); Bernoulli p = 1/4) and, per
    test problem, the Itô part of the generator at sampled states (theory-independent)."""
    from theorykit.problems import CoshSum, L0L1Quartic
    from theorykit.rules.l0l1_descent import generator

    sde, prob = dcsgd_sde(True)
    sde_b, _ = dcsgd_sde(False)
    out: dict[str, Any] = {"gen_generic": generator(sde, prob.f),
                           "gen_bernoulli": generator(sde_b, prob.f), "sde": sde,
                           "prob": prob, "ito_fn": {}}
    for p in (prob, CoshSum(d=2), L0L1Quartic(d=1)):
        sd = dcsgd_sde(False, p)[0]
        # Itô part at eta(t) = 1: generator + ||grad f||^2 (the drift is -grad f)
        g2 = (p.grad().T * p.grad())[0, 0]
        ito = (generator(sd, p.f, sp.Integer(1)) + g2).subs(sd.lr, ETA)
        out["ito_fn"][p.name + str(p.d)] = (
            p, sp.lambdify(list(sd.x), ito, "numpy"),
            sp.lambdify(list(sd.x), sp.sqrt(g2), "numpy"))
    return out


@claim(f"{PREFIX}.descent_identity",
       "Itô descent identity for DCSGD with a schedule, and the (L0,L1) bound with the "
       "cubic term: valid and attained", SRC_DESCENT, tags=TAGS,
       mutants=(mutant("drop_ito", "generator without the Itô term", drop_ito=True),
                mutant("ito_x2", "Itô term x2 (diffusion covariance x2)", ito=2.0),
                mutant("omega_zero", "compression adds no variance (omega -> 0)",
                       omega_zero=True),
                *factor_mutants("bound", "the Itô part of the bound"),
                mutant("l1_zero", "bound from L-smoothness with L = L0 (no cubic term)",
                       l1_zero=True)))
def descent_identity_claim(ctx: RunContext) -> Verdict:
    """(a) The generator of the derived DCSGD SDE (generic U(omega), Gaussian sigma, symbolic
    N, B; and Bernoulli p = 1/4, N = 4, B = 1) applied to f equals
    -eta(t)||grad f||^2 + (eta eta(t)^2/(2N)) tr(Hess f Sigma_DCSGD) with Sigma_DCSGD written
    out independently (SymPy, the difference simplifies to 0); (b) the derived bound's G^3
    coefficient is (eta eta(t)^2/(2N)) L1 (omega + (1+omega) sigma1^2); (c) the bound is
    *valid and sharp*: over sampled states of the quartic (d = 2 and d = 1) and cosh, the
    ratio of the generator's Itô part to the bound's Itô part is at most 1, and it equals 1
    at x = +-1 of the 1-D quartic, where ||H|| = L0 + L1 G and tr(H Sigma) = ||H|| tr Sigma
    both hold with equality (max ratio within 1e-9 of 1, two-sided).

    Fails when the identity misses or rescales the Itô term or omega (a), when the bound is
    too tight (ratio > 1) or too loose (max ratio < 1) (c). Mutants: Itô term dropped or
    x2, omega -> 0, the bound's Itô part x2 / x1/2, the bound without its L1 term."""
    from theorykit.rules.l0l1_descent import SYM, dcsgd_sigma, descent_inequality

    cid = f"{PREFIX}.descent_identity"
    s = SYM
    ito_f, om_f, l1_f = ito_knobs(ctx)
    bound_f = ctx.theory.factor("bound")
    meas = ctx.memo(("identity",), _identity_measurement)
    sde, prob = meas["sde"], meas["prob"]
    checks: dict[str, Any] = {}
    N, B = sde.params["N"], sde.params["B"]
    sig, om = sde.params["sigma"], sde.params["omega"]
    g = prob.grad()
    paper = -s["m"] * (g.T * g)[0, 0] + ito_f * s["eta"] * s["m"] ** 2 / (2 * N) * (
        prob.hessian() * dcsgd_sigma(g, [sig**2 / B] * 2, om_f * om)).trace()
    checks["identity_generic_omega"] = ctx.memo(
        ("id_generic", ito_f, om_f), lambda: sp.simplify(meas["gen_generic"] - paper) == 0)
    paper_b = -s["m"] * (g.T * g)[0, 0] + ito_f * s["eta"] * s["m"] ** 2 / (2 * N_WORKERS) * (
        prob.hessian() * dcsgd_sigma(g, [sp.nsimplify(SIGMA**2)] * 2,
                                     sp.nsimplify(om_f * OMEGA))).trace()
    checks["identity_bernoulli"] = ctx.memo(
        ("id_bern", ito_f, om_f), lambda: sp.simplify(meas["gen_bernoulli"] - paper_b) == 0)
    di = ctx.memo(("di",), lambda: descent_inequality(sp.Rational(1, 2)))
    cubic_expected = s["eta"] * s["m"] ** 2 / (2 * s["N"]) * s["L1"] * (
        s["omega"] + (1 + s["omega"]) * s["sigma1"] ** 2) * s["G"] ** 3
    checks["cubic_term"] = ctx.memo(("cubic",),
                                    lambda: sp.simplify(di.cubic - cubic_expected) == 0)
    # (c) sharpness: Itô part of the generator over Itô part of the bound, at eta(t) = 1
    rng = np.random.default_rng(ctx.seed)
    n = ctx.pick(400, 4000)
    ratios: dict[str, float] = {}
    for key, (p, ito_fn, g_fn) in meas["ito_fn"].items():
        bound_ito = (di.rhs + s["m"] * s["G"] ** 2).subs({
            s["m"]: 1, s["eta"]: ETA, s["N"]: N_WORKERS, s["L0"]: p.L0,
            s["L1"]: l1_f * p.L1, s["omega"]: om_f * OMEGA,
            s["sigma0"]: math.sqrt(p.d) * SIGMA, s["sigma1"]: 0}) * bound_f
        bfun = sp.lambdify(s["G"], bound_ito, "numpy")
        X = rng.standard_normal((n, p.d)) * np.exp(rng.uniform(-3, 1.5, (n, 1)))
        X = np.vstack([X, np.eye(p.d), -np.eye(p.d)])  # where the quartic attains L0 + L1 G
        lhs = np.asarray(ito_fn(*X.T), float)
        rhs = np.asarray(bfun(np.asarray(g_fn(*X.T), float)), float) * np.ones(len(X))
        ratios[key] = float((lhs / rhs).max())
    worst = max(ratios.values())
    checks["bound_valid"] = worst <= 1 + ROUND
    checks["bound_attained"] = worst >= 1 - ROUND
    ok = all(bool(v) for v in checks.values())
    return Verdict(
        cid, Status.of(ok),
        predicted="generator - paper form == 0; cubic = eta eta(t)^2 L1 omega_eff G^3/(2N); "
                  "max Itô(generator)/Itô(bound) = 1 (valid and attained)",
        measured=(f"identities: generic {'0' if checks['identity_generic_omega'] else '!= 0'}"
                  f", Bernoulli {'0' if checks['identity_bernoulli'] else '!= 0'}; cubic "
                  f"{'matches' if checks['cubic_term'] else 'differs'}; max Itô ratio = "
                  f"{worst:.10g} (" + ", ".join(f"{k}: {v:.6g}" for k, v in ratios.items())
                  + ")"),
        tolerance="symbolic: sympy.simplify(a - b) == 0; sharpness: |max ratio - 1| <= 1e-9 "
                  "(float64 rounding)",
        sample_size=f"{n} random states per problem (log-uniform radii e^-3..e^1.5) + the "
                    "axis points +-e_j", seed=ctx.seed,
        details={**checks, "max_ito_ratio": ratios, "bound_latex": di.latex()["rhs"],
                 "cubic_latex": sp.latex(di.cubic),
                 "setting": {"eta": ETA, "N": N_WORKERS, "omega": OMEGA, "sigma": SIGMA}})


# ====================================================================== 3. Dynkin (MC)
DYNKIN_X0 = (1.3, 1.3)
DYNKIN_T = 0.1  # SDE time horizon
DYNKIN_STEPS = (40, 80)


def _dynkin_runs(ctx: RunContext, R: int) -> dict[int, Any]:
    from theorykit.rules.l0l1_dynkin import dynkin_check
    from theorykit.schedules import PolynomialDecay

    sde, prob = dcsgd_sde(False)
    out = {}
    with one_thread():
        for j, steps in enumerate(DYNKIN_STEPS):
            out[steps] = dynkin_check(
                sde, prob, {}, eta=ETA, schedule=PolynomialDecay(DECAY), x0=DYNKIN_X0,
                steps=steps, dt=DYNKIN_T / steps, replicas=R, seed=ctx.seed + 17 * j,
                record_every=steps // 10, gh_nodes=0, second_order_cv=True)
    return out


@claim(f"{PREFIX}.ito_drift",
       "Itô drift of E f along simulated DCSGD SDE paths matches the generator (Dynkin, MC)",
       SRC_DESCENT, tags=TAGS,
       mutants=(mutant("drop_ito", "generator without the Itô term (first-order drift only)",
                       drop_ito=True),
                *factor_mutants("ito", "the Itô term"),
                mutant("ito_linear_schedule", "Itô term with eta(t) instead of eta(t)^2",
                       ito_linear_schedule=True)))
def ito_drift_claim(ctx: RunContext) -> Verdict:
    """Along Euler–Maruyama paths of the scheduled DCSGD SDE (Bernoulli p = 1/4, N = 4,
    Gaussian sigma = 1, eta = 0.1, eta(t) = (1 + t/eta)^-0.6) on the quartic from
    x0 = (1.3, 1.3) over T = 0.1, the per-replica Dynkin residual
    f(X_T) - f(X_0) - M_T - int L f ds (M_T: the first- and second-order martingale parts
    of the Euler increments, zero-mean control variates) has mean 0 up to Euler's O(dt)
    weak error, which is removed by Richardson extrapolation from an independent run at
    dt/2: 2 r(dt/2) - r(dt) = 0 within 3 SE.

    The theory under test is the generator L f = -eta(t)||grad f||^2 +
    (eta eta(t)^2/(2N)) tr(H Sigma); fails when its Itô term is missing, rescaled or scaled
    by the wrong power of the schedule (the mutants: dropped, x2, x1/2, eta(t) instead of
    eta(t)^2; the Itô part is about 20% of int L f here)."""
    cid = f"{PREFIX}.ito_drift"
    th = ctx.theory
    R = ctx.pick(4000, 40_000)
    runs = ctx.memo(("dynkin", R, ctx.seed), lambda: _dynkin_runs(ctx, R))
    ito_f, _, _ = ito_knobs(ctx)
    linear = th.flag("ito_linear_schedule")

    def predicted_integral(r: Any) -> np.ndarray:
        ito = r.integral_ito_linear_m if linear else r.integral_ito
        return r.integral_first_order + ito_f * ito

    c, f = runs[DYNKIN_STEPS[0]], runs[DYNKIN_STEPS[1]]
    res = richardson(c.delta - predicted_integral(c), f.delta - predicted_integral(f))
    drift = stats.mean_se(predicted_integral(f))
    ito_part = stats.mean_se(f.integral_ito)
    v = stats.agree(cid, 0.0, res, seed=ctx.seed, max_rel_se=None, details={
        "int_Lf_dt (theory under test, dt=T/80)": drift.mean, "int_Lf_se": drift.se,
        "ito_part_of_int_Lf": ito_part.mean, "ito_part_se": ito_part.se,
        "ito_share_of_int_Lf": ito_part.mean / abs(stats.mean_se(f.integral).mean),
        "relative_residual": res.mean / drift.mean if drift.mean else math.nan,
        "residual_dt": stats.mean_se(c.delta - predicted_integral(c)).mean,
        "residual_dt_half": stats.mean_se(f.delta - predicted_integral(f)).mean,
        "setting": {"x0": DYNKIN_X0, "T": DYNKIN_T,
                    "dt": [DYNKIN_T / s for s in DYNKIN_STEPS], "eta": ETA, "N": N_WORKERS,
                    "p": P_KEEP, "sigma": SIGMA, "schedule": f"(1 + t/eta)^-{DECAY}"}})
    v.predicted = 0.0
    v.sample_size = (f"{R} replicas at each of dt = T/{DYNKIN_STEPS[0]} and "
                     f"T/{DYNKIN_STEPS[1]} (independent seeds)")
    v.tolerance += ("; the measured quantity is the Richardson-extrapolated mean Dynkin "
                    "residual (Euler's O(dt) weak error cancels)")
    v.series = {"t": f.times, "Ef_measured": f.ef_curve, "Ef_generator": f.ef_pred_curve,
                "Ef_first_order_only": f.ef_pred_first_curve}
    return v


