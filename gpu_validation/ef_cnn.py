r"""Error feedback on a small ResNet-style CNN (digits): DCGD with top-k vs EF vs EF21 at
equal bits.

**Claim** (Beznosikov, Horváth, Richtárik & Safaryan, JMLR 24(276), 2023, *recalled*;
Richtárik, Sokolov & Fatkhullin, EF21, NeurIPS 2021, *recalled*): distributed gradient
descent with a *biased* compressor used naively (DCGD, :math:`x \leftarrow x - \eta\frac1N
\sum_i C(g_i)`) can stall or converge to a worse point when the workers' data differ,
because what top-k drops is lost for good; error feedback (EF: each worker keeps the
dropped mass and adds it back, Stich & Karimireddy form) and EF21 (each worker compresses
the *change* of its gradient estimate) fix it, at the same number of bits.

**Setting.** :class:`gpu_validation.models.resnet.SmallResNet` on scikit-learn's digits
(:func:`gpu_validation.data.digits`), N simulated workers
(:class:`gpu_validation.workers.SimulatedWorkers`) with *heterogeneous* data: the training
set sorted by label and cut into N contiguous shards (each worker sees only a few
classes -- the regime of the papers' counterexamples). Every method sends exactly one top-k
message per worker per round with the same ``k = ratio * d`` (``codec="encode"``: every
message really packed, bits summed from ``payload.nbits``); EF21 starts from ``h_i = 0``
(its first message is a top-k message too, not a dense one), so the three methods send
*identical* bit counts, checked exactly. Same learning rate, steps, initialisation and
minibatches for the three methods within a replica; DSGD (dense, 32 bits/coordinate) is
run alongside as the uncompressed reference.

**Statistic.** Per replica r (seed ``seed + r``): final full-training-set loss ``L`` and
test accuracy. Paired differences over the n replicas, mean ± SE:
``Δ_EF = L_DCGD - L_EF`` and ``Δ_EF21 = L_DCGD - L_EF21``. A part *holds* when the
difference is positive beyond ``z·SE``, is *contradicted* when it is negative beyond
``z·SE``, and is *inconclusive* otherwise; ``z = bonferroni_z(2)`` (family-wise 0.27%
over the two parts). Mutants (wrong theories through the same statistic):
``ef_no_gain`` (``Δ_EF = 0``, two-sided), ``ef21_worse`` (``Δ_EF21 <= 0``, one-sided),
``ef_same_accuracy`` (test accuracy of EF = DCGD's, two-sided).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
import torch

from gpu_validation import common
from gpu_validation.data import Digits, digits
from gpu_validation.models.resnet import SmallResNet
from gpu_validation.workers import SimulatedWorkers, WorkerSetup
from theorykit.check.claim import Status, Verdict
from theorykit.check.stats import Estimate, agree, at_most, bonferroni_z, mean_se

NAME = "ef_cnn"
ESTIMATED_S = {"tiny": 45, "cpu": 480, "full": 480}
"""Declared run time per mode (tiny/cpu measured on 2 CPU threads; full: estimate, see
:data:`CONFIG`)."""
PRIORITY = 6
"""run_all: higher runs first (after the ViT/LM/SVAG experiments)."""

METHODS = ("dcgd", "ef", "ef21")

CONFIG: dict[str, dict[str, Any]] = {
    # tiny: 3 replicas x 3 methods x 90 steps at ~0.05 s/step on one CPU thread (~15-40 s;
    # no DSGD reference, to stay under a minute on a loaded CI machine)
    "tiny": {"width": 8, "blocks": 1, "workers": 4, "batch": 16, "steps": 90,
             "lr": 0.05, "ratio": 0.01, "replicas": 3, "curve_every": 15,
             "reference": False},
    "cpu": {"width": 12, "blocks": 1, "workers": 4, "batch": 16, "steps": 300,
            "lr": 0.05, "ratio": 0.01, "replicas": 4, "curve_every": 25,
            "reference": True},
    # full (GPU): 1.04M parameters, 8 workers x 64 images, 1500 steps, 6 replicas x 4 runs
    # (3 methods + DSGD) = 36k rounds. Per round: one vmapped forward/backward of 8 x 64
    # images (per-sample conv weight gradients: ~5 ms on a datacenter GPU, launch-bound)
    # and 8 top-k encodes of a 1M vector (torch.topk k = 10k + packing, ~1 ms each)
    # -> ~13 ms/round -> ~470 s. Estimate from kernel counts, not measured (no GPU here).
    "full": {"width": 64, "blocks": 3, "workers": 8, "batch": 64, "steps": 1500,
             "lr": 0.05, "ratio": 0.01, "replicas": 6, "curve_every": 100,
             "reference": True},
}


def heterogeneous_shards(y: torch.Tensor, n: int) -> list[torch.Tensor]:
    """Indices of the training set sorted by label and cut into ``n`` contiguous shards
    (worker i sees about ``10/n`` classes)."""
    order = torch.argsort(y.cpu() * len(y) + torch.arange(len(y)), stable=True)
    return [s.to(y.device) for s in torch.tensor_split(order, n)]


def _batches(data: Digits, shards: list[torch.Tensor], batch: int,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.stack([s[torch.randint(0, len(s), (batch,), generator=gen).to(s.device)]
                       for s in shards])
    return data.x_train[idx], data.y_train[idx]


def run_replica(cfg: dict[str, Any], data: Digits, method: str, seed: int,
                device: torch.device) -> dict[str, Any]:
    """Train one method for ``cfg["steps"]`` rounds from the replica's initialisation;
    returns final loss/accuracy, the loss curve and the bits sent."""
    torch.manual_seed(seed)
    model = SmallResNet(int(cfg["width"]), int(cfg["blocks"])).to(device)
    d = sum(p.numel() for p in model.parameters())
    k = max(1, round(float(cfg["ratio"]) * d))
    setup = WorkerSetup(n_workers=int(cfg["workers"]), batch=int(cfg["batch"]),
                        method="dsgd" if method == "dsgd" else method,
                        compressor=None if method == "dsgd" else "topk",
                        params={} if method == "dsgd" else {"k": k}, codec="encode")
    w = SimulatedWorkers(model, torch.nn.functional.cross_entropy, setup, seed=seed)
    if method == "ef21":  # h_i = 0: the first message is a top-k message (equal bits)
        w.state["h"] = torch.zeros(setup.n_workers, w.d, device=device)
    shards = heterogeneous_shards(data.y_train, setup.n_workers)
    gen = torch.Generator().manual_seed(seed * 7 + 3)  # same minibatches for all methods
    curve, bits, bits_rounds = [], 0, set()
    for t in range(int(cfg["steps"])):
        xb, yb = _batches(data, shards, setup.batch, gen)
        info = w.step(xb, yb, float(cfg["lr"]))
        bits += info.bits
        bits_rounds.add(info.bits)
        if t % int(cfg["curve_every"]) == 0:
            curve.append([t, w.evaluate(data.x_train, data.y_train)])
    loss = w.evaluate(data.x_train, data.y_train) if w.finite() else math.inf
    curve.append([int(cfg["steps"]), loss])
    acc = float((w.predict(data.x_test).argmax(1) == data.y_test).float().mean()) \
        if w.finite() else 0.0
    return {"loss": loss, "acc": acc, "bits": bits, "bits_per_round": sorted(bits_rounds),
            "d": d, "k": k, "curve": curve, "model": model}


def run(mode: common.Mode) -> dict[str, Any]:
    """The experiment in ``mode`` (see the module doc); returns the result document."""
    cfg = dict(CONFIG[mode.name])
    if mode.device.type == "cpu":
        torch.set_num_threads(1)  # tiny kernels: one thread is fastest on a shared CPU
    data = digits(mode.device, seed=mode.seed)
    n = int(cfg["replicas"])
    names = (*METHODS, "dsgd") if cfg["reference"] else METHODS
    res: dict[str, list[dict[str, Any]]] = {m: [] for m in names}
    timing: dict[str, float] = {m: 0.0 for m in res}
    model = None
    for r in range(n):
        for m in res:
            t0 = time.perf_counter()
            out = run_replica(cfg, data, m, mode.seed + r, mode.device)
            timing[m] += time.perf_counter() - t0
            model = out.pop("model")
            res[m].append(out)
    L = {m: np.array([o["loss"] for o in res[m]]) for m in res}
    A = {m: np.array([o["acc"] for o in res[m]]) for m in res}
    z = bonferroni_z(2)
    d_ef, d_ef21 = mean_se(L["dcgd"] - L["ef"]), mean_se(L["dcgd"] - L["ef21"])
    a_ef = mean_se(A["ef"] - A["dcgd"])
    bits = {m: sorted({b for o in res[m] for b in o["bits_per_round"]}) for m in res}
    equal_bits = bits["dcgd"] == bits["ef"] == bits["ef21"] and len(bits["dcgd"]) == 1
    parts = [common.greater("ef_improves_dcgd_loss", d_ef, 0.0, z=z, seed=mode.seed),
             common.greater("ef21_improves_dcgd_loss", d_ef21, 0.0, z=z, seed=mode.seed),
             Verdict("equal_bits", Status.HOLDS if equal_bits else Status.CONTRADICTED,
                     "identical bits per round", str(bits["dcgd"]), None,
                     "exact equality of the summed payload.nbits per round", n, mode.seed,
                     {"bits_per_round": bits})]
    mutants = [
        common.mutant_result("ef_no_gain", "EF gives no improvement over DCGD: "
                             "L_DCGD - L_EF = 0", agree("ef_no_gain", 0.0, d_ef, z=z,
                                                        seed=mode.seed)),
        common.mutant_result("ef21_worse", "EF21 is no better than DCGD: "
                             "L_DCGD - L_EF21 <= 0", at_most("ef21_worse", 0.0, d_ef21, z=z,
                                                              seed=mode.seed)),
        common.mutant_result("ef_same_accuracy", "EF's test accuracy equals DCGD's",
                             agree("ef_same_accuracy", 0.0, a_ef, z=z, seed=mode.seed)),
    ]
    verdict = common.experiment_verdict(
        "ef_fixes_biased_dcgd",
        "Top-k DCGD vs EF vs EF21 at equal bits on a ResNet-style CNN (heterogeneous "
        "workers): EF and EF21 reach a lower training loss", parts,
        main=common.first_contradicted(parts),
        source="source",
        seed=mode.seed, mutants=mutants,
        details={"z": z, "n_replicas": n, "acc_gain_ef": [a_ef.mean, a_ef.se],
                 "acc_gain_ef21": list(common.mean_and_se(A["ef21"] - A["dcgd"]))})
    d, k = res["dcgd"][0]["d"], res["dcgd"][0]["k"]
    ms = common.mean_and_se
    summary = {m: {"loss": ms(L[m]), "acc": ms(A[m]), "bits_total": res[m][0]["bits"],
                   "seconds": round(timing[m], 2)} for m in res}
    dense = 32 * d * int(cfg["workers"]) * int(cfg["steps"])
    expl = _explain(summary, d_ef, d_ef21, z, d, k, equal_bits, dense)
    return common.document(
        NAME, mode, verdict, used=model if model is not None else data.x_train,
        description="DCGD with top-k vs error feedback (EF) vs EF21 at equal bits on a "
                    "small ResNet-style CNN on sklearn digits, heterogeneous workers",
        config=cfg | {"d": d, "k": k, "compressor": "topk", "codec": "encode",
                      "data": "sklearn load_digits, label-sorted shards",
                      "ef21_init": "h_i = 0 (first message top-k)",
                      "replica_seeds": [mode.seed + r for r in range(n)]},
        series={"summary": summary,
                "per_replica": {m: [{k_: v for k_, v in o.items() if k_ != "curve"}
                                    for o in res[m]] for m in res},
                "curves": {m: [o["curve"] for o in res[m]] for m in res}},
        explanation=expl)


def _explain(s: dict[str, Any], d_ef: Estimate, d_ef21: Estimate, z: float, d: int,
             k: int, equal_bits: bool, dense_bits: int) -> str:
    def f(m: str) -> str:
        lo, ls = s[m]["loss"]
        ac, acs = s[m]["acc"]
        return f"{m}: loss {lo:.4g} ± {ls:.2g}, accuracy {ac:.3f} ± {acs:.3f}"

    verdict = lambda e: ("lower" if e.mean - z * e.se > 0 else "higher"  # noqa: E731
                         if e.mean + z * e.se < 0 else "not distinguishable (at z·SE)")
    return (f"d = {d}, top-k with k = {k} ({k / d:.2%}); bits per round "
            f"{'identical' if equal_bits else 'NOT identical'} across DCGD/EF/EF21 "
            f"({s['dcgd']['bits_total'] / dense_bits:.4f} of dense float32's). Final "
            f"training loss (mean ± SE over {d_ef.n} replicas): {f('dcgd')}; {f('ef')}; "
            f"{f('ef21')}" + (f"; uncompressed {f('dsgd')}. " if "dsgd" in s else ". ") +
            f"EF's loss is {verdict(d_ef)} than DCGD's (Δ = {d_ef.mean:.4g} ± "
            f"{d_ef.se:.2g}, z = {z:.3g}); EF21's is {verdict(d_ef21)} "
            f"(Δ = {d_ef21.mean:.4g} ± {d_ef21.se:.2g}).")


def main(argv: list[str] | None = None) -> int:
    return common.main(NAME, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
