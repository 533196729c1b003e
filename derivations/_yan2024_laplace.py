"""The Laplace pieces shared by the two TNQSGD claim modules (Yan, Li, Xiao, Li, Song,
arXiv 2402.01160; :mod:`derivations.yan2024_tnqsgd_closed_form` and
:mod:`derivations.yan2024_tnqsgd_codec`): the published E*(s), the bound's closed-form
argmin α*(s), and the Monte Carlo sweep of the real TNQ codec's MSE over the threshold
(:func:`sweep`, shared by the three argmin claims ``yan2024.tnqsgd-laplace-argmin``, for the
book's figure, ``-argmin-exact`` and ``-codec-optimum``) with the table, curves and
explanation they report from it.

The leading underscore keeps this module out of the claim discovery.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from derivations._yan2024_common import codec_errors, quantization_rules
from theorykit.check.claim import RunContext

#: the published TNQSGD constants (Laplace, γ = 1): E* = 27/(s + 3√6/2)²
E_PUB_NUM = 27.0
E_PUB_OFFSET = 3 * math.sqrt(6) / 2


def e_published(s: float, factor: float = 1.0) -> float:
    """The published E*(s) for Laplace(γ = 1), times a mutant ``factor``."""
    return factor * E_PUB_NUM / (s + E_PUB_OFFSET) ** 2


def bound_argmin(s: int, cq: float) -> float:
    """The closed-form argmin of the TNQSGD bound for Laplace(γ = 1): α* = 3γ ln(1 + √(A/K))
    with A = 2γ² (both tails of B) and K = 108 c_Q γ²/s² (= 3γ ln(1 + s√6/9) at c_Q = 1/4;
    derived by :mod:`theorykit.rules.quantization`)."""
    a_coef = 2.0
    return 3 * math.log(1 + math.sqrt(a_coef / (108 * cq / s**2)))


_SWEEP_CACHE: dict[tuple, dict[str, Any]] = {}


def _fit_argmin(alphas: np.ndarray, m: np.ndarray) -> float:
    """Minimiser of the least-squares cubic through (alphas, m) inside the sweep range."""
    c = np.polyfit(alphas, m, 3)
    r = np.roots(np.polyder(c))
    r = r[np.isreal(r)].real
    r = r[(r > alphas[0]) & (r < alphas[-1])]
    if r.size == 0:
        return float("nan")
    return float(r[np.argmin(np.polyval(c, r))])


def sweep(ctx: RunContext) -> dict[str, Any]:
    """MC sweep of the real TNQ codec's MSE over α (levels λ* at each α), common random
    numbers across α; the argmin of a cubic fit with a delta-method SE. Shared by the
    three argmin claims (module cache keyed by mode and seed: it does not depend on any
    mutant)."""
    key = (ctx.mode, ctx.seed)
    if key in _SWEEP_CACHE:
        return _SWEEP_CACHE[key]
    from theorykit.compressors.registry import make

    q = quantization_rules()
    d = q.density("laplace")
    n = ctx.pick(100_000, 1_000_000)
    s_values = (3, 7, 15)
    out: dict[str, Any] = {"n": n, "s": list(s_values), "rows": []}
    for i, s in enumerate(s_values):
        a4 = q.optimize(d, s, c_q=q.C_Q_WORST, exact=False).alpha
        a6 = q.optimize(d, s, c_q=q.C_Q_HIGH_RES, exact=False).alpha
        a_exact, e_exact = q.exact_optimal_threshold(d, s, "nonuniform")
        alphas = np.linspace(0.85 * a4, 1.15 * a6, 11)
        gen = torch.Generator().manual_seed(ctx.seed + 101 * i)
        x = d.sample(n, gen)
        E = np.empty((n, alphas.size))
        for j, a in enumerate(alphas):
            spec = make("truncated_nonuniform", tau=float(a),
                        levels=tuple(float(v) for v in q.nonuniform_levels(d, a, s)))
            g2 = torch.Generator().manual_seed(ctx.seed + 7 + 101 * i)  # CRN across α
            E[:, j] = codec_errors(d, spec, x, float(a), g2, control=False)
        m = E.mean(axis=0)
        C = np.cov(E, rowvar=False) / n
        am = _fit_argmin(alphas, m)
        eps = 1e-7 * max(1.0, float(np.abs(m).max()))
        grad = np.array([(_fit_argmin(alphas, m + eps * np.eye(alphas.size)[j]) - am) / eps
                         for j in range(alphas.size)])
        se = float(math.sqrt(max(grad @ C @ grad, 0.0)))
        exact_curve = np.array([q.codec_mse(d, q.nonuniform_levels(d, a, s)) for a in alphas])
        fit_bias = _fit_argmin(alphas, exact_curve) - a_exact
        mse_a4 = q.codec_mse(d, q.nonuniform_levels(d, a4, s))
        mse_a6 = q.codec_mse(d, q.nonuniform_levels(d, a6, s))
        out["rows"].append({"s": s, "alpha_cq_1_4": a4, "alpha_cq_1_6": a6,
                            "alpha_exact": a_exact, "mse_exact_min": e_exact,
                            "mse_exact_at_cq_1_4": mse_a4, "mse_exact_at_cq_1_6": mse_a6,
                            "penalty_cq_1_4": mse_a4 / e_exact - 1,
                            "penalty_cq_1_6": mse_a6 / e_exact - 1,
                            "alpha_gap_cq_1_4": a4 / a_exact - 1,
                            "mc_argmin": am, "mc_argmin_se": se, "fit_bias": fit_bias,
                            "alphas": alphas.tolist(), "mc_mse": m.tolist(),
                            "mc_se": np.sqrt(np.diag(C)).tolist(),
                            "exact_mse": exact_curve.tolist()})
    _SWEEP_CACHE[key] = out
    return out


def plot_data(sw: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The sweep's thresholds table and per-s curves (for the book's figure)."""
    thresholds = [{k: r[k] for k in ("s", "alpha_cq_1_4", "alpha_cq_1_6", "alpha_exact",
                                     "mc_argmin", "mc_argmin_se")} for r in sw["rows"]]
    series = {f"s{r['s']}": {"alpha": r["alphas"], "mc_mse": r["mc_mse"],
                             "mc_se": r["mc_se"], "exact_mse": r["exact_mse"]}
              for r in sw["rows"]}
    return thresholds, series


