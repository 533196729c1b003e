r"""Noise-resilience, heavy-tail, stability and bound claims of Compagnoni, Islamov, Proske
& Lucchi, *Unbiased and Sign Compression in Distributed Learning: Comparing Noise Resilience
via SDEs*, AISTATS 2025 (PMLR 258:4087–4095, arXiv 2502.17009) — issue 4, part B1.

Provenance, honestly (``docs/theory/sde_papers.md`` §0, §2.3):

* qualitative statements — DCSGD's loss floor grows with the noise (and the compression)
  while DSignSGD is resilient to heavy-tailed noise; both enjoy a linear speedup in N — are
  in the paper's abstract (*read*, ``paper-abstract``);
* every exact form — the slopes 2 and 1 in σ, the variance factor ν/(ν−2), the DSignSGD
  factor 1/(2 f_ν(0)), the stability caps, the PL and non-convex bounds — is *derived* by
  :mod:`theorykit.rules.bounds` / :mod:`theorykit.rules.stationary` from the SDEs (which
  are the paper's as *recalled*) and the exact moment recursions of the algorithms
  (``derived``).

Everything measured runs the real discrete methods (:func:`theorykit.simulate.run_discrete`,
real catalog codecs, sampled Gaussian / Student-t noise) or the derived SDE
(:func:`theorykit.simulate.run_sde`, Euler–Maruyama). Stationary losses are per-replica time
averages after a burn-in of 4 relaxation times τ (window 16 τ), with SEs across replicas.
Every tolerance is z·SE (z = 3, or the Bonferroni z over a family) plus a *declared*
allowance computed from a derived formula or an independent recursion (never tuned, never
from the gap under test); each verdict says which.

Every claim declares mutants (issue 10): concrete wrong theories — an exponent, ω, the
Phase-3 drift slope, the tail factor, the finiteness threshold, the stability caps, the
bound x2 / x1/2, the rate x2 / x1/2, ω forgotten — read through ``ctx.theory`` where the
theory enters; measurements go through ``ctx.memo`` (or configuration-keyed memos, for the
stability runs placed at the theory's caps), so ``verify --mutants`` must and does
contradict each of them. Quick mode, all ten claims with their 31 mutants: about 25 s of
CPU (``theorykit verify --only 'resilience.*' --mutants``: 28-29 s user time with start-up,
seeds 20251, 1, 2, 3); ``--full`` uses 4-10× the replicas.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations._common import COMPAGNONI2025, one_thread
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import THEORY as THEORY_PLAIN
from theorykit.check.mutants import Mutant, factor_mutants, mutant
from theorykit.check.registry import claim
from theorykit.symbols import N_WORKERS

PAPER = COMPAGNONI2025
PREFIX = "resilience"
TAGS = ("compagnoni2025_resilience", "sde", "issue4")
NUS = (1, 2, 3, 8, 64)

SRC_RESIL = Source(
    PAPER, "abstract: DCSGD's floor grows with the noise, DSignSGD is resilient; "
    "slopes derived (docs/theory/sde_papers.md §2.3(d))", "paper-abstract",
    note="qualitative statement read in the abstract; the exact exponents 2 (DCSGD) and 1 "
         "(DSignSGD, Phase 3) are derived by theorykit.rules.stationary")
SRC_SPEEDUP = Source(
    PAPER, "abstract: linear speedup in the number of workers; floor ∝ 1/N derived "
    "(docs/theory/sde_papers.md §2.3(d))", "paper-abstract",
    note="exact N-dependence derived by theorykit.rules.stationary")
SRC_TAILS = Source(
    PAPER, "abstract + heavy-tail experiment (Student-t, nu in {1,2,3,8,64}); factors "
    "nu/(nu-2) and 1/(2 f_nu(0)) derived (docs/theory/sde_papers.md §2.3(d))", "paper-abstract",
    note="the factors are derived by theorykit.rules.bounds with sympy.stats")
SRC_CAP = Source(
    PAPER, "DCSGD stability cap eta < 2N/(L omega) (docs/theory/sde_papers.md §2.3(a), recalled "
    "as the bound's condition); discrete cap derived", "derived",
    note="both caps derived by theorykit.rules.bounds.stability_caps from the exact "
         "second-moment dynamics")
SRC_BOUND = Source(
    PAPER, "DCSGD convergence bound under L-smoothness and PL (docs/theory/sde_papers.md "
    "§2.3(a): the paper has a bound of this type, recalled)", "derived",
    note="form derived by theorykit.rules.bounds.dcsgd_pl_bound (Itô + PL + Grönwall)")


def _floor(method: Any, prob: Any, noise: Any, *, N: int, B: int, eta: float, tau: float,
           R: int, seed: int) -> stats.Estimate:
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


LIN_TXT = " + bound from the Phase-3 linearisation error"


def _slope_bias_bound(x: np.ndarray, eps: float) -> float:
    """Largest change of a least-squares log-log slope when every log y_i moves by at most
    eps (a derived allowance from a bounded relative model error)."""
    lx = np.log(x)
    c = lx - lx.mean()
    return float(eps * np.abs(c).sum() / (c @ c))


# ====================================================================== noise resilience
def _sign_lin_allowance(eigs: list[float], M: Any, B: int, scale: float, nu: Any) -> float:
    """Relative Phase-3 linearisation error of the floor: the cubic term of the sign mean
    relative to the linear one is |f''(0)/f(0)| u²/6 with u = √B ∂_j f / s; at a Gaussian
    stationary spread E u⁴/E u² = 3 E u², so the drift changes by <= |f''/f| E u²/2."""
    from theorykit.rules.bounds import student_t_curvature_ratio

    curv = 1.0 if nu is None else abs(float(student_t_curvature_ratio(nu)))
    eu2 = max(float(eigs[j] ** 2 * M[j, j]) * B / scale**2 for j in range(len(eigs)))
    return curv * eu2 / 2


def _resilience_setup(method_key: str) -> dict[str, Any]:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD, DSignSGD

    if method_key == "dcsgd":
        # Bernoulli(p): E||C(x)||^2 = ||x||^2/p, so omega = 1/p - 1 = 1 with equality
        return {"method": DCSGD(make("bernoulli", p=0.5)), "title": "DCSGD (Bernoulli p=1/2)",
                "omega": 1.0, "eigs": [1.0, 2.0], "eta": 0.05, "N": 4, "B": 1,
                "sigmas": [0.25, 0.5, 1.0, 2.0], "Ns": [1, 2, 4, 8], "sigma_N": 1.0}
    return {"method": DSignSGD(), "title": "DSignSGD", "eigs": [1.0, 2.0], "eta": 0.05,
            "N": 4, "B": 1, "sigmas": [0.5, 1.0, 2.0, 4.0], "Ns": [1, 2, 4, 8],
            "sigma_N": 2.0}


TRANSIENT_REL = math.exp(-4) / 16
"""Relative deficit of a floor estimated from x* = 0: M_t = M_oo (1 - e^{-t/tau}) averaged
over [4 tau, 20 tau] falls short by at most tau e^{-4} / (16 tau) (derived; tau = the
slowest relaxation time)."""


def _sweep_point(cfg: dict[str, Any], which: str, xv: float) -> tuple[float, int, float]:
    """(sigma, N, relaxation time tau) of one point of the sweep (the configuration)."""
    sigma = xv if which == "sigma" else cfg["sigma_N"]
    N = cfg["N"] if which == "sigma" else int(xv)
    if "omega" in cfg:
        tau = 1.0 / (2 * min(cfg["eigs"]))
    else:
        a = math.sqrt(2 * cfg["B"] / math.pi) / sigma  # Phase-3 drift slope (derived form)
        tau = 1.0 / (2 * a * min(cfg["eigs"]))
    return sigma, N, tau


def _sweep_theory(method_key: str, which: str) -> dict[str, Any]:
    """The derived (knob-free) objects of a sweep: the SDE's leading-order exponent and the
    exact (DCSGD, generic U(omega)) or Phase-3-linearised (DSignSGD) discrete floors."""
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.rules.stationary import stationary_discrete, stationary_sde
    from theorykit.sde import derive

    cfg = _resilience_setup(method_key)
    sign = method_key == "dsignsgd"
    prob = Quadratic(eigs=cfg["eigs"])
    H = prob.hessian()
    eta, B = cfg["eta"], cfg["B"]
    sig_s = sp.Symbol("sigma", positive=True)
    N_s = N_WORKERS
    nz_sym = Gaussian(sigma="sigma")
    n_arg: Any = "N" if which == "N" else cfg["N"]
    sde = derive(cfg["method"], None, nz_sym, prob, n_workers=n_arg, batch=B)
    st_sde = stationary_sde(sde, H, linearize=sign)
    # the prediction's closed form: for DCSGD with a generic U(omega) so omega is a knob
    meth = cfg["method"] if sign else DCSGD("omega")
    st_dis = stationary_discrete(meth, nz_sym, H, n_arg, B, eta, linearize=sign)
    var = sig_s if which == "sigma" else N_s
    F_sde = st_sde.loss.xreplace({s: (N_s if s.name == "N" else sig_s if s.name == "sigma"
                                      else s) for s in st_sde.loss.free_symbols})
    # the claimed exponent is the leading order (eta -> 0) of d log F / d log var
    slope_sde = sp.simplify(var * sp.diff(F_sde, var) / F_sde)
    lead = sp.limit(slope_sde, sde.lr, 0)
    if not lead.is_number:
        raise RuntimeError(f"leading-order slope is not a constant: {lead}")
    closed_sde = []
    for xv in (cfg["sigmas"] if which == "sigma" else cfg["Ns"]):
        sigma, N, _ = _sweep_point(cfg, which, xv)
        closed_sde.append(st_sde.value({"sigma": sigma, "N": N, sde.lr: eta}))
    lin_rel = []
    if sign:
        for xv in (cfg["sigmas"] if which == "sigma" else cfg["Ns"]):
            sigma, N, _ = _sweep_point(cfg, which, xv)
            M = st_sde.M.xreplace({sde.lr: eta})
            M = M.xreplace({s: sigma if s.name == "sigma" else N if s.name == "N" else s
                            for s in M.free_symbols})
            lin_rel.append(_sign_lin_allowance(cfg["eigs"], M, B, sigma, None))
    return {"lead": float(lead), "slope_sde": sp.sstr(slope_sde),
            "closed_sde": sp.sstr(st_sde.loss), "st_dis": st_dis, "lin_rel": lin_rel,
            "closed_sde_values": closed_sde}


def _sweep_measure(method_key: str, which: str, ctx: RunContext) -> list[stats.Estimate]:
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic

    cfg = _resilience_setup(method_key)
    prob = Quadratic(eigs=cfg["eigs"])
    R = ctx.pick(1000, 10_000)
    xs = cfg["sigmas"] if which == "sigma" else cfg["Ns"]
    out = []
    for i, xv in enumerate(xs):
        sigma, N, tau = _sweep_point(cfg, which, xv)
        out.append(_floor(cfg["method"], prob, Gaussian(sigma=sigma), N=N, B=cfg["B"],
                          eta=cfg["eta"], tau=tau, R=R,
                          seed=ctx.seed + 17 * i + (0 if which == "sigma" else 1000)))
        ctx.report((i + 1) / len(xs))
    return out


def _sweep(method_key: str, which: str, ctx: RunContext) -> Verdict:
    """Stationary loss against sigma (``which="sigma"``) or N (``"N"``): the level at every
    point against the derived closed form, and the log-log slope against the exponent."""
    cid = f"{PREFIX}.{'noise' if which == 'sigma' else 'workers'}_slope.{method_key}"
    cfg = _resilience_setup(method_key)
    sign = method_key == "dsignsgd"
    th = ctx.memo(("sweep-theory", method_key, which),
                  lambda: _sweep_theory(method_key, which))
    ests = ctx.memo(("sweep", method_key, which, ctx.mode, ctx.seed),
                    lambda: _sweep_measure(method_key, which, ctx))
    R = ests[0].n
    sym = "sigma" if which == "sigma" else "N"
    xs = cfg["sigmas"] if which == "sigma" else cfg["Ns"]
    # --- the theory, through its knobs
    p_lead = th["lead"]
    p_pred = p_lead * ctx.theory.factor("exponent")
    x_ref = math.exp(float(np.mean(np.log(xs))))
    preds, allow = [], []
    for i, xv in enumerate(xs):
        sigma, N, _ = _sweep_point(cfg, which, xv)
        if sign:
            # the Phase-3 drift slope a = sqrt(2B/pi)/sigma enters as the equivalent scale
            # sqrt(2B/pi)/a: a mutated by k is the Gaussian floor at sigma/k
            F = th["st_dis"].value({"sigma": sigma / ctx.theory.factor("phase3_slope"),
                                    "N": N})
            rel = th["lin_rel"][i] + TRANSIENT_REL
        else:
            F = th["st_dis"].value({"sigma": sigma, "N": N,
                                    "omega": cfg["omega"] * ctx.theory.factor("omega")})
            rel = TRANSIENT_REL
        F *= (xv / x_ref) ** (p_pred - p_lead)  # the exponent, anchored at x_ref
        preds.append(F)
        allow.append(rel * F)
    # --- the checks: levels (two-sided) and the slope (two-sided), Bonferroni over all
    x = np.array(xs, float)
    ys = np.array([e.mean for e in ests])
    ses = np.array([e.se for e in ests])
    z = stats.bonferroni_z(len(xs) + 1)
    sl = stats.loglog_slope(x, ys, ses)
    sl_model = stats.loglog_slope(x, np.array(preds)).slope
    tol_model = abs(sl_model - p_pred)
    if sign:
        tol_model += _slope_bias_bound(x, max(th["lin_rel"]) + TRANSIENT_REL)
    statuses, rows = [], []
    for i, xv in enumerate(xs):
        tol = z * ests[i].se + allow[i]
        ok = abs(ests[i].mean - preds[i]) <= tol
        st = (Status.INCONCLUSIVE if ests[i].se > 0.25 * preds[i] else
              Status.HOLDS if ok else Status.CONTRADICTED)
        statuses.append(st)
        rows.append({sym: xv, "measured": ests[i].mean, "se": ests[i].se,
                     "predicted": preds[i], "allowance": allow[i],
                     "z_score": (ests[i].mean - preds[i]) / ests[i].se, "status": st.value})
    slope_ok = abs(sl.slope - p_pred) <= z * sl.se + tol_model
    slope_st = (Status.INCONCLUSIVE if sl.se > 0.25 else
                Status.HOLDS if slope_ok else Status.CONTRADICTED)
    statuses.append(slope_st)
    worst = max(rows, key=lambda r: abs(r["z_score"]))
    # the exponent is the source's (qualitative, abstract) statement; the levels are the
    # derived closed form: say which one a contradiction contradicts
    against = "source" if slope_st == Status.CONTRADICTED else "derived"
    return Verdict(
        claim_id=cid, status=joint_status(statuses), predicted=p_pred, against=against,
        measured=round(sl.slope, 4), interval=(sl.slope - z * sl.se, sl.slope + z * sl.se),
        tolerance=(f"slope: |slope - {p_pred:g}| <= {z:.2f}·SE + model_tol = {z:.2f}·"
                   f"{sl.se:.3g} + {tol_model:.3g} (slope of the "
                   f"{'linearised ' if sign else 'exact '}discrete closed form minus the "
                   f"leading-order exponent{LIN_TXT if sign else ''}); level at each of "
                   f"{len(xs)} points: |floor - closed form| <= {z:.2f}·SE + allowance "
                   f"(transient e^-4/16{' + Phase-3 linearisation' if sign else ''}); "
                   f"Bonferroni over {len(xs) + 1}; inconclusive if SE(slope) > 0.25"),
        sample_size=f"{R} replicas per point, {len(xs)} points", seed=ctx.seed,
        details={"derived_sde_slope": th["slope_sde"],
                 "derived_leading_slope (eta -> 0)": p_lead,
                 "predicted_exponent": p_pred, "closed_form_sde": th["closed_sde"],
                 "closed_form_discrete_used": sp.sstr(th["st_dis"].loss),
                 "slope_of_predicted_levels": sl_model, "model_tol": tol_model,
                 "slope_status": slope_st.value,
                 "worst_level": f"{sym} = {worst[sym]}: z = {worst['z_score']:.2f}",
                 "linearisation_rel_error": th["lin_rel"], "rows": rows,
                 "eta": cfg["eta"], "B": cfg["B"],
                 "N": cfg["N"] if which == "sigma" else cfg["Ns"], "eigs": cfg["eigs"],
                 "omega": cfg.get("omega"), "method": cfg["title"],
                 "knobs": dict(ctx.theory.knobs)},
        series={which: list(xs), "measured": ys.tolist(), "measured_se": ses.tolist(),
                "predicted": preds, "closed_discrete": preds,
                "closed_sde": th["closed_sde_values"]})


def _sweep_mutants(method_key: str, which: str) -> tuple[Mutant, ...]:
    if which == "sigma":
        e = (mutant("sigma_exponent_2_to_1", "floor ∝ sigma^1 instead of sigma^2 "
                    "(sign-like resilience)", exponent=0.5) if method_key == "dcsgd" else
             mutant("sigma_exponent_1_to_2", "floor ∝ sigma^2 instead of sigma^1 "
                    "(DCSGD-like)", exponent=2.0))
    else:
        e = mutant("workers_1_over_sqrtN", "floor ∝ 1/sqrt(N) instead of 1/N (no linear "
                   "speedup)", exponent=0.5)
    if method_key == "dcsgd":
        return (e, mutant("omega_x2", "compression constant omega x2 in the floor",
                          omega=2.0),
                mutant("omega_zero", "compression ignored (omega -> 0: DSGD's floor)",
                       omega=0.0))
    return (e, *factor_mutants("phase3_slope", "Phase-3 drift slope sqrt(2B/pi)/sigma"))


for _mk in ("dcsgd", "dsignsgd"):
    for _w in ("sigma", "N"):
        def _run_sweep(ctx: RunContext, _mk: str = _mk, _w: str = _w) -> Verdict:
            with one_thread():
                return _sweep(_mk, _w, ctx)

        _t = "DCSGD" if _mk == "dcsgd" else "DSignSGD"
        _lvl = ("the exact discrete closed form (generic U(omega), omega = 1 for Bernoulli "
                "p = 1/2), so the floor's omega-dependence is tested" if _mk == "dcsgd" else
                "the Phase-3-linearised discrete closed form (the drift slope "
                "sqrt(2B/pi)/sigma enters), within the derived linearisation error bound")
        if _w == "sigma":
            _p = "2" if _mk == "dcsgd" else "1 (Phase 3)"
            _run_sweep.__doc__ = (
                f"{_t}'s stationary loss on a quadratic grows like sigma^{_p}: the log-log "
                "slope of the measured floor against the noise scale sigma equals the "
                "leading-order exponent derived from the SDE, and the floor at each sigma "
                f"equals {_lvl}. Fails if the exponent or the level is off (the mutants: "
                "exponent and constants). For DCSGD the exponent 2 alone is exact by "
                "homogeneity (x* = x0 = 0, linear gradient): the level carries the theory.")
            claim(f"{PREFIX}.noise_slope.{_mk}",
                  f"{_t}: loss floor ∝ σ^{_p} (noise resilience)", SRC_RESIL,
                  tags=TAGS, mutants=_sweep_mutants(_mk, _w))(_run_sweep)
        else:
            _run_sweep.__doc__ = (
                f"{_t}'s stationary loss scales as 1/N (linear speedup): log-log slope -1 "
                "in the number of workers N, within the SE plus the derived O(eta) "
                f"deviation of the discrete closed form; the floor at each N equals {_lvl}.")
            claim(f"{PREFIX}.workers_slope.{_mk}", f"{_t}: loss floor ∝ 1/N", SRC_SPEEDUP,
                  tags=TAGS, mutants=_sweep_mutants(_mk, _w))(_run_sweep)


# ====================================================================== heavy tails
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
        from theorykit.noise import Gaussian, StudentT
        from theorykit.problems import Quadratic

        cfg = _dcsgd_tail_cfg()
        prob = Quadratic(eigs=cfg["eigs"])
        R = ctx.pick(4000, 40_000)
        tau = 1.0 / (2 * min(cfg["eigs"]))
        kw = {"N": cfg["N"], "B": cfg["B"], "eta": cfg["eta"], "tau": tau, "R": R}
        nus = TAIL_JUDGED + TAIL_SHOWN

        def measure() -> dict[Any, stats.Estimate]:
            out = {None: _floor(cfg["method"], prob, Gaussian(sigma=cfg["scale"]),
                                seed=ctx.seed + 1, **kw)}
            for i, nu in enumerate(nus):
                out[nu] = _floor(cfg["method"], prob, StudentT(nu=nu, scale=cfg["scale"]),
                                 seed=ctx.seed + 2 + i, **kw)
                ctx.report((i + 1) / len(nus))
            return out

        floors = ctx.memo(("dcsgd-tail", ctx.mode, ctx.seed), measure)
        g = floors[None]
        z = stats.bonferroni_z(len(TAIL_JUDGED))
        rows, statuses = [], []
        for nu in nus:
            e = floors[nu]
            r = stats.ratio_se(e, g)
            pred = _tail_factor_pred(nu, ctx.theory)
            judged = nu in TAIL_JUDGED
            st = (Status.HOLDS if abs(r.mean - pred) <= z * r.se else Status.CONTRADICTED)
            if judged:
                statuses.append(st)
            rows.append({"nu": nu, "ratio": r.mean, "ratio_se": r.se, "predicted": pred,
                         "z_score": (r.mean - pred) / r.se, "floor": e.mean, "floor_se": e.se,
                         "status": st.value if judged else "shown (not judged: Var f = inf)"})
        jr = [q for q in rows if q["nu"] in TAIL_JUDGED]
        worst = max(jr, key=lambda q: abs(q["z_score"]))
        return Verdict(
            claim_id=f"{PREFIX}.heavy_tails.dcsgd_factor", status=joint_status(statuses),
            against="derived",  # the exact factor is derived (the abstract is qualitative)
            predicted=worst["predicted"], measured=worst["ratio"],
            interval=(worst["ratio"] - z * worst["ratio_se"],
                      worst["ratio"] + z * worst["ratio_se"]),
            tolerance=f"each |ratio - factor| <= {z:.2f}·SE for nu in {TAIL_JUDGED} "
                      f"(Bonferroni over {len(TAIL_JUDGED)}; delta-method SE of the ratio); "
                      "no model allowance (the floor is linear in the noise covariance, "
                      "exactly, for the algorithm on a quadratic)",
            sample_size=f"{R} replicas per nu", seed=ctx.seed,
            details={"rows": rows, "gaussian_floor": g.mean, "gaussian_floor_se": g.se,
                     "reported": f"worst judged row nu = {worst['nu']} (z = "
                                 f"{worst['z_score']:.2f})",
                     "tail_factor_model": ctx.theory.choice("tail_factor", "variance"),
                     **{k: v for k, v in cfg.items() if k != "method"},
                     "method": repr(cfg["method"])},
            series={"nu": list(nus), "ratio": [q["ratio"] for q in rows],
                    "ratio_se": [q["ratio_se"] for q in rows],
                    "predicted": [q["predicted"] for q in rows]})


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
            st = Status.HOLDS if grows == infinite else Status.CONTRADICTED
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
        from theorykit.noise import Gaussian, StudentT
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

        def measure() -> dict[Any, stats.Estimate]:
            from theorykit.methods import DSignSGD

            out = {None: _floor(DSignSGD(), prob, Gaussian(sigma=s), N=N, B=B, eta=eta,
                                tau=tau_of(None), R=R, seed=ctx.seed + 60)}
            for i, nu in enumerate(NUS):
                out[nu] = _floor(DSignSGD(), prob, StudentT(nu=nu, scale=s), N=N, B=B,
                                 eta=eta, tau=tau_of(nu), R=R, seed=ctx.seed + 61 + i)
                ctx.report((i + 1) / len(NUS))
            return out

        floors = ctx.memo(("dsign-tail", ctx.mode, ctx.seed), measure)

        def closed(ratio: float) -> tuple[float, float, float]:
            """(linearised SDE floor, linearised discrete floor, linearisation rel. error)
            at the equivalent Gaussian scale that gives the floor ratio ``ratio``."""
            s_eq = s * ratio
            M = th["lin"].M.xreplace({th["sde"].lr: eta, sig: s_eq})
            return (th["lin"].value({th["sde"].lr: eta, sig: s_eq}),
                    th["dis"].value({sig: s_eq}), _sign_lin_allowance(eigs, M, B, s_eq, None))

        g = floors[None]
        g_lin, g_dis, g_rel = closed(1.0)
        z = stats.bonferroni_z(len(NUS))
        rows, statuses = [], []
        for nu in NUS:
            e = floors[nu]
            r = stats.ratio_se(e, g)
            pred = _dsign_tail_pred(nu, ctx.theory)
            if not math.isfinite(pred):
                st, tol_model, f_lin, f_dis = Status.CONTRADICTED, 0.0, math.inf, math.inf
            else:
                f_lin, f_dis, rel = closed(pred)
                # declared allowance: O(eta) gap of the derived linearised discrete floors
                # + the Phase-3 linearisation error bound of both floors (same theory)
                tol_model = abs(f_dis / g_dis - pred) + (rel + g_rel) * pred
                ok = abs(r.mean - pred) <= z * r.se + tol_model
                st = Status.HOLDS if ok else Status.CONTRADICTED
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
        return Verdict(
            claim_id=f"{PREFIX}.heavy_tails.dsignsgd_factor", status=joint_status(statuses),
            against="derived",  # the exact factor is derived (the abstract is qualitative)
            predicted=worst["predicted"], measured=worst["ratio"],
            interval=(worst["ratio"] - z * worst["ratio_se"],
                      worst["ratio"] + z * worst["ratio_se"]),
            tolerance=(f"each |ratio - pred| <= {z:.2f}·SE (Bonferroni over {len(NUS)} nu) + "
                       "model_tol (declared: O(eta) gap of the derived linearised discrete "
                       "floors + Phase-3 linearisation error bound |f''(0)/f(0)| E u²/2)"),
            sample_size=f"{R} replicas per noise", seed=ctx.seed,
            details={"rows": rows, "gaussian_floor": g.mean, "gaussian_floor_se": g.se,
                     "gaussian_closed_linearised": g_lin, "eta": eta, "N": N, "B": B,
                     "eigs": eigs, "scale": s, "reported": f"worst row nu = {worst['nu']}",
                     "tail_factor_model": ctx.theory.choice("tail_factor", "sign")},
            series={"nu": list(NUS), "ratio": [q["ratio"] for q in rows],
                    "ratio_se": [q["ratio_se"] for q in rows],
                    "predicted": [q["predicted"] for q in rows]})


# ====================================================================== stability
def _moment_path(A: np.ndarray, b0: np.ndarray, m0: np.ndarray, h: float, K: int
                 ) -> np.ndarray:
    """vec M after k = 0..K steps of m <- m + h (A m + b0) (exact for the scheme)."""
    out = [m0]
    m = m0
    for _ in range(K):
        m = m + h * (A @ m + b0)
        out.append(m)
    return np.array(out)


def _operators(st: Any, values: dict[str, float]) -> tuple[np.ndarray, np.ndarray, list]:
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


STAB = {"eig": 1.0, "p": 0.5, "N": 2, "B": 1, "sigma": 1.0, "x0": 10.0}


@claim(f"{PREFIX}.stability.dcsgd", "DCSGD: E f diverges just above the derived stability "
       "cap and converges below it (discrete cap and SDE cap)", SRC_CAP, tags=TAGS,
       mutants=(*factor_mutants("cap", "both stability caps"),
                mutant("sde_cap_for_algorithm", "the SDE's cap 2N/(lambda omega) taken as the "
                       "algorithm's cap (GD's own overshoot term dropped)",
                       cap_formula="sde")))
def dcsgd_stability(ctx: RunContext) -> Verdict:
    """DCSGD (Bernoulli p = 1/2, ω = 1, N = 2) on f = x²/2: the derived mean-square caps are
    η < 2/(λ(1 + ω/N)) = 4/3 for the algorithm and η < 2N/(λω) = 4 for its SDE. At 0.9× and
    1.1× each cap, the measured growth factor of E f over a short horizon (real DCSGD: 5
    steps; the SDE with Euler–Maruyama: SDE time 0.2) is < 1 below and > 1 above, and equals
    the factor of the exact second-moment recursion. The runs are placed at the *theory's*
    caps, so a cap off by 2 (either way) or the SDE cap taken for the algorithm puts a run on
    the wrong side and is contradicted (the mutants); a run whose growth is significantly on
    the wrong side of 1 is contradicted however noisy its SE is relative to the prediction."""
    with one_thread():
        from theorykit.compressors.registry import make
        from theorykit.methods import DCSGD
        from theorykit.noise import Gaussian
        from theorykit.problems import Quadratic
        from theorykit.rules.bounds import stability_caps
        from theorykit.rules.stationary import stationary_discrete, stationary_sde
        from theorykit.sde import derive
        from theorykit.simulate import run_discrete, run_sde

        c = STAB
        method = DCSGD(make("bernoulli", p=c["p"]))
        noise = Gaussian(sigma=c["sigma"])
        prob = Quadratic(eigs=[c["eig"]])
        H = prob.hessian()
        caps = stability_caps(method, noise, H, c["N"], c["B"])
        cap_d, cap_s = float(caps.discrete), float(caps.sde)
        # the theory under test (knobs): where the caps are predicted to be
        cap_d_th = (cap_s if ctx.theory.choice("cap_formula", "own") == "sde" else cap_d) \
            * ctx.theory.factor("cap")
        cap_s_th = cap_s * ctx.theory.factor("cap")
        f0 = 0.5 * c["eig"] * c["x0"] ** 2
        R_d = ctx.pick(20_000, 200_000)
        R_s = ctx.pick(100_000, 400_000)
        K, T, n_sub = 5, 0.2, 40
        h = T / n_sub
        sde = derive(method, None, noise, prob, n_workers=c["N"], batch=c["B"])
        st_d = stationary_discrete(method, noise, H, c["N"], c["B"], "eta")
        st_em = stationary_sde(sde, H, step=sp.Symbol("h", positive=True))
        z = stats.bonferroni_z(8)
        rows, statuses = [], []
        for j, (kind, cap) in enumerate((("discrete", cap_d_th), ("sde", cap_s_th))):
            for i, fac in enumerate((0.9, 1.1)):
                eta = fac * cap
                seed = ctx.seed + 80 + 2 * j + i
                if kind == "discrete":
                    A, b0, _ = _operators(st_d, {"eta": eta})
                    pred = 0.5 * c["eig"] * _moment_path(A, b0, np.array([c["x0"] ** 2]), eta,
                                                         K)[-1, 0]
                    r = ctx.memo(("stab-d", eta, R_d, seed), partial(
                        run_discrete, method, prob, noise, eta=eta, steps=K, replicas=R_d,
                        n_workers=c["N"], batch=c["B"], x0=c["x0"], seed=seed,
                        record_every=K, stats=("loss",), progress=False))
                    steps_txt = f"{K} steps"
                    exact_rate = caps.discrete_factor(eta)
                else:
                    A, b0, _ = _operators(st_em, {"eta": eta, "h": h})
                    pred = 0.5 * c["eig"] * _moment_path(A, b0, np.array([c["x0"] ** 2]), h,
                                                         n_sub)[-1, 0]
                    # time grid h (the SDE's own eta enters through params)
                    r = ctx.memo(("stab-s", eta, R_s, seed), partial(
                        run_sde, sde, prob, eta=h, steps=n_sub, replicas=R_s, x0=c["x0"],
                        params={sde.lr.name: eta}, seed=seed, record_every=n_sub,
                        stats=("loss",), progress=False))
                    steps_txt = f"SDE time {T} (EM h = {h:g})"
                    exact_rate = caps.sde_rate(eta)
                e = r.estimate("loss")
                meas = stats.Estimate(e.mean / f0, e.se / f0, e.n)
                pred_g = pred / f0
                below, above = meas.mean + z * meas.se < 1, meas.mean - z * meas.se > 1
                side_ok = below if fac < 1 else above
                wrong_side = above if fac < 1 else below
                agree_ok = abs(meas.mean - pred_g) <= z * meas.se
                resolved = meas.se <= 0.25 * pred_g
                if wrong_side or (resolved and not agree_ok):
                    st = Status.CONTRADICTED
                elif side_ok and agree_ok and resolved:
                    st = Status.HOLDS
                else:
                    st = Status.INCONCLUSIVE
                statuses.append(st)
                med = float(np.median(prob.loss(r.x).numpy())) / f0
                rows.append({"kind": kind, "cap": cap, "eta/cap": fac, "eta": eta,
                             "horizon": steps_txt, "growth_measured": meas.mean,
                             "growth_se": meas.se, "growth_predicted": pred_g,
                             "median_growth": med,
                             ("discrete_moment_factor_per_step" if kind == "discrete" else
                              "sde_moment_exponent"): exact_rate,
                             "status": st.value})
                ctx.report(len(rows) / 4)
        ratio = cap_s / cap_d
        up = rows[1]
        return Verdict(
            claim_id=f"{PREFIX}.stability.dcsgd", status=joint_status(statuses),
            predicted=float(cap_d_th), measured=(
                f"E f growth x{up['growth_measured']:.3g} ± {up['growth_se']:.2g} at 1.1·cap "
                f"(pred x{up['growth_predicted']:.3g}); x{rows[0]['growth_measured']:.3g} at "
                "0.9·cap"),
            tolerance=(f"each of 4 runs: growth factor on the right side of 1 by > {z:.2f}·SE "
                       f"and |measured - exact recursion| <= {z:.2f}·SE (Bonferroni over 8)"),
            sample_size=f"{R_d} replicas (discrete), {R_s} (SDE)", seed=ctx.seed,
            details={"cap_discrete": sp.sstr(caps.discrete), "cap_sde": sp.sstr(caps.sde),
                     "cap_discrete_tested": cap_d_th, "cap_sde_tested": cap_s_th,
                     "cap_ratio_sde_over_discrete": ratio,
                     "closed_forms": "SDE: 2N/(lambda omega); discrete: 2/(lambda (1 + "
                                     "omega/N))",
                     "why_they_differ": caps.explanation,
                     "mean_square_vs_pathwise": (
                         "the caps are mean-square: above them E f grows although the median "
                         "of f may still shrink (see median_growth)"),
                     "rows": rows, "setup": dict(STAB)},
            series={"kind": [q["kind"] for q in rows], "eta_over_cap": [q["eta/cap"]
                                                                        for q in rows],
                    "growth_measured": [q["growth_measured"] for q in rows],
                    "growth_se": [q["growth_se"] for q in rows],
                    "growth_predicted": [q["growth_predicted"] for q in rows],
                    "median_growth": [q["median_growth"] for q in rows]})


# ====================================================================== bounds
BOUND_CFG = {"eigs": [0.5, 2.0], "p": 0.5, "N": 4, "B": 1, "sigma": 1.0, "eta": 0.1,
             "x0": [3.0, 3.0], "T": 8.0}


@lru_cache(maxsize=2)
def _bound_runs(mode: str, seed: int) -> dict[str, Any]:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.sde import derive
    from theorykit.simulate import run_discrete, run_sde

    c = BOUND_CFG
    prob = Quadratic(eigs=c["eigs"])
    method = DCSGD(make("bernoulli", p=c["p"]))
    noise = Gaussian(sigma=c["sigma"])
    R = 2000 if mode == "quick" else 20_000
    K = round(c["T"] / c["eta"])
    every = max(1, K // 20)
    kw = {"eta": c["eta"], "steps": K, "replicas": R, "x0": c["x0"], "record_every": every,
          "stats": ("subopt", "gradnorm2"), "average_from": 0, "progress": False}
    d = run_discrete(method, prob, noise, n_workers=c["N"], batch=c["B"], seed=seed + 90, **kw)
    sde = derive(method, None, noise, prob, n_workers=c["N"], batch=c["B"])
    s = run_sde(sde, prob, dt=c["eta"] / 2, seed=seed + 91, **kw)
    return {"discrete": d, "sde": s, "R": R, "prob": prob}


def _bound_values(c: dict[str, Any] | None = None) -> dict[str, float]:
    c = BOUND_CFG if c is None else c
    omega = 1 / c["p"] - 1
    d = len(c["eigs"])
    f0 = 0.5 * sum(lam * x * x for lam, x in zip(c["eigs"], c["x0"], strict=True))
    return {"eta": c["eta"], "L": max(c["eigs"]), "mu": min(c["eigs"]), "N": c["N"],
            "B": c["B"], "omega": omega, "sigma_omega2": (1 + omega) * d * c["sigma"] ** 2,
            "Delta_0": f0}


def _theory_values(vals: dict[str, float], theory: Any) -> dict[str, float]:
    """The bound's inputs under the theory: ``drop_omega`` forgets the compression (omega ->
    0 in the rate factor c and in sigma_omega2 = (1 + omega) tr Sigma_i)."""
    if not theory.flag("drop_omega"):
        return dict(vals)
    return {**vals, "omega": 0.0, "sigma_omega2": vals["sigma_omega2"] / (1 + vals["omega"])}


def _pl_curve(bnd: Any, vals: dict[str, float], t: Any, theory: Any) -> list[float]:
    """The PL bound e^{-r t} Delta_0 + (1 - e^{-r t}) floor at times ``t``, from its derived
    parts (rate r = 2 mu c, floor K/r) through the theory's knobs (``rate``, ``bound``)."""
    v = _theory_values(vals, theory)
    r = bnd.evaluate(v, "rate") * theory.factor("rate")
    fl = bnd.evaluate(v, "floor")
    d0 = v["Delta_0"]
    return [theory.factor("bound") * (math.exp(-r * float(ti)) * d0
                                      + (1 - math.exp(-r * float(ti))) * fl) for ti in t]


