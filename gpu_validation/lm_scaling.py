r"""Scaling rules on a GPT-like byte LM: with the derived rule, loss against samples seen
coincides across (N, B); with the wrong rule it separates (Compagnoni, Islamov, Proske &
Lucchi, AISTATS 2025, scaling rules, *recalled*; the rules are *derived* by
:func:`theorykit.rules.scaling.derive_rules`, exactly what ``theorykit rules`` prints).

Setting. A byte-level causal transformer (:class:`gpu_validation.models.ByteLM`) trained
on the Python standard library's own sources (:func:`gpu_validation.data.stdlib_bytes`)
with DSignSGD (mean of the workers' signs) on N simulated workers with per-worker batch
B, natural minibatch noise only. The base run is (N, B) = (1, 1) with learning rate
η₀; the others are (2, 2), (4, 4), (8, 8) (tiny: up to (4, 4)), i.e. α = δ = N.

Rules (from ``derive_rules("dsignsgd", noise="gaussian")``): the Phase-3 (small-gradient)
square-root rule κ = α√δ (the derived rule), and the Phase-1 linear rule κ = αδ (the
wrong one in the noise-dominated regime). Mutants: the derived κ times 2 and times 1/2.

Statistic (:func:`theorykit.check.rule_check.curve_distance`, the one the SDE-level
``scaling.*`` claims use): validation loss at ``n_ckpt`` checkpoints equally spaced in
samples seen s = k·N·B, mean ± SE over seeds per configuration;
D = max_j (|f̄_base(s_j) − f̄_scaled(s_j)| − a_j)_+ / SE_j with SE_j the two SEs combined
in quadrature (conservative here: both runs of a seed share the initial point, so the
curves are positively correlated). On a real model there is no moment model for the
discretisation allowance, so a_j = 0 (declared): the rule *holds* iff D <= z and the
curves *separate* iff D > z, z the Bonferroni z over the checkpoints (0.27% family-wise).

    python -m gpu_validation.lm_scaling --tiny | --cpu | --full

Full-mode estimate (how it was made): per seed, steps = S·(1 + 4·(1/4 + 1/16 + 1/64))
≈ 2.3·S with S = 16384 samples, 4 seeds: 150k steps of a vmapped 2-layer LM (ctx 64,
dim 64), launch-bound at ≈ 3 ms per step on a GPU ≈ 7.5 min, evaluations ≈ 0.3 min.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gpu_validation import common, data
from gpu_validation.models import make_model, n_params
from gpu_validation.workers import SimulatedWorkers, WorkerSetup, train
from theorykit.check import stats
from theorykit.check.claim import Status, Verdict, joint_status

NAME = "lm_scaling"
ESTIMATED_S = {"tiny": 20, "cpu": 320, "full": 480}  # seconds per mode: see common
PRIORITY = 20


def config(mode: common.Mode) -> dict[str, Any]:
    return mode.pick(
        tiny={"configs": [[1, 1], [2, 2], [4, 4]], "samples": 256, "n_ckpt": 4,
              "seeds": 3, "lr0": 0.003, "eval_windows": 64, "max_files": 4,
              "model": {"ctx": 16, "dim": 16, "depth": 1, "heads": 2}},
        cpu={"configs": [[1, 1], [2, 2], [4, 4], [8, 8]], "samples": 4096, "n_ckpt": 8,
             "seeds": 4, "lr0": 0.002, "eval_windows": 128, "max_files": None,
             "model": {"ctx": 32, "dim": 32, "depth": 2, "heads": 2}},
        full={"configs": [[1, 1], [2, 2], [4, 4], [8, 8]], "samples": 16384, "n_ckpt": 8,
              "seeds": 4, "lr0": 0.001, "eval_windows": 512, "max_files": None,
              "model": {"ctx": 64, "dim": 64, "depth": 2, "heads": 4}})


def rules() -> dict[str, Any]:
    """The derived (Phase-3 square-root) and the wrong (Phase-1 linear) DSignSGD rules,
    as ``theorykit rules --method dsignsgd`` derives them."""
    from theorykit.rules.scaling import derive_rules

    rs = derive_rules("dsignsgd", None, "gaussian")
    regime = [r for r in rs if r.kind == "regime"]
    sqrt_rule = next(r for r in regime if "Phase 3" in r.name)
    lin_rule = next(r for r in regime if "Phase 1" in r.name)
    return {"derived": sqrt_rule, "wrong": lin_rule}


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def _curve(n: int, b: int, lr: float, seed: int, cfg: dict[str, Any], text: data.ByteText,
           val: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> list[float]:
    model = make_model("byte_lm", seed=seed, device=device, **cfg["model"])
    w = SimulatedWorkers(model, _loss, WorkerSetup(n, b, "dsignsgd"), seed=seed)
    gen = torch.Generator(device=device).manual_seed(20_000 + seed)
    ctx = cfg["model"]["ctx"]
    steps = cfg["samples"] // (n * b)
    every = steps // cfg["n_ckpt"]
    c = train(w, lambda: data.windows(text.train, (n, b), ctx, gen), steps, lr,
              checkpoints=[j * every for j in range(cfg["n_ckpt"] + 1)],
              evaluate=lambda ww: ww.evaluate(*val), blowup=50.0)
    return c.loss


def _distance(base: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    from theorykit.check.rule_check import Curve, curve_distance

    def cur(a: np.ndarray) -> Any:
        return Curve(a.mean(0), a.std(0, ddof=1) / math.sqrt(a.shape[0]), a.shape[0], 0)

    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(other))):
        return {"D": math.inf, "diverged": True}
    return curve_distance(cur(base), cur(other), np.zeros(base.shape[1]))


def run(mode: common.Mode) -> dict[str, Any]:
    cfg = config(mode)
    dev = mode.device
    text = data.stdlib_bytes(dev, cfg["max_files"])
    vg = torch.Generator(device=dev).manual_seed(99)
    val = data.windows(text.val, (cfg["eval_windows"],), cfg["model"]["ctx"], vg)
    rs = rules()
    seeds = [mode.seed * 1000 + i for i in range(cfg["seeds"])]
    base_nb = cfg["configs"][0]
    kinds = {"derived": 1.0, "wrong": 1.0, "x2": 2.0, "x1/2": 0.5}
    curves: dict[str, Any] = {"base": np.array([
        _curve(*base_nb, cfg["lr0"], s, cfg, text, val, dev) for s in seeds])}
    kappas: dict[str, dict[str, float]] = {}
    for n, b in cfg["configs"][1:]:
        a, dl = n / base_nb[0], b / base_nb[1]
        key = f"N{n}_B{b}"
        kappas[key] = {}
        for kind, mult in kinds.items():
            rule = rs["wrong"] if kind == "wrong" else rs["derived"]
            kap = rule.kappa_value(a, dl) * mult
            kappas[key][kind] = kap
            curves[f"{key}:{kind}"] = np.array([
                _curve(n, b, cfg["lr0"] * kap, s, cfg, text, val, dev) for s in seeds])
    z = stats.bonferroni_z(cfg["n_ckpt"])
    parts, dist = [], {}
    mut_parts: dict[str, list[Verdict]] = {"x2": [], "x1/2": []}
    for key in kappas:
        for kind in kinds:
            dd = _distance(curves["base"], curves[f"{key}:{kind}"])
            dist[f"{key}:{kind}"] = dd
            coincide = dd["D"] <= z
            if kind == "derived":
                parts.append(Verdict(f"derived_rule_coincides[{key}]",
                                     Status.HOLDS if coincide else Status.CONTRADICTED,
                                     f"D <= {z:.3g}", dd["D"], None,
                                     f"coincide iff D <= z = {z:.3g} (Bonferroni over "
                                     f"{cfg['n_ckpt']} checkpoints; allowance 0)",
                                     len(seeds), mode.seed, details=dd))
            elif kind == "wrong":
                parts.append(Verdict(f"wrong_rule_separates[{key}]",
                                     Status.CONTRADICTED if coincide else Status.HOLDS,
                                     f"D > {z:.3g}", dd["D"], None,
                                     f"separate iff D > z = {z:.3g}", len(seeds), mode.seed,
                                     details=dd))
            else:
                mut_parts[kind].append(Verdict(
                    f"mutant_{kind}[{key}]", Status.HOLDS if coincide else Status.CONTRADICTED,
                    f"D <= {z:.3g}", dd["D"], None, f"coincide iff D <= {z:.3g}",
                    len(seeds), mode.seed))
    mutants = []
    for kind, ps in mut_parts.items():
        st = joint_status(p.status for p in ps)
        worst = max(ps, key=lambda p: float(p.measured))  # type: ignore[arg-type]
        mutants.append(common.mutant_result(
            f"kappa_{kind.replace('/', '_')}",
            f"the derived kappa = alpha*sqrt(delta) multiplied by {kind[1:]} makes the curves "
            "coincide",
            Verdict(kind, st, worst.predicted, worst.measured, None, worst.tolerance,
                    worst.sample_size, mode.seed)))
    main_i = max(range(len(parts)), key=lambda i: ("derived" in parts[i].claim_id,
                                                    float(parts[i].measured)))  # type: ignore[arg-type]
    v = common.experiment_verdict(
        NAME, "DSignSGD on a byte LM: with kappa = alpha*sqrt(delta) (derived, Phase 3) loss "
        "against samples seen coincides across (N, B); with kappa = alpha*delta it "
        "separates", parts, source="derived", seed=mode.seed, mutants=mutants,
        details={"z": z, "distances": dist, "kappas": kappas,
                 "rules": {k: {"name": r.name, "kappa": str(r.kappa), "kind": r.kind}
                           for k, r in rs.items()}}, main=main_i)
    m0 = make_model("byte_lm", seed=0, device=dev, **cfg["model"])
    every = [cfg["samples"] * j // cfg["n_ckpt"] for j in range(cfg["n_ckpt"] + 1)]
    series = {"samples": every, **{k: {"mean": a.mean(0), "se": a.std(0, ddof=1)
                                       / math.sqrt(a.shape[0])} for k, a in curves.items()}}
    expl = " ".join(
        f"{p.claim_id}: D = {float(p.measured):.3g} vs z = {z:.3g} -> {p.status.value}."
        for p in parts) + " Mutants: " + ", ".join(f"{m.name} D = {float(m.measured):.3g} "
                                                   f"({m.status})" for m in mutants) + "."
    return common.document(
        NAME, mode, v, used=m0, description=__doc__.split("\n\n")[0],
        config=cfg | {"d": n_params(m0), "seeds": seeds, "data": text.describe(),
                      "method": "dsignsgd (mean vote)"},
        series=series, explanation=expl)


def main(argv: list[str] | None = None) -> int:
    return common.main(NAME, run, __doc__, argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
