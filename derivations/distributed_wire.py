r"""Claims about the *real* compressed collective: two gloo processes, real bit packing.

The DCSGD SDE (Compagnoni et al., AISTATS 2025) models the averaged message
:math:`\frac1N\sum_i C_i(g_i)` as unbiased with covariance :math:`\frac1{N^2}\sum_i
\mathrm{Cov}[C_i(g_i)]`: the ranks' compressors are *independent*. These claims check that
theorykit's distributed path (:mod:`theorykit.distributed`) delivers what the theory and the
bit formulas assume, measured on real processes exchanging packed bytes over
``torch.distributed`` (one spawn of 2 ranks, shared by both claims and all their mutants):

* ``distributed.wire-bits`` — the bytes that *arrive* at each rank from the other one
  (counted on the receiving side from the tensors the all-gather filled) match the codec's
  bit formula :math:`b(d)`: between :math:`\lceil b/8\rceil` and :math:`\lceil b/8\rceil +
  F - 1` data bytes per message (each of the F packed fields is padded to whole bytes, F
  read from the received header), plus the declared header of :math:`8(2F + 1)` bytes
  (an int64 element count and bit count per field, and the int64 buffer size). Exact, no
  statistics. A wrong formula (x2, x1/2, the 32-bit float scale of QSGD/TernGrad left
  out, d instead of k, 32-bit instead of :math:`\lceil\log_2 d\rceil`-bit indices) is off
  by more than the padding allowance.
* ``distributed.wire-variance`` — for unbiased codecs the mean squared error of the mean
  *received over the wire* equals :math:`\frac1{N^2}\sum_i \mathbb E\|C(v_i)-v_i\|^2`,
  computed exactly per rank vector: rand-k gives :math:`(d/k-1)\|v_i\|^2`; QSGD with
  :math:`s` levels gives :math:`\sum_j (\|v\|/s)^2\,\theta_j(1-\theta_j)` with
  :math:`\theta_j` the fractional part of :math:`s|v_j|/\|v\|` (the variance of unbiased
  rounding between adjacent levels; Alistarh et al., NeurIPS 2017, proof of Lemma 3.1
  [derived]). The ranks' vectors are *correlated* (correlation 0.8), the setting where
  independence matters: with one seed shared by the ranks the error would be
  :math:`(d/k-1)\|\bar v\|^2` (rand-k, same mask) and
  :math:`\frac1{N^2}\sum_j\sum_{i,l} a_{ij}a_{lj}(\min(\theta_{ij},\theta_{lj}) -
  \theta_{ij}\theta_{lj})` (QSGD, same uniforms; :math:`a_{ij} = \pm\|v_i\|/s`), 30-40%
  larger here (both derived and checked in-process by ``tests/test_claims_wire.py``).

Quick mode: d = 100, 400 rounds for rand-k and QSGD, 20 for the other codecs (their sizes
are deterministic); full mode: 4000 / 100. Tolerance: Bonferroni z over the 2 codecs times
the SE of the per-round errors (rounds are independent draws).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import factor_mutants, mutant
from theorykit.check.registry import claim
from theorykit.compressors.registry import make
from theorykit.distributed.launch import run_local
from theorykit.distributed.probe import probe_vectors, wire_probe

PREFIX = "distributed"
WORLD, DIM = 2, 100
COMMON = 0.8  # correlation of the ranks' probe vectors
CODECS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("randk", {"k": 10}), ("qsgd", {"s": 4}), ("topk", {"k": 10}), ("sign", {}),
    ("natural", {}), ("terngrad", {}),
)
VARIANCE_CODECS = ("randk", "qsgd")
SCALED = ("qsgd", "terngrad")  # codecs whose formula includes one float32 scale/norm
SPARSE = ("randk", "topk")  # codecs with k values and k indices
SOURCE = Source("Compagnoni, Islamov, Proske, Lucchi, AISTATS 2025 (DCSGD model); "
                "codecs of theorykit.compressors.catalog",
                "independent per-worker compressors; bit formulas of the catalog", "derived")


@functools.lru_cache(maxsize=4)
def _probe(rounds: tuple[int, ...], seed: int) -> list[list[dict[str, Any]]]:
    """One spawn of WORLD gloo processes running every codec (shared by both claims)."""
    return run_local(wire_probe, list(CODECS), DIM, list(rounds), seed, COMMON,
                     world_size=WORLD)


def _rounds(ctx: RunContext) -> tuple[int, ...]:
    many, few = ctx.pick((400, 20), (4000, 100))
    return tuple(many if name in VARIANCE_CODECS else few for name, _ in CODECS)


def _measure(ctx: RunContext) -> list[list[dict[str, Any]]]:
    rounds = _rounds(ctx)
    return ctx.memo(("wire_probe", rounds, ctx.seed), lambda: _probe(rounds, ctx.seed))


def _formula_bits(ctx: RunContext, name: str, params: dict[str, Any]) -> int:
    """The theory's bits per message at d = DIM (the catalog formula, or a mutant of it)."""
    th = ctx.theory
    p = dict(params)
    if th.flag("k_as_d") and name in SPARSE:
        p["k"] = DIM
    spec = make(name, **p)
    bits = float(spec.numeric_bits(DIM))
    if th.flag("drop_scale") and name in SCALED:
        bits -= 32
    if th.flag("int32_indices") and name in SPARSE:
        bits += p["k"] * (32 - math.ceil(math.log2(DIM)))
    return round(bits * th.factor("bits"))