PL_TIGHT = {"eigs": [1.0, 1.0], "p": 0.5, "N": 4, "B": 1, "sigma": 1.0, "eta": 0.1,
            "x0": [3.0, 3.0], "T": 4.0, "h": 0.01}
"""The setting where the PL bound is attained: f = ||x||²/2 (L = mu, so ||∇f||² = 2 mu f and
tr(∇²f Σ) = L tr Σ exactly) and Bernoulli compression (variance bound with equality): the
SDE's d/dt E f equals the comparison ODE, so E f(X_t) - f* = bound(t) for all t."""


def _pl_tight_measure(seed: int, R: int) -> dict[str, Any]:
    """The tight setting's SDE (Euler-Maruyama, step h) E f - f*, and the Richardson
    estimate 2|EM_h - EM_{h/2}| of the solver's weak error from the scheme's exact moment
    recursions at h and h/2 (independent of the bound)."""
    from theorykit.check.bound_check import run_trajectory
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.rules.stationary import stationary_sde
    from theorykit.sde import derive

    c = PL_TIGHT
    prob = Quadratic(eigs=c["eigs"])
    method = DCSGD(make("bernoulli", p=c["p"]))
    noise = Gaussian(sigma=c["sigma"])
    sde = derive(method, None, noise, prob, n_workers=c["N"], batch=c["B"])
    K = round(c["T"] / c["eta"])
    traj = run_trajectory(method, prob, noise, eta=c["eta"], steps=K, replicas=R,
                          x0=c["x0"], seed=seed + 93, sde=sde, dt=c["h"], checkpoints=20)
    st_em = stationary_sde(sde, prob.hessian(), step=sp.Symbol("h", positive=True))
    x0 = np.array(c["x0"])
    m0 = np.array([x0[0] ** 2, x0[0] * x0[1], x0[1] ** 2])
    lam = c["eigs"]
    em = {}
    for h in (c["h"], c["h"] / 2):
        A, b0, unk = _operators(st_em, {"eta": c["eta"], "h": h})
        if [s.name for s in unk] != sorted(s.name for s in unk) or len(unk) != 3:
            raise RuntimeError(f"unexpected moment unknowns {unk}")
        path = _moment_path(A, b0, m0, h, round(c["T"] / h))
        per = round(c["eta"] / h)
        em[h] = np.array([0.5 * (lam[0] * path[k * per, 0] + lam[1] * path[k * per, 2])
                          for k in traj.k])
    allowance = 2 * np.abs(em[c["h"]] - em[c["h"] / 2])
    return {"traj": traj, "allowance": allowance, "em_h": em[c["h"]]}


