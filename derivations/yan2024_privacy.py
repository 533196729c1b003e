r"""Claims of private quantization (Yan, Li, Wu, Song, Digital Signal Processing 146 (2024),
arXiv 2304.13545: quantization with binomial noise, abstract; and the cpSGD binomial
mechanism of Agarwal et al. 2018, recalled; digest ``docs/theory/compression_papers.md``
§2.3): the mechanism's MSE and its (ε, δ) accounting, both *derived* by
:mod:`theorykit.rules.privacy`, against Monte Carlo and against the exact privacy loss.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from derivations._common import one_thread
from derivations._yan2024_common import PREFIX, PRIV, quantization_rules
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.mutants import mutant
from theorykit.check.registry import claim


@claim(
    f"{PREFIX}.private-mse",
    "Private quantization: the MSE formula B + rounding + Δ² m p(1-p) matches Monte Carlo",
    Source(PRIV, "uniform quantization + binomial noise (digest §2.3)", "derived",
           note="E(ĝ-g)² = Δ²(r(1-r) + m p(1-p)) derived with sympy.stats"),
    tags=("privacy", "quantization", "monte-carlo", "issue6"),
    statement=r"$\mathrm{MSE} = B(\alpha) + \sum_j\int(g-\ell_j)(\ell_{j+1}-g)p + "
    r"\Delta^2 m p(1-p)$, $\Delta = 2\alpha/s$.",
    mutants=(
        mutant("noise_mp", "noise variance m p instead of m p(1-p)", noise_var="mp"),
        mutant("noise_dropped", "binomial noise term dropped", noise=0.0),
        mutant("grid_alpha_over_s", "noise term with Δ = α/s instead of 2α/s",
               noise=0.25),
        mutant("rounding_dropped", "rounding (and truncation) error dropped: noise only",
               codec=0.0),
    ),
)
@one_thread()
def private_mse(ctx: RunContext) -> Verdict:
    """Measured: the MC MSE of the mechanism (torch: clip, stochastic rounding,
    torch.binomial) on Gaussian and Laplace draws for several (s, m). Predicted: the
    codec's exact MSE (uniform levels) + Δ² m p(1-p) (with the mutant's changes).
    Two-sided, Bonferroni z over the cases. Fails when a term of the formula is wrong."""
    from theorykit.rules.privacy import BinomialQuantizer

    q = quantization_rules()
    th = ctx.theory
    n = ctx.pick(100_000, 1_000_000)
    cases = [("gaussian", {"sigma": 1.0}, 7, 16), ("gaussian", {"sigma": 1.0}, 3, 64),
             ("laplace", {"gamma": 1.0}, 15, 32), ("gaussian", {"sigma": 1.0}, 15, 2)]
    z = stats.bonferroni_z(len(cases))

    def measure() -> list[dict[str, Any]]:
        out = []
        for i, (name, params, s, m) in enumerate(cases):
            d = q.density(name, **params)
            alpha = q.optimize(d, s, scheme="uniform", exact=False).alpha
            mech = BinomialQuantizer(alpha, s, m)
            gen = torch.Generator().manual_seed(ctx.seed + 17 * i)
            x = d.sample(n, gen)
            est = stats.mean_se(((mech.apply(x, gen) - x) ** 2).numpy())
            out.append({"density": name, "s": s, "m": m, "p": mech.p, "alpha": alpha,
                        "delta": mech.delta_grid, "bits": mech.bits,
                        "codec": mech.mse(d) - mech.noise_mse(), "mc": est.mean,
                        "se": est.se})
        return out

    rows = []
    for r in ctx.memo(("mc", n), measure):
        r = dict(r)
        pv = r["p"] if th.choice("noise_var", "mpq") == "mp" else r["p"] * (1 - r["p"])
        noise = th.factor("noise") * r["delta"] ** 2 * r["m"] * pv
        pred = th.factor("codec") * r["codec"] + noise
        ok = abs(r["mc"] - pred) <= z * r["se"]
        r.update({"predicted": pred, "noise_share": noise / pred if pred else float("nan"),
                  "z_score": (r["mc"] - pred) / r["se"], "ok": ok})
        rows.append(r)
    status = Status.of(all(r["ok"] for r in rows))
    worst = max(rows, key=lambda r: abs(r["z_score"]))
    return Verdict(
        f"{PREFIX}.private-mse", status, predicted=worst["predicted"], measured=worst["mc"],
        interval=stats.Estimate(worst["mc"], worst["se"], n).interval(z),
        tolerance=f"|MC - formula| <= z·SE, z = {z:.2f} (Bonferroni over {len(cases)}); "
                  f"shown: the case with the largest |z|",
        sample_size=f"{n} draws per case", seed=ctx.seed, details={"cases": rows},
        series={"cases": rows},
    )


@claim(
    f"{PREFIX}.private-epsilon",
    "Private quantization: the reported ε is at least the exact privacy loss of the "
    "binomial mechanism, and at most d·h above it (h the accountant's grid)",
    Source(PRIV, "binomial mechanism privacy (cpSGD, recalled); accounting of "
           "rules.privacy", "derived",
           note="reported: PLD accountant with losses rounded up; exact: hockey-stick "
                "divergence by summing the product PMFs"),
    tags=("privacy", "issue6"),
    statement=r"$\varepsilon_{\rm exact}(\delta) \le \varepsilon_{\rm reported}(\delta) \le "
    r"\varepsilon_{\rm exact}(\delta) + d h$ where "
    r"$\delta_{\rm exact}(\varepsilon) = \max\sum_y (P(y) - e^\varepsilon Q(y))_+$ over "
    r"the d-fold product of $(\mathrm{Bin}(m,p), \mathrm{Bin}(m,p) + k)$.",
    mutants=(
        mutant("round_down", "accountant rounds the privacy losses down", round_down=True),
        mutant("no_composition", "one coordinate's ε reported for the d-dimensional "
               "message (composition forgotten)", accountant="single"),
        mutant("basic_composition", "d-fold basic composition: d·ε(δ/d) of one "
               "coordinate", accountant="basic"),
        mutant("gaussian_approx", "the leading-order Gaussian approximation as the "
               "accountant", accountant="gaussian"),
    ),
)
@one_thread()
def private_epsilon(ctx: RunContext) -> Verdict:
    """Exact (deterministic) two-sided comparison over (m, k, d, δ) cases: the reported ε
    must be a valid upper bound (>= exact - 1e-7, the exact bisection's tolerance) and
    tight to its discretisation (<= exact + d·h + 1e-6: each scalar loss is rounded up by
    less than h; derived in :func:`theorykit.rules.privacy.pld_epsilon`). Also checks that
    the scalar privacy profile is monotone in the shift, which the worst-case-shift
    accounting relies on. The accountant is where the theory enters (the mutants)."""
    from theorykit.rules.privacy import (
        exact_delta,
        exact_epsilon,
        gaussian_approx_epsilon,
        pld_epsilon,
    )

    th = ctx.theory
    grid = 1e-3
    acc = th.choice("accountant", "pld")
    round_up = not th.flag("round_down")
    cases = [(16, 1, 1, 1e-3), (64, 1, 1, 1e-5), (64, 3, 1, 1e-5), (256, 2, 1, 1e-6),
             (100, 1, 2, 1e-5), (40, 2, 2, 1e-4), (30, 1, 3, 1e-4)]
    if not ctx.quick:
        cases += [(1000, 4, 1, 1e-6), (200, 1, 2, 1e-6), (60, 2, 3, 1e-5)]

    def reported(m: int, k: int, d: int, delta: float) -> float:
        if acc == "single":
            return pld_epsilon(m, 0.5, k, delta, d=1, grid=grid, round_up=round_up)
        if acc == "basic":
            return d * pld_epsilon(m, 0.5, k, delta / d, d=1, grid=grid, round_up=round_up)
        if acc == "gaussian":
            return gaussian_approx_epsilon(m, 0.5, k * math.sqrt(d), delta)
        return pld_epsilon(m, 0.5, k, delta, d=d, grid=grid, round_up=round_up)

    exact = ctx.memo("exact", lambda: {c: exact_epsilon(c[0], 0.5, c[1], c[3], d=c[2])
                                       for c in cases})
    rows, ok_all = [], True
    for m, k, d, delta in cases:
        rep = reported(m, k, d, delta)
        ex = exact[(m, k, d, delta)]
        lower_ok = rep >= ex - 1e-7
        upper_ok = rep <= ex + d * grid + 1e-6
        ok_all &= lower_ok and upper_ok
        rows.append({"m": m, "k": k, "d": d, "delta": delta, "reported": rep, "exact": ex,
                     "slack": rep - ex, "allowed_slack": d * grid + 1e-6,
                     "valid": lower_ok, "tight": upper_ok})

    def monotone() -> bool:
        mono = True
        for m, k in ((64, 3), (256, 2)):
            for eps in np.linspace(0.05, 4, 40):
                vals = [exact_delta(m, 0.5, j, float(eps)) for j in range(1, k + 1)]
                mono &= all(a <= b + 1e-15 for a, b in itertools.pairwise(vals))
        return bool(mono)

    mono = ctx.memo("monotone", monotone)
    worst = max(rows, key=lambda r: max(-r["slack"], r["slack"] - r["allowed_slack"]))
    status = Status.of(ok_all and mono)
    return Verdict(
        f"{PREFIX}.private-epsilon", status, predicted=worst["exact"], measured=worst["reported"],
        interval=(worst["exact"] - 1e-7, worst["exact"] + worst["allowed_slack"]),
        tolerance="exact: exact ε - 1e-7 <= reported ε <= exact ε + d·h + 1e-6 (h = 1e-3, "
                  "the PLD grid; 1e-7 and 1e-6 the bisection tolerances); shift "
                  "monotonicity on 40 ε values; shown: the case nearest to failing",
        sample_size=f"{len(rows)} (m, k, d, δ) cases", seed=ctx.seed,
        details={"cases": rows, "shift_monotone": mono, "accountant": acc,
                 "round_up": round_up},
        series={"cases": rows},
    )