@claim(f"{PREFIX}.wire-bits",
       "Over a real 2-process gloo all-gather, the bytes each rank receives per message "
       "match the codec's bit formula b(d) (ceil to bytes, per-field padding, declared "
       "header)", SOURCE, tags=("distributed",),
       mutants=(*factor_mutants("bits", "the bit formula"),
                mutant("drop_scale", "formula without the 32-bit float scale (QSGD, TernGrad)",
                       drop_scale=True),
                mutant("k_as_d", "sparsifier formula with d in place of k", k_as_d=True),
                mutant("int32_indices", "32-bit instead of ceil(log2 d)-bit indices",
                       int32_indices=True)))
def wire_bits(ctx: RunContext) -> Verdict:
    """For every codec and receiving rank, over all rounds: the smallest and largest data
    buffer received from the other rank lie in [ceil(b/8), ceil(b/8) + F - 1] with F the
    number of fields named in the received header, the header bytes per message are
    exactly 8 (2F + 1), and the sender's declared information bits equal b. Fails when the
    bytes on the wire do not match the formula (mutants: b x2, x1/2, without the float
    scale, d instead of k, 32-bit indices)."""
    cid = f"{PREFIX}.wire-bits"
    res = _measure(ctx)
    rows, bad = [], []
    for j, (name, params) in enumerate(CODECS):
        b = _formula_bits(ctx, name, params)
        lo = math.ceil(b / 8)
        for per_rank in res:
            comm = per_rank[j]["comm"]
            F = int(comm["received_header_fields"])
            msgs = int(comm["received_messages"])
            hdr = comm["received_header_bytes"] / msgs
            dmin, dmax = int(comm["received_data_min"]), int(comm["received_data_max"])
            declared = comm["payload_bits"] / comm["rounds"]
            ok = (lo <= dmin and dmax <= lo + F - 1 and hdr == 8 * (2 * F + 1)
                  and declared == b)
            if not ok:
                bad.append(f"{name}@rank{per_rank[j]['rank']}")
            rows.append({"codec": name, "rank": per_rank[j]["rank"], "formula_bits": b,
                         "predicted_data_bytes": [lo, lo + F - 1],
                         "received_data_bytes_min_max": [dmin, dmax],
                         "fields_in_header": F, "received_header_bytes_per_msg": hdr,
                         "predicted_header_bytes": 8 * (2 * F + 1),
                         "declared_bits_per_round": declared, "messages_received": msgs,
                         "padding_bytes": dmax - lo, "ok": ok})
    r0 = [r for r in rows if r["rank"] == 0]
    return Verdict(
        claim_id=cid, status=Status.of(not bad),
        predicted="; ".join(f"{r['codec']}: b = {r['formula_bits']} bits -> "
                            f"{r['predicted_data_bytes'][0]}..{r['predicted_data_bytes'][1]}"
                            f" B + {r['predicted_header_bytes']} B header" for r in r0),
        measured="; ".join(f"{r['codec']}: {r['received_data_bytes_min_max'][0]}.."
                           f"{r['received_data_bytes_min_max'][1]} B + "
                           f"{r['received_header_bytes_per_msg']:g} B header" for r in r0)
        + (f"; mismatches: {', '.join(bad)}" if bad else ""),
        tolerance="exact integer byte counts: data in [ceil(b/8), ceil(b/8) + F - 1] (per-"
                  "field byte padding), header = 8 (2F + 1) bytes, declared bits = b",
        sample_size=f"{sum(_rounds(ctx))} rounds x {WORLD} receiving ranks",
        seed=ctx.seed, details={"rows": rows, "d": DIM, "world": WORLD},
        series={"codec": [r["codec"] for r in r0],
                "formula_bytes": [r["predicted_data_bytes"][0] for r in r0],
                "received_data_bytes": [r["received_data_bytes_min_max"][1] for r in r0]})