@claim(f"{PREFIX}.bound.dcsgd_pl", "DCSGD: the derived L-smooth + PL bound is attained by "
       "the SDE on an isotropic quadratic and holds (SDE and discrete) on an anisotropic one",
       SRC_BOUND, tags=TAGS, mutants=(
           *factor_mutants("bound", "the whole PL bound"),
           *factor_mutants("rate", "the rate constant 2 mu c of the bound"),
           mutant("drop_omega", "compression forgotten in the bound (omega -> 0 in c and in "
                  "sigma_omega2)", drop_omega=True)))
def dcsgd_pl_bound_claim(ctx: RunContext) -> Verdict:
    """The derived bound E f(X_t) − f* <= e^{-2μct}Δ_0 + (1 − e^{-2μct}) ηLσ̄²/(4μNBc),
    c = 1 − ηLω/(2N) (Itô + L-smooth + PL + Grönwall; :func:`dcsgd_pl_bound`), judged
    two-sided with :mod:`theorykit.check.bound_check`:

    * **tight** — on f = ||x||²/2 (L = μ = 1, d = 2; Bernoulli p = 1/2, N = 4, σ = 1,
      η = 0.1, x_0 = (3, 3)) every inequality of the derivation is an equality, so the SDE's
      E f(X_t) − f* (Euler–Maruyama, h = 0.01) must *equal* the bound at every checkpoint
      within z·SE + the Richardson estimate of the solver's weak error (exact EM moment
      recursions at h and h/2). A bound 2x too loose or too tight, a rate off by 2 or the
      compression forgotten fails here;
    * **one-sided** — on eigenvalues 0.5 and 2 (μ = 0.5, L = 2) the real method and its SDE
      stay at or under the bound (tightness reported; not claimed attained there).

    The three judgements share the family level 0.27 % (Bonferroni over checkpoints and
    sides within each, level/3 each)."""
    with one_thread():
        from theorykit.check.bound_check import ALPHA, judge_bound, trajectory_from
        from theorykit.rules.bounds import dcsgd_pl_bound

        bnd = ctx.memo(("pl-bound",), dcsgd_pl_bound)
        R = ctx.pick(2000, 20_000)
        tight = ctx.memo(("pl-tight", ctx.mode, ctx.seed),
                         lambda: _pl_tight_measure(ctx.seed, R))
        runs = _bound_runs(ctx.mode, ctx.seed)
        vt, vl = _bound_values(PL_TIGHT), _bound_values()
        tr = tight["traj"]
        j_tight = judge_bound(tr, _pl_curve(bnd, vt, tr.t, ctx.theory), tight=True,
                              allowance=tight["allowance"], alpha=ALPHA / 3)
        js = {}
        for kind in ("sde", "discrete"):
            t = trajectory_from(runs[kind])
            js[kind] = (t, judge_bound(t, _pl_curve(bnd, vl, t.t, ctx.theory), tight=False,
                                       alpha=ALPHA / 3))
        # the reconstruction from parts equals the derived expression (no knob set)
        recon = max(abs(a - b) for a, b in zip(_pl_curve(bnd, vt, tr.t, THEORY_PLAIN),
                                               bnd.curve(vt, tr.t.tolist()), strict=True))
        v = j_tight.to_verdict(
            f"{PREFIX}.bound.dcsgd_pl", seed=ctx.seed,
            sample_size=f"{tr.replicas} replicas (tight SDE), {runs['R']} per side (one-sided)",
            details={"tight_setting": dict(PL_TIGHT), "tight_reason": j_tight.reason,
                     "tight_rows": j_tight.rows,
                     "one_sided_setting": dict(BOUND_CFG),
                     "one_sided": {k: {"status": j.status.value, "reason": j.reason,
                                       "tightness": j.tightness,
                                       "ratio": [r["ratio"] for r in j.rows]}
                                   for k, (_, j) in js.items()},
                     "floor_tight": bnd.evaluate(_theory_values(vt, ctx.theory), "floor"),
                     "cap": bnd.evaluate(vl, "cap"), "values_tight": vt, "values": vl,
                     "tightness_final": {k: j.rows[-1]["ratio"] for k, (_, j) in js.items()},
                     "tightness_final_tight_setting": j_tight.rows[-1]["ratio"],
                     "reconstruction_error": recon, "bound_latex": bnd.latex(),
                     "knobs": dict(ctx.theory.knobs)})
        v.status = joint_status([j_tight.status, *(j.status for _, j in js.values())])
        v.tolerance = (f"tight setting: {v.tolerance}; anisotropic setting: measured <= bound "
                       f"+ {js['sde'][1].z:.2f}·SE at each checkpoint (SDE and discrete)")
        v.series = {"tight_t": tr.t.tolist(), "tight_subopt": tr.mean.tolist(),
                    "tight_subopt_se": tr.se.tolist(),
                    "tight_bound": [r["bound"] for r in j_tight.rows],
                    **{f"{k}_t": t.t.tolist() for k, (t, _) in js.items()},
                    **{f"{k}_subopt": t.mean.tolist() for k, (t, _) in js.items()},
                    **{f"{k}_subopt_se": t.se.tolist() for k, (t, _) in js.items()},
                    "bound": [r["bound"] for r in js["sde"][1].rows]}
        return v


