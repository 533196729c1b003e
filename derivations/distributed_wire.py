r"""Claims about the *real* compressed collective: two gloo processes, real bit packing.

The DCSGD SDE (Compagnoni et al., AISTATS 2025) models the averaged message
:math:`\frac1N\sum_i C_i(g_i)` as unbiased with covariance :math:`\frac1{N^2}\sum_i
\mathrm{Cov}[C_i(g_i)]`: the ranks' compressors are *independent*. These claims check that
theorykit's distributed path (:mod:`theorykit.distributed`) delivers what the theory and the
bit formulas assume, measured on real processes exchanging packed bytes over
``torch.distributed`` (one spawn of 2 ranks shared by both claims):

* ``distributed.wire-bits`` — each rank's information bits per round equal the codec's bit
  formula :math:`b(d)` for every codec sent (exact, no statistics), and the bytes a rank
  puts on the wire stay within the packed size plus a fixed header.
* ``distributed.wire-variance`` — for unbiased codecs the mean squared error of the mean
  *received over the wire* equals :math:`\frac1{N^2}\sum_i \mathbb E\|C(v_i)-v_i\|^2`,
  computed exactly per rank vector: rand-k gives :math:`(d/k-1)\|v_i\|^2`; QSGD with
  :math:`s` levels gives :math:`\sum_j (\|v\|/s)^2\,\theta_j(1-\theta_j)` with
  :math:`\theta_j` the fractional part of :math:`s|v_j|/\|v\|` (the variance of unbiased
  rounding between adjacent levels; Alistarh et al., NeurIPS 2017, proof of Lemma 3.1
  [derived]). A seed shared across ranks, or a message decoded on the wrong rank, breaks
  the equality (for equal vectors a shared seed doubles it).

Quick mode: d = 100, 400 rounds per codec; full mode: 4000 rounds. Tolerance: 3 SE of the
per-round errors (rounds are independent draws).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.registry import claim
from theorykit.compressors.registry import make
from theorykit.distributed.launch import run_local
from theorykit.distributed.probe import probe_vectors, wire_probe

PREFIX = "distributed"
WORLD, DIM = 2, 100
CODECS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("randk", {"k": 10}), ("qsgd", {"s": 4}), ("topk", {"k": 10}), ("sign", {}),
    ("natural", {}), ("terngrad", {}),
)
SOURCE = Source("Compagnoni, Islamov, Proske, Lucchi, AISTATS 2025 (DCSGD model); "
                "codecs of theorykit.compressors.catalog",
                "independent per-worker compressors; bit formulas of the catalog", "derived")


@functools.lru_cache(maxsize=4)
def _probe(rounds: int, seed: int) -> list[list[dict[str, Any]]]:
    return run_local(wire_probe, list(CODECS), DIM, rounds, seed, world_size=WORLD)


def _rounds(ctx: RunContext) -> int:
    return int(ctx.pick(400, 4000))


@claim(f"{PREFIX}.wire-bits",
       "Over a real 2-process gloo all-gather, each rank's bits per round equal the codec's "
       "bit formula b(d)", SOURCE, tags=("distributed",))
def wire_bits(ctx: RunContext) -> Verdict:
    """Bits per round measured on the wire equal ``spec.bits()`` at d for every codec."""
    rounds = _rounds(ctx)
    res = _probe(rounds, ctx.seed)
    rows, worst = [], 0.0
    for j, (name, params) in enumerate(CODECS):
        formula = float(make(name, **params).numeric_bits(DIM))
        for per_rank in res:
            comm = per_rank[j]["comm"]
            per_round = comm["payload_bits"] / comm["rounds"]
            worst = max(worst, abs(per_round - formula))
            rows.append({"codec": name, "rank": per_rank[j]["rank"], "bits_per_round":
                         per_round, "formula": formula, "sent_bytes_per_round":
                         comm["sent_bytes"] / comm["rounds"], "dense_bytes_per_round":
                         comm["dense_bytes"] / comm["rounds"]})
    ok = worst == 0.0
    return Verdict(
        claim_id=f"{PREFIX}.wire-bits", status=Status.HOLDS if ok else Status.CONTRADICTED,
        predicted="bits/round = b(d)", measured=f"max |bits - b(d)| = {worst:g}",
        tolerance="exact (integer bit counts)", sample_size=f"{rounds} rounds x {WORLD} ranks",
        seed=ctx.seed, details={"rows": rows, "d": DIM, "world": WORLD},
        series={"codec": [r["codec"] for r in rows if r["rank"] == 0],
                "bits_per_round": [r["bits_per_round"] for r in rows if r["rank"] == 0],
                "sent_bytes_per_round": [r["sent_bytes_per_round"] for r in rows
                                         if r["rank"] == 0]})


def _exact_mse(name: str, params: dict[str, Any], v: np.ndarray) -> float:
    """E||C(v) - v||^2 for one vector, exact (see the module docstring)."""
    if name == "randk":
        return (DIM / params["k"] - 1.0) * float(v @ v)
    if name == "qsgd":
        s, norm = params["s"], float(np.linalg.norm(v))
        theta = np.mod(s * np.abs(v) / norm, 1.0)
        return float(((norm / s) ** 2 * theta * (1.0 - theta)).sum())
    raise KeyError(name)


@claim(f"{PREFIX}.wire-variance",
       "The mean received over a real 2-process all-gather has the variance of independent "
       "per-rank compressors, (1/N^2) sum_i E||C(v_i) - v_i||^2", SOURCE,
       tags=("distributed",))
def wire_variance(ctx: RunContext) -> Verdict:
    """Measured E||mean received - mean v||^2 equals the exact prediction (rand-k, QSGD)."""
    rounds = _rounds(ctx)
    res = _probe(rounds, ctx.seed)
    vs = probe_vectors(WORLD, DIM, ctx.seed).numpy()
    z = stats.bonferroni_z(2)
    parts, verdicts = [], []
    for j, (name, params) in enumerate(CODECS):
        if name not in ("randk", "qsgd"):
            continue
        pred = sum(_exact_mse(name, params, v) for v in vs) / WORLD**2
        errs = res[0][j]["errors"].numpy()
        if not np.array_equal(errs, res[1][j]["errors"].numpy()):
            raise RuntimeError(f"{name}: the ranks decoded different means")
        est = stats.mean_se(errs)
        v = stats.agree(f"{PREFIX}.wire-variance", pred, est, z=z, seed=ctx.seed)
        verdicts.append(v)
        parts.append({"codec": name, "params": params, "predicted": pred, "measured": est.mean,
                      "se": est.se, "status": v.status.value})
    worst = max(verdicts, key=lambda v: abs(v.details["diff"]) / (v.details["se"] or math.inf))
    status = joint_status(v.status for v in verdicts)
    return Verdict(
        claim_id=f"{PREFIX}.wire-variance", status=status, predicted=worst.predicted,
        measured=worst.measured, interval=worst.interval,
        tolerance=f"each codec: |meas - pred| <= {z:.3g}·SE (Bonferroni over 2 codecs)",
        sample_size=f"{rounds} rounds per codec", seed=ctx.seed,
        details={"codecs": parts, "shown": "the codec with the largest |diff|/SE"},
        series={"codec": [p["codec"] for p in parts],
                "predicted": [p["predicted"] for p in parts],
                "measured": [p["measured"] for p in parts], "se": [p["se"] for p in parts]})
