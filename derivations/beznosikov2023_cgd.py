"""CGD rates of Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276), 2023, Section 3 (the paper and the other topics:
:mod:`derivations._beznosikov2023_common`).

Provenance: the class definitions B1/B2/B3 are the paper's as *recalled* (Defs. 1-3, not
checked against the PDF) — ``paper-recalled``; the CGD rates of each class and where they
are attained are *derived* by theorykit (:mod:`theorykit.rules.rates`, from the descent
lemma and PL) — ``derived``.

The former ``identical_iterates`` claim (U(ζ) at step 1/(ζL) and C/ζ ∈ B3(ζ) at 1/L give
the same iterates and rate) is true by arithmetic; it lives on as unit tests in
``tests/test_rates.py``, and its measurable content — that rate is *attained* — is part of
``cgd_rates``. The catalog instantiation (:func:`instantiate_catalog`) is also read by the
book (``book/biased.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations._beznosikov2023_common import PAPER, PREFIX
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim
from theorykit.errors import AssumptionError, InputError

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
#: The tightness configuration: f = (L/2)||x||^2 (mu = L), where the derived rates are
#: attained (see cgd_rates' docstring). (catalog name, params, class used)
TIGHT_CASES: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("randk_unscaled", {"k": 2}, "B3"), ("randk_unscaled", {"k": 4}, "B3"),
    ("randk_unscaled", {"k": 8}, "B3"), ("biased_bernoulli", {"p": 0.25}, "B3"),
    ("randk", {"k": 4}, "U"), ("bernoulli", {"p": 0.5}, "U"),
)
TIGHT_L = 10.0


def _theory_rho(rate: Any, ctx: RunContext) -> float:
    """The derived contraction ρ(η) of ``rate`` at its step, through the mutant knobs:
    ``square_class`` replaces the class's compression constant by its square (δ -> δ² in
    B3, ζ = 1 + ω -> ζ² in U, α -> α² in B1, γ -> γ² in B2: the "δ -> δ²" slip);
    ``rate_const`` multiplies the per-step decrease 1 - ρ (a constant x2 or x1/2)."""
    from theorykit.rules.rates import ETA, MU
    from theorykit.rules.rates import L as L_SYM

    der = rate.derivation
    consts = {k: sp.sympify(v) for k, v in rate.cls.constants().items()}
    if ctx.theory.flag("square_class"):
        if "delta" in consts:
            consts["delta"] = consts["delta"] ** 2
        if "omega" in consts:
            consts["omega"] = (1 + consts["omega"]) ** 2 - 1
        for k in ("alpha", "gamma"):
            if k in consts:
                consts[k] = consts[k] ** 2
    subs = {der.constants[k]: v for k, v in consts.items()}
    subs.update({MU: rate.mu, L_SYM: rate.L, ETA: rate.eta})
    rho = float(der.contraction.subs(subs))
    return 1.0 - ctx.theory.factor("rate_const") * (1.0 - rho)


def _step_ratios(gap: np.ndarray) -> np.ndarray:
    ok = gap[:, :-1] > 1e-24 * gap[:, :1]
    return np.where(ok, gap[:, 1:] / np.where(ok, gap[:, :-1], 1.0), np.nan)


@claim(
    f"{PREFIX}.cgd_rates",
    "CGD contracts f - f* at least as fast as the derived class rate for every catalog "
    "compressor, and exactly at that rate where the rate is attained",
    Source(PAPER, "Section 3 (CGD), Theorems for B1/B2/B3 (rates re-derived)", "derived",
           note="class definitions recalled (Defs. 1-3); rates derived in "
                "theorykit.rules.rates from the descent lemma + PL"),
    tags=("biased", "rates", "issue5"),
    statement=r"For $x^{k+1} = x^k - \eta\,\mathcal C(\nabla f(x^k))$ on a quadratic with "
    r"known $\mu, L$: $E[f(x^{k+1}) - f^\star \mid x^k] \le \rho(\eta^\star)(f(x^k) - f^\star)$ "
    r"with the derived $\rho$ of the compressor's best class at its optimal step; on "
    r"$f = \frac L2\|x\|^2$ with (unscaled or scaled) random sparsification, equality.",
    mutants=(*factor_mutants("rate_const", "the rate's per-step decrease 1 - rho"),
             mutant("delta_squared", "the class constant squared (delta -> delta^2, "
                    "zeta -> zeta^2)", square_class=True)),
)
def cgd_rates(ctx: RunContext) -> Verdict:
    """Two parts, Bonferroni z over all their checks.

    (A) *bound*, one-sided: every catalog compressor with a class, on an anisotropic
    quadratic (μ = 1, L = 10, d = 16) at its derived optimal step: the measured one-step
    contraction E[r_{k+1}/r_k] (averaged over steps per replica, mean ± SE over replicas
    with random x⁰) must not exceed ρ by more than z·SE; deterministic codecs must satisfy
    every single step (float32 allowance 1e-6).

    (B) *tightness*, two-sided: on f = (L/2)||x||² (μ = L) the derived rate is attained by
    random sparsification (derived: the descent lemma is an equality because ∇²f = L I, PL
    is an equality because μ = L, and E||C(g) - g||² = (1 - 1/δ)||g||² exactly, so
    E[r⁺ | x] = (1 - μ/(δL)) r for every x; for the scaled versions at η = 1/(ζL) the
    iterates are the same). The measured contraction (the first two steps from random x⁰,
    before the iterate reaches the float32 round-off floor) must agree with ρ within z·SE.
    A rate 2x too loose or too fast, or δ replaced by δ², fails here.
    """
    from theorykit.compressors.registry import make
    from theorykit.methods.biased import DCGD, run
    from theorykit.problems import LocalQuadratics
    from theorykit.rules.rates import cgd_rate

    d, mu, L = CGD_DIM, CGD_MU, CGD_L
    R = ctx.pick(16, 64)
    steps = ctx.pick(60, 150)
    # two steps from random x⁰: later steps reach the float32 round-off floor (~1e-15 of
    # r⁰) once every coordinate has been kept, where the ratio no longer measures rho
    R_t, steps_t = ctx.pick(512, 2048), 2
    specs, skipped = instantiate_catalog(d)
    tested = []
    for spec in specs:
        try:
            rate = cgd_rate(spec, mu, L, d=d)
        except (AssumptionError, InputError, TypeError) as exc:
            skipped[spec.name] = str(exc)
            continue
        tested.append((spec, rate))
    tight = []
    for name, params, cls in TIGHT_CASES:
        spec = make(name, **params, d=d)
        tight.append((spec, cgd_rate(spec, TIGHT_L, TIGHT_L, d=d, cls=cls)))
    if not tested:
        return Verdict(f"{PREFIX}.cgd_rates", Status.INCONCLUSIVE, None, None,
                       details={"skipped": skipped})
    z = stats.bonferroni_z(len(tested) + len(tight))

    def measure(spec: Any, eta: float, mu_: float, L_: float, reps: int, n_steps: int,
                seed: int) -> tuple[stats.Estimate, float]:
        problem = LocalQuadratics.random(1, d, mu=mu_, L=L_, seed=ctx.seed)
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(reps, d, generator=g, dtype=torch.float64)
        r = run(DCGD(spec), problem, x0=x0, eta=eta, steps=n_steps, replicas=reps,
                generator=g)
        ratios = _step_ratios(r.gap)
        return stats.mean_se(np.nanmean(ratios, axis=1)), float(np.nanmax(ratios))

    rows, statuses = [], []
    for i, (spec, rate) in enumerate(tested):
        eta = float(rate.eta)
        est, max_step = ctx.memo(
            ("bound", spec.name, tuple(sorted(spec.values.items())), eta),
            lambda spec=spec, eta=eta, i=i: measure(spec, eta, mu, L, R, steps, ctx.seed + i))
        rho = _theory_rho(rate, ctx)
        status = stats.at_most("row", rho, est, z=z).status
        if not spec.randomized and max_step > rho * (1 + 1e-6):
            status = Status.CONTRADICTED
        statuses.append(status)
        speed = math.log(rho) / math.log(est.mean) if 0 < est.mean < 1 and 0 < rho < 1 \
            else float("nan")
        rows.append({
            "part": "bound", "compressor": spec.name, "params": dict(spec.values),
            "class": rate.cls.pretty(), "eta": eta, "rho_bound": rho, "measured": est.mean,
            "se": est.se, "max_single_step": max_step, "tightness": est.mean / rho,
            "speed_ratio": speed, "randomized": spec.randomized, "status": status.value})
    trows = []
    for j, (spec, rate) in enumerate(tight):
        eta = float(rate.eta)
        est, _ = ctx.memo(
            ("tight", spec.name, tuple(sorted(spec.values.items())), eta),
            lambda spec=spec, eta=eta, j=j: measure(spec, eta, TIGHT_L, TIGHT_L, R_t,
                                                    steps_t, ctx.seed + 1000 + j))
        rho = _theory_rho(rate, ctx)
        v = stats.agree("row", rho, est, z=z)
        statuses.append(v.status)
        trows.append({"part": "tight", "compressor": spec.name, "params": dict(spec.values),
                      "class": rate.cls.pretty(), "eta": eta, "rho": rho,
                      "measured": est.mean, "se": est.se,
                      "z_score": (est.mean - rho) / est.se if est.se > 0 else math.inf,
                      "status": v.status.value})
    status = joint_status(statuses)
    worst_row = max(rows, key=lambda r: r["tightness"])
    worst_t = max(trows, key=lambda r: abs(r["z_score"]))
    return Verdict(
        f"{PREFIX}.cgd_rates", status,
        predicted=f"measured <= rho for {len(rows)} compressors; measured = rho for "
                  f"{len(trows)} attaining cases",
        measured=f"max tightness {worst_row['tightness']:.3f} ({worst_row['compressor']}); "
                 f"attaining cases: max |z| = {abs(worst_t['z_score']):.2f} "
                 f"({worst_t['compressor']} {worst_t['params']})",
        tolerance=f"(A) measured <= rho + {z:.2f}·SE, deterministic codecs every step <= "
                  f"rho·(1 + 1e-6); (B) |measured - rho| <= {z:.2f}·SE; Bonferroni over "
                  f"{len(rows) + len(trows)} checks",
        sample_size=f"(A) {R} replicas x {steps} steps per compressor; (B) {R_t} replicas x "
                    f"{steps_t} steps per case",
        seed=ctx.seed,
        details={"rows": rows, "tight_rows": trows, "skipped": skipped, "d": d, "mu": mu,
                 "L": L, "tight_mu_L": TIGHT_L,
                 "tightness": "measured/rho_bound (<= 1: bound holds); speed_ratio = "
                              "ln(rho_bound)/ln(measured): fraction of the observed speed "
                              "the bound guarantees"},
        series={"compressor": [r["compressor"] for r in rows],
                "rho_bound": [r["rho_bound"] for r in rows],
                "measured": [r["measured"] for r in rows],
                "se": [r["se"] for r in rows]},
    )