@lru_cache(maxsize=2)
def _nonconvex_run(mode: str, seed: int) -> dict[str, Any]:
    """The SDE of the bound setup on a fine time grid h = eta/10 (its own eta through
    params), for the time integral of E||∇f||² by the trapezoid rule."""
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.sde import derive
    from theorykit.simulate import run_sde

    c = BOUND_CFG
    prob = Quadratic(eigs=c["eigs"])
    method = DCSGD(make("bernoulli", p=c["p"]))
    noise = Gaussian(sigma=c["sigma"])
    sde = derive(method, None, noise, prob, n_workers=c["N"], batch=c["B"])
    h = c["eta"] / 10
    K = round(c["T"] / h)
    R = 2000 if mode == "quick" else 20_000
    r = run_sde(sde, prob, eta=h, steps=K, replicas=R, x0=c["x0"], dt=h,
                params={sde.lr.name: c["eta"]}, seed=seed + 92, record_every=K,
                stats=("gradnorm2",), average_from=0, progress=False)
    G0 = float(prob.grad(torch.tensor([c["x0"]], dtype=torch.float64)).pow(2).sum())
    A = r.tail["gradnorm2"]  # per-replica mean over the K + 1 grid points
    GK = r.estimate("gradnorm2").mean
    trap = ((K + 1) * A.mean - (G0 + GK) / 2) / K
    return {"estimate": stats.Estimate(trap, A.se * (K + 1) / K, A.n), "h": h, "K": K, "R": R}