def _qsgd_terms(V: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Per rank and coordinate: the signed step a_ij = sign(v_ij)||v_i||/s and the rounding
    probability theta_ij (fractional part of s|v_ij|/||v_i||)."""
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return np.sign(V) * norms / s, np.mod(s * np.abs(V) / norms, 1.0)


def _predicted_mse(ctx: RunContext, name: str, params: dict[str, Any], V: np.ndarray
                   ) -> float:
    """E||mean of received messages - mean v||^2 under the theory (module docstring).
    Knobs: ``shared_seed`` (same randomness on all ranks), ``per_rank_over_N`` (1/N instead
    of 1/N^2), ``second_moment`` (E||C(v)||^2 instead of the variance), ``omega_bound``
    (omega ||v||^2 with the catalog's omega, as if the bound were attained)."""
    th = ctx.theory
    N = V.shape[0]
    norm_div = N if th.flag("per_rank_over_N") else N**2
    if name == "randk":
        k = params["k"]
        if th.flag("shared_seed"):
            vbar = V.mean(axis=0)
            return (DIM / k - 1.0) * float(vbar @ vbar)
        per = (DIM / k - 1.0) * (V**2).sum(axis=1)
        if th.flag("second_moment"):
            per = per + (V**2).sum(axis=1)
        return float(per.sum()) / norm_div
    if name == "qsgd":
        s = params["s"]
        a, theta = _qsgd_terms(V, s)
        if th.flag("shared_seed"):
            tot = sum(float((a[i] * a[m] * (np.minimum(theta[i], theta[m])
                                            - theta[i] * theta[m])).sum())
                      for i in range(N) for m in range(N))
            return tot / N**2
        if th.flag("omega_bound"):
            omega = min(DIM / s**2, math.sqrt(DIM) / s)
            per = omega * (V**2).sum(axis=1)
        else:
            per = (a**2 * theta * (1.0 - theta)).sum(axis=1)
        if th.flag("second_moment"):
            per = per + (V**2).sum(axis=1)
        return float(per.sum()) / norm_div
    raise KeyError(name)


def _exact_mse(name: str, params: dict[str, Any], v: np.ndarray) -> float:
    """E||C(v) - v||^2 for one vector, exact (see the module docstring)."""
    return _predicted_mse(RunContext(), name, params, v[None, :])


@claim(f"{PREFIX}.wire-variance",
       "The mean received over a real 2-process all-gather has the variance of independent "
       "per-rank compressors, (1/N^2) sum_i E||C(v_i) - v_i||^2", SOURCE,
       tags=("distributed",),
       mutants=(mutant("shared_seed", "same compressor randomness on every rank",
                       shared_seed=True),
                mutant("per_rank_over_N", "per-rank variance divided by N, not N^2 "
                       "(omega/N -> omega)", per_rank_over_N=True),
                mutant("second_moment", "E||C(v)||^2 in place of the variance",
                       second_moment=True),
                mutant("omega_bound", "QSGD's omega bound taken as attained",
                       omega_bound=True)))
def wire_variance(ctx: RunContext) -> Verdict:
    """Measured E||mean received - mean v||^2 (per-round squared errors on both ranks,
    which must decode the same mean) equals the exact independent-ranks prediction for
    rand-k (k = 10) and QSGD (s = 4) with correlated rank vectors, two-sided, Bonferroni
    over the 2 codecs. Fails if the ranks' randomness is shared, the per-rank variance is
    scaled wrongly or the variance formula is wrong (the mutants)."""
    cid = f"{PREFIX}.wire-variance"
    res = _measure(ctx)
    rounds = _rounds(ctx)
    V = probe_vectors(WORLD, DIM, ctx.seed, COMMON).numpy()
    z = stats.bonferroni_z(len(VARIANCE_CODECS))
    parts, verdicts = [], []
    for j, (name, params) in enumerate(CODECS):
        if name not in VARIANCE_CODECS:
            continue
        pred = _predicted_mse(ctx, name, params, V)
        errs = res[0][j]["errors"].numpy()
        if not np.array_equal(errs, res[1][j]["errors"].numpy()):
            raise RuntimeError(f"{name}: the ranks decoded different means")
        est = stats.mean_se(errs)
        v = stats.agree(cid, pred, est, z=z, seed=ctx.seed)
        verdicts.append(v)
        parts.append({"codec": name, "params": params, "predicted": pred, "measured": est.mean,
                      "se": est.se, "z_score": (est.mean - pred) / est.se,
                      "status": v.status.value})
    worst = max(verdicts, key=lambda v: abs(v.details["diff"]) / (v.details["se"] or math.inf))
    status = joint_status(v.status for v in verdicts)
    return Verdict(
        claim_id=cid, status=status, predicted=worst.predicted,
        measured=worst.measured, interval=worst.interval,
        tolerance=f"each codec: |meas - pred| <= {z:.3g}·SE (Bonferroni over "
                  f"{len(VARIANCE_CODECS)} codecs)",
        sample_size=", ".join(f"{r} rounds ({n})" for (n, _), r in zip(CODECS, rounds,
                                                                       strict=True)
                              if n in VARIANCE_CODECS), seed=ctx.seed,
        details={"codecs": parts, "shown": "the codec with the largest |diff|/SE",
                 "vector_correlation": COMMON,
                 "vector_norms": np.linalg.norm(V, axis=1).tolist()},
        series={"codec": [p["codec"] for p in parts],
                "predicted": [p["predicted"] for p in parts],
                "measured": [p["measured"] for p in parts], "se": [p["se"] for p in parts]})
