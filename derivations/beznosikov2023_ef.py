"""The error-feedback (EF-SGD) rate of Beznosikov, Horváth, Richtárik, Safaryan, *On
Biased Compression for Distributed Learning*, JMLR 24(276), 2023, and its constant-step
floor (the paper and the other topics: :mod:`derivations._beznosikov2023_common`).

Provenance: the EF rate's form O(δL e^{-μK/(δL)} + (C + δD)/(μK)) is read from the
abstract (``paper-abstract``); its constants were not retrieved and are kept symbolic
(:mod:`theorykit.rules.ef_bound`); the claims instantiate them at 1 and say so. The exact
constant-step floor of EF with Bernoulli sparsification and the floor's δ-slope are
*derived* by theorykit (:func:`theorykit.rules.ef_bound.ef_floor_exact`,
:func:`theorykit.rules.ef_bound.floor_slopes`) — ``derived``.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from derivations._beznosikov2023_common import PAPER, PREFIX
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim

EF_N, EF_D, EF_MU, EF_L = 4, 16, 1.0, 10.0
EXP_KS = (2, 4)
"""top-k sizes of the exponent check (δ = 8, 4)."""


@claim(
    f"{PREFIX}.ef_bound",
    "EF-SGD: E f(x̄^K) - f* stays below δL R0 e^{-μK/(δL)} + (C + δD)/(μK) (unit "
    "constants), and the exponent μK/(δL) is attained by the weighted average",
    Source(PAPER, "abstract (EF rate); Theorem on EF-SGD (constants not retrieved)",
           "paper-abstract",
           note="constants c_1, c_3, c_4 unknown, instantiated at 1 (theorykit.rules."
                "ef_bound.UNIT_CONSTANTS); step and averaging from Stich's template "
                "(recalled)"),
    tags=("biased", "ef", "issue5"),
    mutants=(mutant("delta_to_1", "delta replaced by 1 in the rate (step 1/L, exponent "
                    "mu K/L, floor (C + D)/(mu K))", delta_one=True),
             *factor_mutants("exponent", "the transient's exponent mu K/(delta L)")),
)
def ef_bound_claim(ctx: RunContext) -> Verdict:
    """EF with top-k (δ = d/k) on heterogeneous quadratics (n = 4, d = 16, μ = 1, L = 10),
    step η = min{1/(δL), ln(max{2, μ²R0K²/(C+δD)})/(μK)}, weighted average x̄^K with
    w_k = (1 - μη/2)^{-(k+1)}, R0 = ||x⁰ - x*||² = 1.

    (A) *bound*, one-sided: for each (δ, C, D, K) of a grid the mean over replicas of
    f(x̄^K) - f* must not exceed the bound with c_1 = c_3 = c_4 = 1 by more than z·SE. A
    violation contradicts theorykit's unit-constant instantiation (``against =
    "derived"``), not the paper's O(·).

    (B) *exponent*, two-sided: with C = D = 0 the rule gives η = 1/(δL) and the bound is
    δL R0 e^{-μK/(δL)}. The exponent is part of the statement (an O(·) cannot hide a
    constant in an exponent) and it is attained: x̄^k = Σ w_j x^j/Σ w_j with Σ_{j<k} w_j
    growing as (1 - μη/2)^{-k} while Σ w_j x^j converges (x^k contracts faster), so
    -ln f(x̄^k) grows at -2 ln(1 - μη/2) = μη + O((μη)²) per step. Measured: the decay
    rate of f(x̄^k) between k = K/2 and K per replica, mean ± SE. Allowance (derived, not
    fitted): the O((μη)²) term |-2 ln(1 - μη/2) - μη| plus the unconverged tail of
    Σ w_j x^j, 4τ/(K/2) with τ = (ρ_x/q)^{K/2}, ρ_x the *iterate's* measured contraction
    per step (from f(x^k), not from the average) and q = 1 - μη/2. A slower measured decay
    contradicts the paper's exponent; a faster one theorykit's tightness (``derived``).

    Mutants: δ -> 1 (the rule's step 1/L, the exponent μK/L and the floor (C + D)/(μK):
    at δ = 8 EF at η = 1/L stalls); exponent x2 and x1/2 (killed by (B)). The bound's
    prefactor (x1/2) and the step condition (x2) are *not* mutants here: with unknown
    constants the unit-constant bound is loose by 10-1000x (see ``details.rows``) and EF
    is stable and attains the exponent at η = 2/(δL), so neither is a wrong theory that
    these measurements could refute."""
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import EF, run
    from theorykit.problems import LocalQuadratics
    from theorykit.rules.ef_bound import C2, UNIT_CONSTANTS, ef_bound, stich_step

    bound = ef_bound()
    # the exponent knob is the constant c_2 of e^{-mu K/(c_2 delta L)}
    consts = {**UNIT_CONSTANTS, C2: 1 / ctx.theory.factor("exponent")}
    delta_one = ctx.theory.flag("delta_one")
    R = ctx.pick(16, 64)
    Ks = ctx.pick((250, 1000), (250, 500, 1000, 2000))
    ks = (8, 2)
    cds = ((1.0, 0.0), (0.0, 1.0))
    n_tests = len(Ks) * len(ks) * len(cds) + len(EXP_KS)
    z = stats.bonferroni_z(n_tests)
    rows, statuses, against = [], [], "derived"
    i = 0
    for C, D in cds:
        p = LocalQuadratics.random(EF_N, EF_D, mu=EF_MU, L=EF_L, heterogeneity=D,
                                   seed=ctx.seed)
        for k in ks:
            delta = EF_D / k
            dth = 1.0 if delta_one else delta  # the theory's delta
            for K in Ks:
                i += 1
                eta = stich_step(K, mu=EF_MU, d0=dth * EF_L, r0=1.0, c=C + dth * D)

                def measure(C=C, D=D, k=k, K=K, eta=eta, i=i, p=p) -> stats.Estimate:
                    g = torch.Generator().manual_seed(ctx.seed + 100 * i)
                    x0 = torch.randn(R, EF_D, generator=g, dtype=torch.float64)
                    x0 = x0 / x0.norm(dim=1, keepdim=True)  # R0 = 1 exactly
                    r = run(EF(make("topk", k=k)), p, x0=x0, eta=eta, steps=K, replicas=R,
                            noise=C, generator=g, record_every=K,
                            average_q=1 - EF_MU * eta / 2)
                    if r.gap_avg is None:
                        return stats.Estimate(math.inf, math.inf, R)
                    return stats.mean_se(r.gap_avg)

                est = ctx.memo(("grid", C, D, k, K, eta), measure)
                b = bound.evaluate(delta=dth, L=EF_L, mu=EF_MU, K=K, C=C, D=D, R0=1.0,
                                   constants=consts)
                v = stats.at_most("row", b, est, z=z)
                statuses.append(v.status)
                rows.append({"C": C, "D": D, "delta": delta, "K": K, "eta": eta,
                             "measured": est.mean, "se": est.se, "bound": b,
                             "ratio": est.mean / b, "status": v.status.value})
    erows = []
    for j, k in enumerate(EXP_KS):
        delta = EF_D / k
        dth = 1.0 if delta_one else delta
        eta = stich_step(1000, mu=EF_MU, d0=dth * EF_L, r0=1.0, c=0.0)  # = 1/(dth L)
        K = int(16 * delta * EF_L / EF_MU)
        p0 = LocalQuadratics.random(EF_N, EF_D, mu=EF_MU, L=EF_L, seed=ctx.seed)

        def measure_exp(k=k, K=K, eta=eta, j=j, p0=p0) -> tuple[stats.Estimate, float]:
            g = torch.Generator().manual_seed(ctx.seed + 7000 + j)
            x0 = torch.randn(R, EF_D, generator=g, dtype=torch.float64)
            x0 = x0 / x0.norm(dim=1, keepdim=True)
            r = run(EF(make("topk", k=k)), p0, x0=x0, eta=eta, steps=K, replicas=R,
                    generator=g, record_every=K // 2, average_q=1 - EF_MU * eta / 2)
            if r.gap_avg_path is None or r.diverged_at is not None:
                return stats.Estimate(math.nan, math.nan, R), math.nan
            a, s = r.gap_avg_path, r.steps
            rate = -(np.log(a[:, -1]) - np.log(a[:, 1])) / (s[-1] - s[1])
            xr = -(np.log(r.gap[:, -1]) - np.log(r.gap[:, 1])) / (s[-1] - s[1]) / 2
            return stats.mean_se(rate), float(np.min(xr))

        est, x_rate = ctx.memo(("exponent", k, K, eta), measure_exp)
        pred = ctx.theory.factor("exponent") * EF_MU / (dth * EF_L)
        q = 1 - EF_MU * eta / 2
        rho_x = math.exp(-x_rate) if math.isfinite(x_rate) else 1.0
        tau = min(1.0, (rho_x / q) ** (K / 2)) if rho_x < q else 1.0
        allowance = abs(-2 * math.log(q) - EF_MU * eta) + 4 * tau / (K / 2)
        v = stats.agree("row", pred, est, z=z, model_tol=allowance)
        if v.status == Status.CONTRADICTED and est.mean < pred:
            against = "source"
        statuses.append(v.status)
        erows.append({"delta": delta, "eta": eta, "K": K, "predicted_rate": pred,
                      "measured_rate": est.mean, "se": est.se, "allowance": allowance,
                      "iterate_rate": x_rate, "tail_tau": tau, "status": v.status.value})
    status = joint_status(statuses)
    worst_ratio = max(r["ratio"] for r in rows)
    ver = Verdict(
        f"{PREFIX}.ef_bound", status,
        predicted="measured <= bound(c_i = 1) on every grid point; decay rate of f(x̄^k) = "
                  + ", ".join(f"{r['predicted_rate']:.4g}" for r in erows),
        measured=f"max measured/bound = {worst_ratio:.3g}; decay rates "
                 + ", ".join(f"{r['measured_rate']:.4g}" for r in erows),
        tolerance=f"(A) measured <= bound + {z:.2f}·SE; (B) |rate - mu/(delta L)| <= "
                  f"{z:.2f}·SE + derived allowance; Bonferroni over {n_tests} checks; "
                  "constants c_1, c_3, c_4 = 1 (unknown in the paper)",
        sample_size=f"{R} replicas per point, {n_tests} checks", seed=ctx.seed,
        details={"rows": rows, "exponent_rows": erows, "bound": sp.sstr(bound.expr),
                 "instantiation": "c_1 = c_2 = c_3 = c_4 = c_d = 1, R0 = ||x0 - x*||^2 = 1, "
                                  "step and averaging of Stich (2019) Lemma 2 (recalled)",
                 "n": EF_N, "d": EF_D, "mu": EF_MU, "L": EF_L},
        series={k: [r[k] for r in rows] for k in ("C", "D", "delta", "K", "measured", "se",
                                                 "bound")},
    )
    ver.against = against  # type: ignore[assignment]
    return ver


def _slope_check(xs: list[float], ests: list[stats.Estimate], predicted: float, z: float
                 ) -> tuple[stats.Slope, bool]:
    s = stats.loglog_slope(np.array(xs), np.array([e.mean for e in ests]),
                           np.array([e.se for e in ests]))
    return s, abs(s.slope - predicted) <= z * s.se


FLOOR_ETA = 0.02




FLOOR_CASES: tuple[tuple[float, float, float, float], ...] = (
    (4.0, 0.25, 0.25, 0.02), (0.25, 4.0, 0.25, 0.02), (1.0, 1.0, 0.125, 0.01),
    (1.0, 1.0, 0.5, 0.04))
"""(C, D, p, η) of the floor check: noise- and heterogeneity-dominated, and three δ = 1/p
at steps with ηδL = 0.8 (the bound's regime η <= 1/(δL))."""


@claim(
    f"{PREFIX}.ef_floor_C",
    "EF-SGD's constant-step floor is linear and additive in C and D, F = a(δ, η) C + "
    "b(δ, η) D, with a, b from the exact second-moment recursion (Bernoulli sparsification)",
    Source(PAPER, "abstract: the (C + δD)/(μK) term, i.e. a floor c_3 η (C + c_4 δ D) at a "
           "constant step; coefficients derived exactly for Bernoulli sparsification",
           "derived"),
    tags=("biased", "ef", "issue5"),
    mutants=(*factor_mutants("floor_const", "the floor's constant"),
             mutant("noise_squared", "C entering the floor as C^2", noise_exp=2.0),
             mutant("het_times_delta", "heterogeneity entering as delta·D in the dynamics "
                    "(the bound's delta D read literally)", het_delta=True),
             mutant("no_error_feedback", "the floor of compressed SGD without the EF memory",
                    no_ef=True)),
)
def ef_floor_c_claim(ctx: RunContext) -> Verdict:
    """EF (v_i = C(e_i + ηg_i)) with the catalog's ``biased_bernoulli`` (B3(δ = 1/p)) at a
    constant step on heterogeneous quadratics (n = 4, d = 16, μ = 1, L = 10) with gradient
    noise C. Predicted: the stationary E f - f* = a C + b D, where a = F(C = 1, D = 0) and
    b = F(C = 0, D = 1) are computed exactly from the first/second-moment recursion of
    (x, e_1..e_n) (:func:`theorykit.rules.ef_bound.ef_floor_exact`; linear dynamics given
    the independent masks, so C and D enter linearly and additively — the form of the
    bound's floor c_3 η (C + c_4 δ D); a and b carry the true δ- and η-dependence).
    Measured: time average of f(x^k) - f* after a 6/(μη) burn-in, mean ± SE over
    independent replicas, at configurations where *both* C and D are non-zero and δ, η
    vary (no configuration is a rescaling of another). Two-sided at the Bonferroni z over
    the configurations; the codec's float32 rounding (relative 2⁻²⁴) is far below the SE.
    Also reported: a/η and b/(ηδ), the constants c_3 and c_3 c_4 of the bound's floor that
    these configurations imply."""
    from theorykit.problems import LocalQuadratics
    from theorykit.rules.ef_bound import ef_floor_exact, measure_floor

    R, window = ctx.pick(32, 128), ctx.pick(500, 2000)
    z = stats.bonferroni_z(len(FLOOR_CASES))
    no_ef = ctx.theory.flag("no_ef")
    rows, statuses = [], []
    for i, (C, D, p, eta) in enumerate(FLOOR_CASES):
        delta = 1 / p
        est = ctx.memo(("mc", C, D, p, eta), lambda C=C, D=D, p=p, eta=eta, i=i: measure_floor(
            n=EF_N, d=EF_D, k=None, C=C, D=D, eta=eta, window=window, replicas=R,
            seed=ctx.seed + i, compressor="biased_bernoulli", params={"p": p},
            x0_scale=1.0))
        prob0, prob1 = (LocalQuadratics.random(EF_N, EF_D, mu=EF_MU, L=EF_L,
                                               heterogeneity=h, seed=1) for h in (0.0, 1.0))
        a = ctx.memo(("a", p, eta, no_ef), lambda p=p, eta=eta, pr=prob0: ef_floor_exact(
            pr, p=p, eta=eta, C=1.0, ef=not no_ef, tol=1e-10))
        b = ctx.memo(("b", p, eta, no_ef), lambda p=p, eta=eta, pr=prob1: ef_floor_exact(
            pr, p=p, eta=eta, C=0.0, ef=not no_ef, tol=1e-10))
        c_th = C ** ctx.theory.factor("noise_exp")
        d_th = D * (delta if ctx.theory.flag("het_delta") else 1.0)
        pred = ctx.theory.factor("floor_const") * (a * c_th + b * d_th)
        v = stats.agree("row", pred, est, z=z)
        statuses.append(v.status)
        rows.append({"C": C, "D": D, "delta": delta, "eta": eta, "a": a, "b": b,
                     "predicted": pred, "measured": est.mean, "se": est.se,
                     "z_score": (est.mean - pred) / est.se, "implied_c3": a / eta,
                     "implied_c3c4": b / (eta * delta), "status": v.status.value})
    worst = max(rows, key=lambda r: abs(r["z_score"]))
    return Verdict(
        f"{PREFIX}.ef_floor_C", joint_status(statuses),
        predicted=f"F = a C + b D (exact recursion) at {len(rows)} configurations",
        measured=f"max |z| = {abs(worst['z_score']):.2f} (C={worst['C']:g}, D={worst['D']:g},"
                 f" delta={worst['delta']:g}, eta={worst['eta']:g})",
        tolerance=f"|measured - predicted| <= {z:.2f}·SE (Bonferroni over {len(rows)})",
        sample_size=f"{R} replicas x {window} averaged steps after a 6/(mu eta) burn-in, "
                    f"{len(rows)} configurations",
        seed=ctx.seed,
        details={"rows": rows, "compressor": "biased_bernoulli (B3(1/p))"},
        series={"C": [r["C"] for r in rows], "floor": [r["measured"] for r in rows],
                "se": [r["se"] for r in rows], "predicted": [r["predicted"] for r in rows]},
    )


@claim(
    f"{PREFIX}.ef_floor_deltaD",
    "EF's heterogeneity floor (C = 0) does not grow with δ at the bound's largest step "
    "η = 1/(δL)",
    Source(PAPER, "abstract: the δD/(μK) term; slope derived from the bound's form",
           "derived"),
    tags=("biased", "ef", "issue5"),
    mutants=(mutant("cap_without_delta", "the step condition without delta (eta = 1/L)",
                    cap_exp=0.0),
             mutant("cap_sqrt_delta", "the step condition with sqrt(delta) (eta = "
                    "1/(sqrt(delta) L))", cap_exp=0.5)),
)
def ef_floor_dd_claim(ctx: RunContext) -> Verdict:
    """C = 0 (full local gradients), heterogeneous quadratics (D = 1), EF with top-k,
    δ = d/k ∈ {2, 4, 8} (16 in full mode), at the bound's largest step η = 1/(δL): the
    bound's floor c_3 η (C + c_4 δ D) there is the δ-free c_3 c_4 D/L (derived slope 0).
    An *upper* bound that does not grow in δ is contradicted only by a floor that grows,
    so the test is one-sided: the weighted log-log slope <= 0 + z·SE (z = 3). Not
    homogeneous by construction: δ changes the compressor and the step. A diverging run
    is an infinite floor (contradicted). The measured floor at a fixed η grows like
    η²δ²DL (reported in full mode), which is why the step condition's δ matters: a cap
    1/L or 1/(√δ L) lets the floor grow with δ."""
    from theorykit.rules.ef_bound import floor_slopes, measure_floor

    sl = floor_slopes()
    z = stats.Z_DEFAULT
    R, window = ctx.pick(32, 128), ctx.pick(500, 2000)
    ks = ctx.pick([8, 4, 2], [8, 4, 2, 1])
    deltas = [EF_D / k for k in ks]
    cap_exp = ctx.theory.factor("cap_exp")
    etas = [1 / (dl**cap_exp * EF_L) for dl in deltas]
    ests = [ctx.memo(("floor", k, eta), lambda k=k, eta=eta, i=i: measure_floor(
        n=EF_N, d=EF_D, k=k, C=0.0, D=1.0, eta=eta, window=window, replicas=R,
        seed=ctx.seed + 20 + i)) for i, (k, eta) in enumerate(zip(ks, etas, strict=True))]
    pred = float(sl["delta_at_cap"])
    if not all(math.isfinite(e.mean) for e in ests):
        s_c = stats.Slope(math.inf, math.nan, math.nan, len(ests))
        status = Status.CONTRADICTED
    else:
        s_c = stats.loglog_slope(np.array(deltas), np.array([e.mean for e in ests]),
                                 np.array([e.se for e in ests]))
        status = Status.of(s_c.slope <= pred + z * s_c.se)
    ests_f = [measure_floor(n=EF_N, d=EF_D, k=k, C=0.0, D=1.0, eta=FLOOR_ETA / 4,
                            window=window, replicas=R, seed=ctx.seed + 30 + i)
              for i, k in enumerate(ks)] if not ctx.quick and not ctx.theory.is_mutant else []
    s_f = _slope_check(deltas, ests_f, 1.0, z)[0] if ests_f else None
    return Verdict(
        f"{PREFIX}.ef_floor_deltaD", status,
        predicted=f"slope_delta(eta = 1/(delta^{cap_exp:g} L)) <= {pred}",
        measured=f"slope_delta = {s_c.slope:.3f} ± {s_c.se:.3f}",
        interval=(s_c.slope - z * s_c.se, s_c.slope + z * s_c.se),
        tolerance=f"slope_delta <= {pred} + {z:g}·SE(slope) (weighted LS on the replica SEs)",
        sample_size=f"{R} replicas x {window} averaged steps after a burn-in of 6/(mu eta) "
                    f"steps; {len(deltas)} values of delta",
        seed=ctx.seed,
        details={"slope_delta": s_c.slope, "slope_delta_se": s_c.se, "etas": etas,
                 "slope_delta_fixed_eta": None if s_f is None else s_f.slope,
                 "slope_delta_fixed_eta_se": None if s_f is None else s_f.se,
                 "note": "at fixed eta the bound's floor trend in delta is linear (an upper "
                         "bound under eta <= 1/(delta L)); measured in full mode only"},
        series={"delta": deltas, "floor_delta": [e.mean for e in ests],
                "se_delta": [e.se for e in ests],
                "floor_delta_fixed_eta": [e.mean for e in ests_f],
                "se_delta_fixed_eta": [e.se for e in ests_f]},
    )