@claim(f"{PREFIX}.bound.dcsgd_nonconvex", "DCSGD SDE: measured time-averaged E||∇f||² under "
       "the derived non-convex bound", SRC_BOUND, tags=TAGS, mutants=(
           mutant("bound_x1_2", "the non-convex bound x1/2", bound=0.5),
           mutant("drop_delta0", "the initial-gap term Delta_0/T dropped", drop_delta0=True),
           mutant("drop_omega", "compression forgotten in the bound (omega -> 0 in c and in "
                  "sigma_omega2)", drop_omega=True)))
def dcsgd_nonconvex_claim(ctx: RunContext) -> Verdict:
    """Same setup as the PL claim: (1/T)∫_0^T E||∇f(X_t)||² dt of the SDE (Euler–Maruyama,
    h = η/10, trapezoid rule) is at or under (Δ_0/T + ηLσ̄²/(2NB))/(1 − ηLω/(2N)) (tightness
    reported). The discrete method's average over steps 0..K-1 is reported alongside: the
    bound is an SDE (continuous-time) bound, and a left Riemann sum over steps of size η
    exceeds the integral by O(η) during the fast transient.

    One-sided (the source states an upper bound), tightness measured/bound reported. On
    this quadratic the derivation's only slacks are E f(X_T) − f* >= 0 and
    tr(∇²f Σ) <= L tr Σ (an O(η) term), so the measured average sits a few % under the
    bound: a bound halved, the Δ_0/T term dropped or the compression forgotten (the
    mutants) is violated."""
    with one_thread():
        from theorykit.rules.bounds import dcsgd_nonconvex_bound

        bnd = ctx.memo(("nc-bound",), dcsgd_nonconvex_bound)
        vals = {**_bound_values(), "t": BOUND_CFG["T"]}
        tv = _theory_values(vals, ctx.theory)
        if ctx.theory.flag("drop_delta0"):
            tv["Delta_0"] = 0.0
        b = bnd.evaluate(tv) * ctx.theory.factor("bound")
        run = _nonconvex_run(ctx.mode, ctx.seed)
        v = stats.at_most(f"{PREFIX}.bound.dcsgd_nonconvex", b, run["estimate"],
                          seed=ctx.seed, details={"bound": bnd.name,
                                                  "bound_expr": sp.sstr(bnd.expr),
                                                  "knobs": dict(ctx.theory.knobs)})
        d = _bound_runs(ctx.mode, ctx.seed)["discrete"]
        K = len(d.steps) and int(d.steps[-1])
        G0 = float(d.mean["gradnorm2"][0])
        GK = float(d.mean["gradnorm2"][-1])
        left = ((K + 1) * d.tail["gradnorm2"].mean - GK) / K  # (1/K) sum_{k<K}
        v.sample_size = f"{run['R']} replicas (per-replica time averages)"
        v.details.update({
            "integration": f"Euler-Maruyama h = {run['h']:g}, trapezoid rule over {run['K']} "
                           "steps", "values": vals,
            "discrete_left_riemann_average": left, "discrete_se": d.tail["gradnorm2"].se,
            "discrete_over_bound": left / v.predicted, "G0": G0,
            "note": "the discrete average is not checked against this SDE bound (it is an "
                    "O(eta)-different quantity; see the docstring)"})
        return v
