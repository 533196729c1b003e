r"""Real distributed training with compressed gradients, and the compression variance of the
real collective against its derived value.

**Runs.** DSGD, DCSGD (rand-k, QSGD s = 4), DSignSGD and error feedback (top-k) train a small
MLP on N workers with :mod:`theorykit.distributed` (every message really encoded, gathered
as bytes and decoded; :func:`theorykit.distributed.train.train`), recording per method the
loss curve, the exact bits on the wire and the compression ratio against a dense float32
all-reduce. Compagnoni et al. (AISTATS 2025) predict that at equal steps unbiased
compression (DCSGD) pays in loss for its extra variance while sign compression stays robust.

**Claim (verdict).** The DCSGD SDE of Compagnoni et al. (AISTATS 2025) rests on the averaged
message being unbiased with compression variance that *averages out over independent
workers*. For rand-k (``omega = d/k - 1``, Beznosikov et al., JMLR 2023, Table 1) and
independent compressors on N workers this is exact (derived):

.. math:: E\Big\|\frac1N\sum_i C_i(g_i) - \frac1N\sum_i g_i\Big\|^2
          = \frac{\omega}{N^2}\sum_i \|g_i\|^2 .

The experiment measures the left side on the *real* collective (real ranks: gloo on CPU,
NCCL on GPU; or the simulated workers) at P minibatch gradients of the model, R
compression draws each, and tests the normalised statistic (measured / derived, predicted
1) with ``theorykit.check.stats.agree`` (z from ``bonferroni_z`` over the claim and its
mutants). Mutants run through the same statistic: *shared randomness* across workers
(``omega ||mean g||^2``), *no averaging* of the compression variance (``omega/N sum ||g_i||^2``)
and the *biased rand-k* variance ``(1 - k/d)`` in place of ``omega``.

**Workers.** ``--workers ranks``: real processes, gloo on CPU, NCCL with one rank per GPU
on CUDA (the model and every message on the rank's GPU). ``--workers simulated``: N workers
in one process on one device, drawing the same minibatches and compressor randomness as the
ranks (so on CPU the two modes give the same numbers). ``auto`` (default): ranks, unless
CUDA has fewer GPUs than workers, then simulated.

    python -m gpu_validation.distributed_compression --tiny       # CPU, 2 gloo ranks, ~40 s
    python -m gpu_validation.distributed_compression --cpu        # CPU, minutes
    python -m gpu_validation.distributed_compression --full       # GPU(s), ~8 min (estimate)
    python -m gpu_validation.distributed_compression --full --workers ranks --world 2  # NCCL

``--full`` sizing (an estimate; no GPU was available when it was set): 5 methods x 6000
steps of a 64-1024-4 MLP with 4 workers. On one datacenter GPU a step costs about 10 kernel
launches and, for the compressed methods, 3 all-gathers (ranks) or N encode/decode calls
(simulated); at ~10-20 us per launch that is ~5-10 ms per step with logging, i.e.
30 000 steps x ~10 ms ~ 5 min, plus the variance measurement (P x R = 32 x 200 collectives,
~1 min) and start-up: about 8 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gpu_validation import common
from theorykit.check import stats
from theorykit.compressors.registry import make
from theorykit.distributed.collectives import compressed_mean, dense_mean
from theorykit.distributed.launch import run_local
from theorykit.distributed.train import TrainConfig, make_data, make_model, train
from theorykit.errors import InputError

NAME = "distributed_compression"
ESTIMATED_S = {"tiny": 40, "cpu": 300, "full": 480}
PRIORITY = 4
WORKER_MODES = ("auto", "ranks", "simulated")


# ===================================================================== configuration
def configs(mode: str, seed: int) -> dict[str, TrainConfig]:
    """The five training runs of a mode (``tiny``/``cpu``/``full``)."""
    steps, log, hidden, n = {"tiny": (60, 5, 32, 2048), "cpu": (1500, 50, 256, 32768),
                             "full": (6000, 100, 1024, 65536)}[mode]
    base = TrainConfig(steps=steps, log_every=log, batch=32, hidden=hidden, n_samples=n,
                       lr=0.1, seed=seed, checkpoint_every=10**9)
    d = sum(p.numel() for p in make_model(base).parameters())
    k = max(1, d // 20)
    return {
        "dsgd": dataclasses.replace(base, method="dsgd"),
        f"dcsgd_randk_k{k}": dataclasses.replace(base, method="dcsgd", compressor="randk",
                                                 params={"k": k}),
        "dcsgd_qsgd_s4": dataclasses.replace(base, method="dcsgd", compressor="qsgd",
                                             params={"s": 4}),
        "dsignsgd": dataclasses.replace(base, method="dsignsgd", lr=0.005),
        f"ef_topk_k{k}": dataclasses.replace(base, method="ef", compressor="topk",
                                             params={"k": k}),
    }


def variance_config(mode: str, cfg: TrainConfig) -> dict[str, Any]:
    """P gradient points x R compression draws of the variance claim."""
    points, draws = {"tiny": (4, 50), "cpu": (8, 100), "full": (32, 200)}[mode]
    d = sum(p.numel() for p in make_model(cfg).parameters())
    return {"cfg": cfg, "points": points, "draws": draws, "k": max(1, d // 20), "d": d}


# ============================================================== the variance measurement
def _grad(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _variance_ranks(vc: dict[str, Any]) -> dict[str, Any]:
    """On each real rank: P minibatch gradients g_i, R draws of the real compressed mean;
    returns per draw ``||mean C_i(g_i) - mean g_i||^2`` and per point ``sum ||g_i||^2`` and
    ``||mean g_i||^2`` (identical on every rank)."""
    cfg: TrainConfig = vc["cfg"]
    rank, world = dist.get_rank(), dist.get_world_size()
    device = _rank_device()
    X, y = make_data(cfg)
    model = make_model(cfg).to(device)
    spec = make("randk", k=vc["k"])
    bgen = torch.Generator().manual_seed(cfg.seed * 7919 + 17 + rank)
    cgen = torch.Generator(device=device).manual_seed(cfg.seed * 104729 + 31 + rank)
    err, sq_sum, sq_mean = [], [], []
    for _ in range(vc["points"]):
        idx = torch.randint(0, X.shape[0], (cfg.batch,), generator=bgen)
        g = _grad(model, X[idx].to(device), y[idx].to(device))
        gbar = dense_mean(g)
        n2 = (g.double().square().sum()).reshape(1)
        dist.all_reduce(n2)
        sq_sum.append(float(n2))
        sq_mean.append(float(gbar.double().square().sum()))
        for _ in range(vc["draws"]):
            m = compressed_mean(g, spec, cgen)
            err.append(float((m.double() - gbar.double()).square().sum()))
    return {"err": err, "sq_sum": sq_sum, "sq_mean": sq_mean, "world": world,
            "device": str(device), "backend": dist.get_backend()}


def _variance_simulated(vc: dict[str, Any], world: int, device: torch.device
                        ) -> dict[str, Any]:
    """The same measurement with N workers in one process (same generators per worker)."""
    cfg: TrainConfig = vc["cfg"]
    X, y = make_data(cfg)
    model = make_model(cfg).to(device)
    spec = make("randk", k=vc["k"])
    bgens = [torch.Generator().manual_seed(cfg.seed * 7919 + 17 + r) for r in range(world)]
    cgens = [torch.Generator(device=device).manual_seed(cfg.seed * 104729 + 31 + r)
             for r in range(world)]
    err, sq_sum, sq_mean = [], [], []
    for _ in range(vc["points"]):
        gs = []
        for r in range(world):
            idx = torch.randint(0, X.shape[0], (cfg.batch,), generator=bgens[r])
            gs.append(_grad(model, X[idx].to(device), y[idx].to(device)))
        gbar = torch.stack(gs).sum(0) / world
        sq_sum.append(float(sum(g.double().square().sum() for g in gs)))
        sq_mean.append(float(gbar.double().square().sum()))
        for _ in range(vc["draws"]):
            m = torch.zeros_like(gbar)
            for r in range(world):
                m += spec.decode(spec.encode(gs[r].unsqueeze(0), cgens[r])).reshape(-1)
            err.append(float(((m / world).double() - gbar.double()).square().sum()))
    return {"err": err, "sq_sum": sq_sum, "sq_mean": sq_mean, "world": world,
            "device": str(device), "backend": "single-process (simulated workers)"}


def verdict(meas: dict[str, Any], vc: dict[str, Any], seed: int) -> common.ExperimentVerdict:
    """The claim and its three mutants, judged by one statistic: the mean over draws of
    ``err / (omega/N^2 sum ||g_i||^2)`` (predicted 1)."""
    N, d, k = meas["world"], vc["d"], vc["k"]
    omega = d / k - 1
    R = vc["draws"]
    pred = np.repeat(omega / N**2 * np.asarray(meas["sq_sum"]), R)
    ratio = np.asarray(meas["err"]) / pred
    est = stats.mean_se(ratio)
    z = stats.bonferroni_z(4)
    # the mutants' predictions of the same normalised statistic
    shared = float(np.mean(N**2 * np.asarray(meas["sq_mean"]) / np.asarray(meas["sq_sum"])))
    mutants_pred = {
        "shared_randomness": (shared, "all workers draw the same coordinates: "
                              "E = omega ||mean g||^2"),
        "no_averaging": (float(N), "compression variance not averaged over workers: "
                         "E = omega/N sum ||g_i||^2"),
        "biased_randk_variance": ((1 - k / d) / omega,
                                  "variance constant (1 - k/d) of unscaled rand-k in place "
                                  "of omega = d/k - 1"),
    }
    main = stats.agree("distributed_compression.randk_variance", 1.0, est, z=z, seed=seed,
                       details={"omega": omega, "N": N, "d": d, "k": k, "points":
                                vc["points"], "draws": R})
    mutants = [common.mutant_result(name, desc, stats.agree(
        f"distributed_compression.mutant.{name}", p, est, z=z, seed=seed))
        for name, (p, desc) in mutants_pred.items()]
    return common.experiment_verdict(
        "distributed_compression.randk_variance",
        "Compression variance of the real collective: E||mean C_i(g_i) - mean g_i||^2 = "
        "omega/N^2 sum ||g_i||^2 (rand-k, independent workers)",
        [main], source="derived", seed=seed, mutants=mutants,
        details={"z": z, "n": int(ratio.size), "per_point_ratio": [
            float(np.mean(ratio[i * R:(i + 1) * R])) for i in range(vc["points"])]})


# ======================================================================== the workers
def _rank_device() -> torch.device:
    """The device of this rank: its own GPU under NCCL (rank r on cuda:r), else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _rank_job(cfgs: list[TrainConfig], vc: dict[str, Any]) -> dict[str, Any]:
    """Everything one real rank runs: the training runs, then the variance measurement."""
    return {"runs": [train(c) for c in cfgs], "variance": _variance_ranks(vc)}