def optimum_explanation(sw: dict[str, Any], z: float) -> str:
    """Why the codec's MSE optimum is not α*: computed from the sweep's numbers."""
    rows = sw["rows"]
    gaps = [r["alpha_gap_cq_1_4"] for r in rows]
    pens = [r["penalty_cq_1_4"] for r in rows]
    zs = [(r["mc_argmin"] - r["alpha_cq_1_4"]) / r["mc_argmin_se"] for r in rows]
    near6 = [abs(r["alpha_cq_1_6"] / r["alpha_exact"] - 1) for r in rows]
    s_txt = ", ".join(str(r["s"]) for r in rows)
    return (
        f"For s = {s_txt}: the Monte Carlo argmin of the real codec's MSE lies "
        f"{min(zs):.1f} to {max(zs):.1f} standard errors above α* = 3γ ln(1 + s√6/9) "
        f"(Bonferroni z = {z:.2f}); the exact-MSE argmin (numeric integration) is "
        f"{-max(gaps):.1%} to {-min(gaps):.1%} above α*, within {max(near6):.1%} of the "
        "c_Q = 1/6 threshold 3γ ln(1 + s/3). α* minimises the c_Q = 1/4 (worst-case cell) "
        "model (tnqsgd-laplace-argmin holds); the codec's average cell variance is closer to "
        "Δ²/6, so its MSE optimum sits at a larger threshold. Using α* costs "
        f"{min(pens):.2%} to {max(pens):.2%} more MSE than the codec's exact optimum.")
