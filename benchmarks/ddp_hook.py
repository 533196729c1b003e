"""Step time of DDP with the theorykit communication hook against DDP's default all-reduce
and PyTorch's built-in fp16 compression hook, measured side by side in one run.

Two ranks (gloo on CPU; with ``--device cuda``, NCCL with one rank per GPU) each hold the
same MLP (``--width``: d ~ 2 width^2 parameters) wrapped in several
``DistributedDataParallel`` instances: no hook (DDP's all-reduce), ``fp16_compress_hook``
(``torch.distributed.algorithms.ddp_comm_hooks.default_hooks``), and
:func:`theorykit.distributed.ddp_hook` with the identity codec (the byte-wire overhead
alone), QSGD (s = 4, ~8x), sign (DSignSGD's 1 bit, ~32x), top-k and rand-k (1 %, >= 16x).
A ``local`` model without communication gives the compute part of a step. One training
step (forward, backward with the hook, SGD update) of each variant is timed per round,
after a barrier, in alternating order; ratios are medians over rounds of the per-round
ratio ``variant / all-reduce`` (both measured under the same load), times are medians.
Step minus ``local`` estimates the communication part.

    python benchmarks/ddp_hook.py --quick          # CI smoke: width 256, few rounds
    python benchmarks/ddp_hook.py                  # width 1024 (d ~ 2.1 M), 2 gloo ranks
    python benchmarks/ddp_hook.py --device cuda    # NCCL, needs 2 GPUs (one rank per GPU)

Compressors: QSGD (Alistarh et al., NeurIPS 2017), sign (Bernstein et al., 2018; DSignSGD
in Compagnoni et al., AISTATS 2025), top-k / rand-k (Beznosikov et al., JMLR 2023).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import _results  # benchmarks/_results.py: results files with provenance
import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import fp16_compress_hook
from torch.nn.parallel import DistributedDataParallel as DDP

from theorykit.distributed import ddp_hook
from theorykit.distributed.launch import run_local

HOOKS: dict[str, tuple[str, dict[str, Any]]] = {
    "tk_identity": ("identity", {}),
    "tk_qsgd_s4": ("qsgd", {"s": 4}),
    "tk_sign": ("sign", {}),
    "tk_topk_1pct": ("topk", {"k": 0.01}),
    "tk_randk_1pct": ("randk", {"k": 0.01}),
}
"""theorykit hooks: name -> (compressor, parameters); ``k`` is a fraction of each bucket."""


def _model(width: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)  # identical replicas
    return torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, 10)).to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _bench(cfg: dict[str, Any]) -> dict[str, Any]:
    """One rank: build the variants, run interleaved timed rounds, return times and bytes."""
    torch.set_num_threads(cfg["threads"])
    rank = dist.get_rank()
    group = None
    if cfg["device"] == "cuda":
        torch.cuda.set_device(rank)  # one rank per GPU (NCCL refuses two on one device)
        group = dist.new_group(backend="nccl")
        device = torch.device("cuda", rank)
    else:
        device = torch.device("cpu")
    width, batch = cfg["width"], cfg["batch"]
    gen = torch.Generator().manual_seed(1 + rank)
    x = torch.randn(batch, width, generator=gen).to(device)
    y = torch.randint(0, 10, (batch,), generator=gen).to(device)
    lossf = torch.nn.CrossEntropyLoss()
    ids = [device.index] if device.type == "cuda" else None
    variants: dict[str, Any] = {"local": _model(width, device)}
    variants["allreduce"] = DDP(_model(width, device), device_ids=ids, process_group=group)
    fp16 = DDP(_model(width, device), device_ids=ids, process_group=group)
    fp16.register_comm_hook(group, fp16_compress_hook)
    variants["fp16_hook"] = fp16
    states = {}
    for name, (comp, params) in HOOKS.items():
        if cfg["only"] and name not in cfg["only"]:
            continue
        m = DDP(_model(width, device), device_ids=ids, process_group=group)
        state, hook = ddp_hook(comp, seed=0, process_group=group, **params)
        m.register_comm_hook(state, hook)
        variants[name], states[name] = m, state
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3) for k, m in variants.items()}

    def step(name: str) -> None:
        opts[name].zero_grad()
        lossf(variants[name](x), y).backward()
        opts[name].step()

    names = list(variants)
    for _ in range(cfg["warmup"]):
        for n in names:
            step(n)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(cfg["rounds"]):
        for n in (names if r % 2 == 0 else names[::-1]):
            dist.barrier(group=group)
            _sync(device)
            t0 = time.perf_counter()
            step(n)
            _sync(device)
            times[n].append(time.perf_counter() - t0)
    d = sum(p.numel() for p in variants["local"].parameters())
    return {"rank": rank, "times": times, "d": d,
            "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                       else "cpu"),
            "backend": dist.get_backend(group),
            "hooks": {n: {"steps": s.steps, "comm": s.stats.as_dict(),
                          "step_dims": list(s.step_dims)} for n, s in states.items()}}


def summarize(per_rank: list[dict[str, Any]]) -> dict[str, Any]:
    """Per variant: median step time (slowest rank), per-round ratio to all-reduce
    (median), communication estimate (step - local) and compression ratio."""
    names = list(per_rank[0]["times"])
    # a step ends when the slowest rank ends: take the max over ranks per round
    step = {n: [max(r["times"][n][i] for r in per_rank)
                for i in range(len(per_rank[0]["times"][n]))] for n in names}
    base = step["allreduce"]
    local = statistics.median(step["local"])
    rows = []
    for n in names:
        ratio = statistics.median(a / b for a, b in zip(step[n], base, strict=True))
        med = statistics.median(step[n])
        hook = per_rank[0]["hooks"].get(n)
        comp = (hook["comm"]["compression_ratio"] if hook is not None
                else {"allreduce": 1.0, "fp16_hook": 2.0, "local": None}[n])
        rows.append({"variant": n, "step_ms": 1e3 * med,
                     "comm_ms_est": None if n == "local" else 1e3 * (med - local),
                     "ratio_vs_allreduce": ratio, "compression": comp,
                     "payload_bits_per_step": (hook["comm"]["payload_bits"] // hook["steps"]
                                               if hook else None)})
    return {"rows": rows, "d": per_rank[0]["d"]}


def run(width: int, batch: int, rounds: int, warmup: int, device: str, threads: int,
        only: list[str] | None) -> dict[str, Any]:
    cfg = {"width": width, "batch": batch, "rounds": rounds, "warmup": warmup,
           "device": device, "threads": threads, "only": only}
    per_rank = run_local(_bench, cfg, world_size=2, threads_per_rank=threads, timeout_s=600)
    out = summarize(per_rank)
    out.update({"world_size": 2, "backend": per_rank[0]["backend"],
                "device": per_rank[0]["device"], "width": width, "batch": batch,
                "rounds": rounds, "warmup": warmup, "threads_per_rank": threads})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="width 256, 10 rounds (CI smoke)")
    p.add_argument("--width", type=int, default=None, help="MLP width (default 1024)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (default 30)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    p.add_argument("--only", nargs="+", choices=list(HOOKS), help="theorykit hooks to time")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON here (default "
                   "for a full run: results/benchmarks/ddp_hook.json)")
    args = p.parse_args(argv)
    if args.device == "cuda" and torch.cuda.device_count() < 2:
        print(f"ddp_hook: error: --device cuda needs 2 GPUs (NCCL: one rank per GPU); "
              f"found {torch.cuda.device_count()}", file=sys.stderr)
        return 2
    width = args.width or (256 if args.quick else 1024)
    rounds = args.rounds or (10 if args.quick else 30)
    t0 = time.perf_counter()
    out = run(width, args.batch, rounds, args.warmup, args.device, args.threads, args.only)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"DDP step time, 2 ranks ({out['backend']}, {out['device']}), d = {out['d']:,} "
          f"parameters, batch {args.batch}, {rounds} rounds, median; ratio = median of "
          "per-round step/all-reduce")
    print(f"{'variant':<16}{'step ms':>10}{'comm ms':>10}{'x allreduce':>13}{'compression':>13}")
    for r in out["rows"]:
        comm = "" if r["comm_ms_est"] is None else f"{r['comm_ms_est']:.2f}"
        compr = "" if r["compression"] is None else f"{r['compression']:.1f}x"
        print(f"{r['variant']:<16}{r['step_ms']:>10.2f}{comm:>10}"
              f"{r['ratio_vs_allreduce']:>13.2f}{compr:>13}")
    return _results.finish("ddp_hook", out, args.json, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