def _nccl_worker(rank: int, world: int, port: int, out: str, cfgs: list[TrainConfig],
                 vc: dict[str, Any]) -> None:
    """One NCCL rank on GPU ``rank`` (one rank per GPU: NCCL refuses two on one device)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600),
                            device_id=torch.device("cuda", rank))
    try:
        torch.save(_rank_job(cfgs, vc), f"{out}.rank{rank}")
    finally:
        dist.destroy_process_group()


def run_ranks(cfgs: list[TrainConfig], vc: dict[str, Any], world: int,
              device: torch.device) -> list[dict[str, Any]]:
    """Real ranks: spawned gloo processes on CPU, NCCL one rank per GPU on CUDA."""
    if device.type != "cuda":
        return run_local(_rank_job, cfgs, vc, world_size=world,
                         threads_per_rank=max(1, torch.get_num_threads() // world))
    check_gpus(world, "ranks")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    out = str(Path(tempfile.mkdtemp(prefix="tk-nccl-")) / "result")
    mp.start_processes(_nccl_worker, args=(world, port, out, cfgs, vc), nprocs=world,
                       join=True, start_method="spawn")
    return [torch.load(f"{out}.rank{r}", weights_only=False) for r in range(world)]


def check_gpus(world: int, workers: str) -> None:
    """Real ranks on CUDA need one GPU per rank; say so, naming the simulated mode."""
    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if workers == "ranks" and world > have:
        raise InputError(
            f"--workers ranks on CUDA runs NCCL with one rank per GPU: --world {world} needs "
            f"{world} GPUs, found {have}; use --workers simulated to run {world} simulated "
            f"workers in one process on one GPU")


def choose_workers(workers: str, device: torch.device, world: int) -> str:
    """``auto`` -> ``ranks`` (gloo on CPU; NCCL when there is a GPU per rank) or
    ``simulated`` (fewer GPUs than workers); an explicit ``ranks`` on CUDA is checked."""
    if workers not in WORKER_MODES:
        raise InputError(f"--workers must be one of {', '.join(WORKER_MODES)}, got {workers!r}")
    if device.type != "cuda":
        return "ranks" if workers == "auto" else workers
    if workers == "auto":
        workers = "simulated" if world > torch.cuda.device_count() else "ranks"
    check_gpus(world, workers)
    return workers


def simulated_train(cfg: TrainConfig, world: int, device: torch.device) -> dict[str, Any]:
    """:func:`theorykit.distributed.train.train` with N simulated workers in one process:
    the same shards, minibatch and compressor generators per worker, the same update."""
    cfg.validate()
    X, y = make_data(cfg)
    shards = [torch.arange(r, cfg.n_samples, world) for r in range(world)]
    Xs = [X[s].to(device) for s in shards]
    ys = [y[s].to(device) for s in shards]
    model = make_model(cfg).to(device)
    params = list(model.parameters())
    spec = (make(cfg.compressor, **cfg.params) if cfg.method in ("dcsgd", "ef")
            else make("sign") if cfg.method == "dsignsgd" else None)
    bgens = [torch.Generator().manual_seed(cfg.seed * 7919 + r) for r in range(world)]
    cgens = [torch.Generator(device=device).manual_seed(cfg.seed * 104729 + r)
             for r in range(world)]
    d = sum(p.numel() for p in params)
    errors = [torch.zeros(d, device=device) for _ in range(world)]
    lossf = torch.nn.CrossEntropyLoss()
    bits = sent = 0
    history: dict[str, list[float]] = {"step": [], "loss": [], "bits": []}

    def full_loss() -> float:
        with torch.no_grad():
            return sum(float(lossf(model(Xs[r]), ys[r])) for r in range(world)) / world

    for step in range(cfg.steps):
        gs = []
        for r in range(world):
            idx = torch.randint(0, Xs[r].shape[0], (cfg.batch,), generator=bgens[r])
            gs.append(_grad(model, Xs[r][idx.to(device)], ys[r][idx.to(device)]))
        total = torch.zeros(d, device=device)
        if spec is None:
            for g in gs:
                total += g
            bits += 32 * d
            sent += 4 * d
        else:
            for r in range(world):
                v = errors[r] + cfg.lr * gs[r] if cfg.method == "ef" else gs[r]
                payload = spec.encode(v.unsqueeze(0), cgens[r])
                msg = spec.decode(payload).reshape(-1).to(v.dtype)
                if cfg.method == "ef":
                    errors[r] = v - msg
                total += msg
                if r == 0:  # rank 0's count, as the real ranks report it: the packed
                    # buffers plus the wire header (2 int64 per field) and one size word
                    bits += payload.nbits
                    sent += payload.nbytes + 16 * len(payload.fields) + 8
        scale = 1.0 if cfg.method == "ef" else cfg.lr
        with torch.no_grad():
            offset = 0
            for p in params:
                p -= scale * (total / world)[offset: offset + p.numel()].view_as(p)
                offset += p.numel()
        if step % cfg.log_every == 0:
            history["step"].append(step)
            history["loss"].append(full_loss())
            history["bits"].append(bits)
    flat = torch.cat([p.detach().reshape(-1).cpu() for p in params])
    return {"final_loss": full_loss(), "config": dataclasses.asdict(cfg), "world_size": world,
            "backend": "single-process (simulated workers)", "history": history,
            "comm": {"rounds": cfg.steps, "payload_bits": bits, "sent_bytes": sent,
                     "dense_bytes": 4 * d * cfg.steps,
                     "compression_ratio": 4 * d * cfg.steps / max(sent, 1)},
            "params": flat}


# ============================================================================ run/main
def run(mode: common.Mode, world: int, workers: str) -> dict[str, Any]:
    """Train, measure, judge; returns the result document."""
    if world < 2:
        raise InputError(f"--world must be >= 2 (the claim averages over workers), got {world}")
    device = mode.device
    workers = choose_workers(workers, device, world)
    cfgs = configs(mode.name, mode.seed)
    vc = variance_config(mode.name, next(iter(cfgs.values())))
    if workers == "ranks":
        per_rank = run_ranks(list(cfgs.values()), vc, world, device)
        runs = [[r["runs"][i] for r in per_rank] for i in range(len(cfgs))]
        meas = per_rank[0]["variance"]
        backend = runs[0][0]["backend"]
        # the device rank 0's model and messages lived on (cuda:0 under NCCL), as it reported
        used = torch.empty(0, device=meas["device"])
    else:
        runs = [[simulated_train(c, world, device)] for c in cfgs.values()]
        meas = _variance_simulated(vc, world, device)
        backend = "single-process (simulated workers)"
        used = torch.empty(0, device=device)
    out = {}
    for name, per in zip(cfgs, runs, strict=True):
        r0 = per[0]
        out[name] = {"history": r0["history"], "final_loss": r0["final_loss"],
                     "comm": r0["comm"], "config": r0["config"],
                     "ranks_agree": all(torch.equal(r["params"], r0["params"]) for r in per)}
        print(f"{name:>22}: final loss {r0['final_loss']:.4f}  bits/round/rank "
              f"{r0['comm']['payload_bits'] / r0['comm']['rounds']:.0f}  ratio vs dense "
              f"{r0['comm']['compression_ratio']:.1f}x", flush=True)
    if not all(v["ranks_agree"] for v in out.values()):
        raise InputError("ranks ended with different models")  # a wire/decode defect
    v = verdict(meas, vc, mode.seed)
    killed = sum(m.status == "killed" for m in v.mutants)
    who = f"real ranks ({backend})" if workers == "ranks" else "simulated workers"
    explanation = (
        f"On {world} {who}, {vc['points']} gradient points x {vc['draws']} rand-k draws "
        f"(k = {vc['k']} of "
        f"d = {vc['d']}, omega = {vc['d'] / vc['k'] - 1:.3g}): measured / derived compression "
        f"variance = {v.measured:.4g} (predicted 1, tolerance {v.tolerance}); status "
        f"{v.status}; {killed}/{len(v.mutants)} mutants contradicted ("
        + ", ".join(f"{m.name}: predicted {m.predicted:.3g}, {m.status}" for m in v.mutants)
        + ").")
    doc = common.document(
        NAME, mode, v, used=used, backend=backend,
        description="Real multi-worker training with compressed gradients (loss against "
        "bits) and the rand-k compression variance of the real collective",
        config={"world_size": world, "workers": workers,
                "runs": {k: dataclasses.asdict(c) for k, c in cfgs.items()},
                "variance": {k: v_ for k, v_ in vc.items() if k != "cfg"}},
        series={"variance_per_point": v.details.get("per_point_ratio"),
                "variance_ratio_draws": len(meas["err"])},
        explanation=explanation)
    doc["results"] = common.jsonable(out)  # per run: loss curve, bits, ranks agree (book)
    doc["provenance"]["world_size"] = world
    doc["provenance"]["workers"] = workers
    doc["provenance"]["rank_device"] = meas["device"]
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m gpu_validation.{NAME}",
                                description=__doc__.split("\n\n")[0])
    common.add_mode_args(p)
    p.add_argument("--world", type=int, default=None,
                   help="workers (default 2; --full: 4)")
    p.add_argument("--workers", default="auto", choices=WORKER_MODES,
                   help="real ranks (gloo/NCCL), simulated in one process, or auto")
    args = p.parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "-m", f"gpu_validation.{NAME}",
                          *(sys.argv[1:] if argv is None else argv)])
    try:
        mode = common.resolve_mode(args, command)
        common.set_threads(2)
        world = args.world if args.world is not None else (4 if mode.name == "full" else 2)
        doc = run(mode, world, args.workers)
    except InputError as exc:
        print(f"{NAME}: error: {exc}", file=sys.stderr)
        return 2
    path = common.write_result(NAME, mode, doc)
    print(common.summary_line(NAME, doc, path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
