"""Certification claims for the compressor catalog: one claim per catalog entry.

Claim ``compressors.<name>``: *every class constant the catalog claims for ``<name>``
holds* — checked by the Monte Carlo certifier
(:func:`theorykit.compressors.certify.certify`: 14 random and adversarial inputs, Bonferroni
z over all (input, inequality) tests, confirmation of randomized rejections) at the two
parameter settings of :data:`SETTINGS`. Quick mode: ``n = 400`` draws per input at the
setting's ``d``; full mode: ``n = 4000`` at ``d`` and ``4 d``.

Source: the compressor's own ``reference``; provenance ``paper-recalled`` where the
constant is a paper's result as recalled (QSGD's Lemma 3.1, natural compression and
natural dithering), ``derived`` where the catalog derives it (see each spec's docstring).

Entries that claim *no* class (the truncated quantizers) document why: the ratios are
unbounded as ``x -> 0``. Their claim checks the exact small-input law [derived]: for
``t = eps tau g`` with every ``|t_j|`` inside the cells next to 0, unbiased rounding gives
``E||C(t)||^2 = ||t||^2 + sum_j Var_j`` with ``Var_j = |t_j| (Delta_j - |t_j|)`` when 0 is a
level (``Delta_j`` the width of the cell of ``t_j``), so ``E||C(t)||^2 / ||t||^2 =
sum_j |t_j| Delta_j / ||t||^2 ∝ eps^-1``; and ``Var_j = a^2 - t_j^2`` in a symmetric cell
``(-a, a)`` when 0 is not a level, so the ratio is ``d a^2 / ||t||^2 ∝ eps^-2``. Hence
``E||C||^2/||x||^2`` (and with it ``omega``, ``beta`` and the B3 error) is unbounded. The
claim takes ``t = eps h g`` (``g`` Gaussian scaled to ``max |g_j| = 1``, ``h`` the smallest
cell width next to 0, so the law is exact) for ``eps`` in :data:`SMALL_SCALES`, fits the
log-log slope of ``E||C(t)||^2/||t||^2`` (weighted by the Monte Carlo SEs; unweighted when
the ratio is deterministic) and requires agreement with ``-1`` or ``-2`` within
``3 SE + 1e-6``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.registry import claim
from theorykit.compressors.certify import certify
from theorykit.compressors.registry import catalog

PREFIX = "compressors"
QUICK_N, FULL_N = 400, 4000

#: Two parameter settings per catalog entry (each with its dimension ``d``).
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "identity": ({"d": 16}, {"d": 64}),
    "bernoulli": ({"p": 0.1, "d": 16}, {"p": 0.5, "d": 64}),
    "biased_bernoulli": ({"p": 0.2, "d": 16}, {"p": 0.7, "d": 64}),
    "randk": ({"k": 1, "d": 16}, {"k": 8, "d": 64}),
    "randk_unscaled": ({"k": 2, "d": 16}, {"k": 16, "d": 64}),
    "topk": ({"k": 1, "d": 16}, {"k": 8, "d": 64}),
    "sign": ({"d": 16}, {"d": 64}),
    "scaled_sign": ({"d": 16}, {"d": 64}),
    "terngrad": ({"d": 16}, {"d": 64}),
    "natural": ({"d": 16}, {"d": 64}),
    "qsgd": ({"s": 1, "d": 16}, {"s": 4, "d": 64}),
    "natural_dithering": ({"s": 2, "d": 16}, {"s": 4, "r": 1.0, "d": 64}),
    "unbiased_rounding": ({"base": 2.0, "d": 16}, {"base": 3.0, "d": 64}),
    "nearest_rounding": ({"base": 2.0, "d": 16}, {"base": 1.5, "d": 64}),
    "truncated_uniform": ({"tau": 1.0, "s": 4, "d": 16}, {"tau": 2.0, "s": 3, "d": 64}),
    "truncated_nonuniform": ({"tau": 1.0, "levels": "-1,-0.3,0,0.3,1", "d": 16},
                             {"tau": 2.0, "levels": "-2,-0.5,0.5,2", "d": 64}),
    "topk_qsgd": ({"k": 4, "s": 2, "d": 16}, {"k": 8, "s": 4, "d": 64}),
    "topk_natural_dithering": ({"k": 4, "s": 2, "d": 16}, {"k": 16, "s": 3, "r": 1.0,
                                                           "d": 64}),
}

#: Entries whose constants are a paper's result as recalled (the rest are derived).
RECALLED = {"qsgd", "natural", "natural_dithering"}

#: Scales ``eps`` of the small-input check for entries without classes, in units of ``h``,
#: the width of the smallest cell next to 0 (so every ``|t_j| <= h`` and the law is exact).
SMALL_SCALES = (1.0, 1.0 / 3.0, 1.0 / 9.0)
FLOAT_TOL = 1e-6
"""Allowance for float32 rounding of levels and probabilities in the codec (the ``-2`` law
is deterministic: ``||C(t)||^2 = d a^2`` for every draw)."""


def _source(name: str, cls: type) -> Source:
    prov = "paper-recalled" if name in RECALLED else "derived"
    return Source(paper=cls.reference or "theorykit catalog", locator=f"catalog entry "
                  f"{name!r}: claimed class constants", provenance=prov)


def _certify_entry(name: str, ctx: RunContext) -> Verdict:
    cls = catalog()[name]
    n = ctx.pick(QUICK_N, FULL_N)
    reports, lines, series = [], [], {"setting": [], "constant": [], "tightness": [],
                                      "status": []}
    for i, setting in enumerate(SETTINGS[name]):
        values = dict(setting)
        d = values.pop("d")
        spec = cls(**values)
        dims = ctx.pick([d], [d, 4 * d])
        rep = certify(spec, d=dims, n_samples=n, seed=ctx.seed + 1000 * i, device=ctx.device)
        reports.append(rep)
        label = ", ".join(f"{k}={v}" for k, v in setting.items())
        for c in rep.constants:
            lines.append(f"[{label}] {c.summary()}")
            series["setting"].append(label)
            series["constant"].append(c.key)
            series["tightness"].append(c.tightness)
            series["status"].append(c.status)
        ctx.report((i + 1) / len(SETTINGS[name]))
    statuses = [r.status for r in reports]
    status = joint_status(statuses)
    counts = {s: sum(x == s for x in series["status"])
              for s in ("holds", "contradicted", "inconclusive")}
    return Verdict(
        claim_id=f"{PREFIX}.{name}", status=status,
        predicted=f"all {len(series['status'])} claimed constants hold (2 settings)",
        measured=", ".join(f"{k} {s}" for s, k in counts.items() if k),
        tolerance=reports[0].rule(), sample_size=f"{n} draws per input, "
        f"{len(reports[0].inputs)} inputs, dims {[r.dims for r in reports]}",
        seed=ctx.seed, details={"constants": lines,
                                "contradicted": [x for x in lines if "contradicted" in x]},
        series=series)


def _small_input_law(spec: Any) -> tuple[float, float]:
    """``(predicted slope, h)``: -1 if 0 is a level, else -2 (a cell around 0), and the
    width ``h`` of the smallest cell next to 0 on either side."""
    lv = spec.levels_tensor.double()
    zero = lv.abs() <= 1e-6 * float(lv.abs().max())
    pos, neg = lv[(lv > 0) & ~zero], lv[(lv < 0) & ~zero]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("level grid does not surround 0")
    h = min(float(pos.min()), float(-neg.max()))
    return (-1.0 if bool(zero.any()) else -2.0), h


def _no_class_entry(name: str, ctx: RunContext) -> Verdict:
    """Entries claiming no class: the error ratio must blow up as x -> 0 with the derived
    log-log slope (-1 if 0 is a level, -2 otherwise), at both settings."""
    cls = catalog()[name]
    n = ctx.pick(QUICK_N, FULL_N)
    verdicts, series = [], {"setting": [], "eps": [], "sq_ratio": [], "sq_se": []}
    for i, setting in enumerate(SETTINGS[name]):
        values = dict(setting)
        d = values.pop("d")
        spec = cls(**values)
        gen = torch.Generator().manual_seed(ctx.seed + 1000 * i)
        direction = torch.randn(d, generator=gen, dtype=torch.float64)
        direction /= direction.abs().max()
        predicted, h = _small_input_law(spec)
        means, ses = [], []
        for eps in SMALL_SCALES:
            x = (eps * h * direction).expand(n, d).clone()
            c = spec.apply(x, gen).to(torch.float64)
            ratio = (c**2).sum(-1) / (x**2).sum(-1)
            est = stats.mean_se(ratio.numpy())
            means.append(est.mean)
            ses.append(est.se)
        deterministic = min(ses) == 0.0
        slope = stats.loglog_slope(np.array(SMALL_SCALES), np.array(means),
                                   None if deterministic else np.array(ses))
        label = ", ".join(f"{k}={v}" for k, v in setting.items())
        v = stats.agree(f"{PREFIX}.{name}", predicted, stats.Estimate(slope.slope, slope.se,
                                                                      n),
                        model_tol=FLOAT_TOL, model_tol_reason="float32 levels and "
                        "probabilities", seed=ctx.seed, details={"setting": label, "h": h})
        verdicts.append(v)
        series["setting"] += [label] * len(SMALL_SCALES)
        series["eps"] += list(SMALL_SCALES)
        series["sq_ratio"] += means
        series["sq_se"] += ses
        ctx.report((i + 1) / len(SETTINGS[name]))
    statuses = [v.status for v in verdicts]
    status = joint_status(statuses)
    return Verdict(
        claim_id=f"{PREFIX}.{name}", status=status,
        predicted=", ".join(f"{v.predicted:g}" for v in verdicts),
        measured=", ".join(f"{v.measured:.3f}" for v in verdicts),
        tolerance=verdicts[0].tolerance,
        sample_size=f"{n} draws at each eps in (1, 1/3, 1/9) x h",
        seed=ctx.seed,
        details={"statement": "no class holds: E||C(x)||^2/||x||^2 ~ ||x||^slope as x->0",
                 "per_setting": [{"setting": v.details["setting"], "predicted_slope":
                                  v.predicted, "slope": v.measured, "se": v.details["se"],
                                  "status": v.status.value} for v in verdicts]},
        series=series)


def _missing_settings(name: str, ctx: RunContext) -> Verdict:
    return Verdict(f"{PREFIX}.{name}", Status.INCONCLUSIVE, "claimed constants hold", None,
                   details={"reason": f"no certification settings for {name!r} in "
                            "derivations/catalog_certification.py SETTINGS"})


def _has_classes(cls: type, setting: dict[str, Any]) -> bool:
    values = {k: v for k, v in setting.items() if k != "d"}
    return bool(cls(**values).classes())


def _broken(reason: str):
    def runner(name: str, ctx: RunContext) -> Verdict:
        return Verdict(f"{PREFIX}.{name}", Status.ERROR, "claimed constants hold", None,
                       details={"error": reason})
    return runner


def _register() -> None:
    for name, cls in catalog().items():
        settings = SETTINGS.get(name)
        try:
            has_classes = settings is not None and _has_classes(cls, settings[0])
        except Exception as exc:  # a broken entry must not break the claim registry
            settings, has_classes = None, False
            broken = f"cannot instantiate with {SETTINGS[name][0]}: {type(exc).__name__}: {exc}"
        else:
            broken = ""
        if broken:
            runner, statement = _broken(broken), broken
        elif settings is None:
            runner, statement = _missing_settings, "no settings defined"
        elif has_classes:
            runner = _certify_entry
            statement = (f"Every class constant claimed for {name} holds for all x: checked "
                         "by Monte Carlo on random and adversarial inputs at "
                         f"{', '.join(str(s) for s in settings)}.")
        else:
            runner = _no_class_entry
            statement = (f"{name} claims no class: E||C(x)||^2/||x||^2 grows like "
                         "||x||^-1 (0 a level) or ||x||^-2 (0 not a level) as x -> 0, so "
                         "no U/B1/B2/B3 constant holds for all x.")

        def run(ctx: RunContext, _name: str = name, _runner=runner) -> Verdict:
            return _runner(_name, ctx)

        run.__doc__ = statement
        claim(f"{PREFIX}.{name}", f"{cls.title or name}: claimed class constants",
              _source(name, cls), tags=("compressors", "certify"), statement=statement)(run)


_register()
