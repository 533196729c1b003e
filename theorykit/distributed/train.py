r"""Real distributed training with compressed gradients (torchrun or spawn).

Each rank holds a shard of a classification data set and a replica of a small MLP and is
one worker of a registered :class:`~theorykit.methods.base.Method` (``theorykit methods``;
DSGD, DCSGD, DSignSGD, EF, EF21, DIANA, or a user's ``module:Object``). One step:

* the rank's worker step maps (its state, its minibatch gradient ``g_i`` of the flattened
  parameters) to a message; what it ``send`` s crosses the wire -- through the method's
  codec (:func:`compressed_mean_and_own`, real bit packing; the ``sign`` codec for
  DSignSGD) or a dense all-reduce for dense messages -- and every rank receives the mean
  message;
* the server step (run identically on every rank) maps the mean message, as one ``(1, d)``
  message, and its state to the direction; ``x ← x − displacement(D, η)``.

For example ``dcsgd``: x ← x − η · mean_i C_i(g_i); ``ef``: v_i = C(e_i + η g_i),
e_i ← e_i + η g_i − v_i, x ← x − mean_i v_i (Beznosikov et al., JMLR 2023, §5). Communication is
counted exactly (:class:`~theorykit.distributed.collectives.CommStats`). A checkpoint per
rank is written every ``checkpoint_every`` steps and a run restarted with the same
``out_dir`` resumes from it, so an interrupted run loses at most that many steps.

Launch:
``torchrun --standalone --nproc_per_node=2 -m theorykit.distributed.train --method dcsgd
--compressor randk -p k=64 --steps 200`` (gloo on CPU, NCCL when CUDA is available), or
:func:`spawn` from Python (used by the tests).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from theorykit.compressors.registry import make
from theorykit.distributed.collectives import (
    CommStats,
    compressed_mean_and_own,
    dense_mean,
)
from theorykit.distributed.launch import DEFAULT_TIMEOUT_S, run_local
from theorykit.errors import InputError
from theorykit.validate import positive_float, positive_int

METHODS = ("dsgd", "dcsgd", "dsignsgd", "ef", "ef21", "diana")
"""Built-in methods the trainer has been run with (any registered method works)."""


@dataclass
class TrainConfig:
    method: str = "dcsgd"
    compressor: str = "randk"
    params: dict[str, Any] = field(default_factory=lambda: {"k": 64})
    lr: float = 0.05
    steps: int = 100
    batch: int = 32
    hidden: int = 64
    n_features: int = 20
    n_classes: int = 4
    n_samples: int = 4096
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 50
    out_dir: str | None = None

    def validate(self) -> None:
        from theorykit.methods.registry import resolve

        resolve(self.method)  # a registered name or module:Object
        for name in ("steps", "batch", "hidden", "n_samples"):
            positive_int(name, getattr(self, name))
        positive_float("lr", self.lr, one_message=True)


def make_data(cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A generated classification set: Gaussian inputs labelled by a random teacher MLP
    (deterministic in ``cfg.seed``; no download)."""
    g = torch.Generator().manual_seed(cfg.seed)
    X = torch.randn(cfg.n_samples, cfg.n_features, generator=g)
    W1 = torch.randn(cfg.n_features, 32, generator=g)
    W2 = torch.randn(32, cfg.n_classes, generator=g)
    y = torch.argmax(torch.tanh(X @ W1) @ W2, dim=1)
    return X, y


def make_model(cfg: TrainConfig) -> torch.nn.Module:
    torch.manual_seed(cfg.seed + 1)  # identical initial weights on every rank
    return torch.nn.Sequential(torch.nn.Linear(cfg.n_features, cfg.hidden), torch.nn.Tanh(),
                               torch.nn.Linear(cfg.hidden, cfg.n_classes))


def _flat_grad(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _apply_update(model: torch.nn.Module, direction: torch.Tensor, lr: float) -> None:
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p -= lr * direction[offset: offset + n].view_as(p)
            offset += n


def _save_checkpoint(ckpt: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (a temporary file renamed over ``ckpt``), keeping the
    previous checkpoint as ``ckpt_rank{r}.prev.pt``: a rank killed while writing leaves
    both generations readable, and ranks killed at different moments still share one."""
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    torch.save(state, tmp)
    if ckpt.exists():
        os.replace(ckpt, _prev(ckpt))
    os.replace(tmp, ckpt)


def _prev(ckpt: Path) -> Path:
    return ckpt.with_name(ckpt.name.removesuffix(".pt") + ".prev.pt")


def _agreed_checkpoint(ckpt: Path, rank: int) -> dict[str, Any] | None:
    """The checkpoint state every rank can resume from: the latest step all ranks hold
    (one collective), or ``None`` to start from scratch if some rank holds none. Raises
    :class:`InputError` when this rank lacks the agreed step (mixed-up directories)."""
    states = {}
    for path in (ckpt, _prev(ckpt)):
        if path.exists():
            try:
                st = torch.load(path, weights_only=False)
            except Exception:  # a truncated file: ignore this generation
                continue
            states[int(st["step"])] = st
    latest = torch.tensor([max(states, default=0)], dtype=torch.int64)
    dist.all_reduce(latest, op=dist.ReduceOp.MIN)
    agreed = int(latest)
    if agreed == 0:
        return None
    if agreed not in states:
        raise InputError(f"rank {rank}: no checkpoint at step {agreed} (the latest step every "
                         f"rank holds) in {ckpt.parent}; have steps {sorted(states)}")
    return states[agreed]


def train(cfg: TrainConfig, on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run ``cfg`` in the current (initialised) process group; returns the history on
    every rank (identical models on all ranks by construction).

    Resuming: with ``cfg.out_dir`` set, the run starts from the latest checkpoint step all
    ranks hold (so the result equals the uninterrupted run's exactly). ``on_step(step)`` is
    called after each step (progress reports, fault-injection tests)."""
    cfg.validate()
    rank, world = dist.get_rank(), dist.get_world_size()
    device = rank_device(rank)
    X, y = make_data(cfg)
    shard = torch.arange(rank, cfg.n_samples, world)
    Xs, ys = X[shard].to(device), y[shard].to(device)
    model = make_model(cfg).to(device)
    method = _make_method(cfg)
    spec = method.wire_compressor
    batch_gen = torch.Generator().manual_seed(cfg.seed * 7919 + rank)
    comp_gen = torch.Generator(device=device).manual_seed(cfg.seed * 104729 + rank)
    stats = CommStats()
    history: dict[str, list[float]] = {"step": [], "loss": [], "bits": []}
    worker: Any = None
    server: Any = None
    started = False
    start = 0
    ckpt = Path(cfg.out_dir) / f"ckpt_rank{rank}.pt" if cfg.out_dir else None
    state = _agreed_checkpoint(ckpt, rank) if ckpt is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        batch_gen.set_state(state["batch_gen"])
        comp_gen.set_state(state["comp_gen"])
        stats = CommStats(**state["stats"])
        worker, server = _to(state["worker"], device), _to(state["server"], device)
        started = True
        history, start = state["history"], state["step"]
    received: list[torch.Tensor] = []

    def send(v: torch.Tensor, dense: bool = False) -> torch.Tensor:
        """The wire: the mean over ranks goes to ``received``; returns the own message."""
        if dense or spec is None:
            received[:] = [dense_mean(v)]
            stats.rounds += 1
            stats.payload_bits += 32 * v.numel()
            stats.sent_bytes += 4 * v.numel()
            stats.dense_bytes += 4 * v.numel()
            return v
        mean, own = compressed_mean_and_own(v, spec, comp_gen, stats=stats)
        received[:] = [mean]
        return own

    lossf = torch.nn.CrossEntropyLoss()
    for step in range(start, cfg.steps):
        idx = torch.randint(0, Xs.shape[0], (cfg.batch,), generator=batch_gen).to(device)
        model.zero_grad(set_to_none=False)
        loss = lossf(model(Xs[idx]), ys[idx])
        loss.backward()
        g = _flat_grad(model)
        if not torch.isfinite(g).all():
            raise FloatingPointError(f"non-finite gradient at step {step} on rank {rank}")
        if not started:
            worker, started = method.init_worker(g, comp_gen), True
        _, worker = method.worker_step(worker, g, comp_gen, lr=cfg.lr, send=send)
        direction, server = method.server_step(received[0].unsqueeze(0), server)
        _apply_update(model, method.displacement(direction, cfg.lr), 1.0)
        if step % cfg.log_every == 0:
            full = lossf(model(Xs), ys).detach().reshape(1)
            dist.all_reduce(full)
            history["step"].append(step)
            history["loss"].append(float(full) / world)
            history["bits"].append(stats.payload_bits)
        if ckpt is not None and (step + 1) % cfg.checkpoint_every == 0:
            _save_checkpoint(ckpt, {
                "model": model.state_dict(), "batch_gen": batch_gen.get_state(),
                "comp_gen": comp_gen.get_state(), "worker": _to(worker, "cpu"),
                "server": _to(server, "cpu"),
                "stats": dict(asdict(stats)), "history": history, "step": step + 1})
        if on_step is not None:
            on_step(step)
    final = lossf(model(Xs), ys).detach().reshape(1)
    dist.all_reduce(final)
    flat = torch.cat([p.detach().reshape(-1).cpu() for p in model.parameters()])
    return {"final_loss": float(final) / world, "config": asdict(cfg), "world_size": world,
            "backend": dist.get_backend(), "history": history, "comm": stats.as_dict(),
            "params_checksum": float(flat.sum()), "params": flat}


def _make_method(cfg: TrainConfig) -> Any:
    """The registered method of ``cfg`` with its compressor (for methods that take one)."""
    from theorykit.methods.registry import make_method, resolve

    cls = resolve(cfg.method)
    comp = make(cfg.compressor, **cfg.params) if cls.needs_compressor else None
    return make_method(cls, comp)


def rank_device(rank: int) -> torch.device:
    """The device of this rank: NCCL needs one GPU per rank (two ranks on one GPU are
    refused by NCCL), so the local rank picks its GPU and a local rank without one is a clear
    error; gloo runs on the CPU."""
    if not dist.is_initialized() or dist.get_backend() != "nccl":
        return torch.device("cpu")
    count = torch.cuda.device_count()
    local = int(os.environ.get("LOCAL_RANK", rank))
    if local >= count:
        raise InputError(
            f"rank {rank}: NCCL needs one GPU per rank, but local rank {local} has none "
            f"({count} GPU(s)); launch at most {count} processes per node, or use simulated "
            "workers (python -m gpu_validation.distributed_compression --workers simulated)")
    device = torch.device("cuda", local)
    torch.cuda.set_device(device)
    return device


def _to(state: Any, device: Any) -> Any:
    """A method state (tensors, dicts, lists of them, or plain values) moved to ``device``."""
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: _to(v, device) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_to(v, device) for v in state)
    return state


def _train_all(cfgs: list[TrainConfig]) -> list[dict[str, Any]]:
    return [train(cfg) for cfg in cfgs]


def spawn(cfgs: TrainConfig | list[TrainConfig], world_size: int = 2, port: int | None = None,
          workdir: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
          ) -> list[list[dict[str, Any]]]:
    """Run each config in turn on ``world_size`` local gloo processes (one process group,
    spawned once). Returns ``results[config_index][rank]``. A failed rank raises
    :class:`~theorykit.distributed.launch.RankFailure` (collective timeout ``timeout_s``)."""
    cfgs = [cfgs] if isinstance(cfgs, TrainConfig) else list(cfgs)
    per_rank = run_local(_train_all, cfgs, world_size=world_size, port=port, workdir=workdir,
                         threads_per_rank=torch.get_num_threads(), timeout_s=timeout_s)
    return [[per_rank[r][i] for r in range(world_size)] for i in range(len(cfgs))]


def main(argv: list[str] | None = None) -> int:
    from theorykit.check.ledger import device_text, versions
    from theorykit.cli.common import parse_params

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="dcsgd")
    ap.add_argument("--compressor", default="randk")
    ap.add_argument("-p", "--param", action="append", default=[])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the result JSON here (rank 0)")
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                    help=f"collective timeout in seconds (default {DEFAULT_TIMEOUT_S:g}): a "
                    "rank whose peer died or hangs exits with an error within it")
    args = ap.parse_args(argv)
    if not args.timeout > 0:
        ap.error(f"--timeout must be > 0, got {args.timeout}")
    params = parse_params(args.param) or ({"k": 64} if args.compressor == "randk" else {})
    cfg = TrainConfig(method=args.method, compressor=args.compressor, params=params,
                      lr=args.lr, steps=args.steps, batch=args.batch, seed=args.seed,
                      out_dir=args.checkpoint_dir)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl" and int(os.environ.get("LOCAL_RANK", 0)) < torch.cuda.device_count():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
    t0 = time.time()
    try:
        res = train(cfg)
    except Exception as exc:  # a dead or hung peer, bad input: one line, no traceback
        rank = dist.get_rank()
        print(f"theorykit.distributed.train: error: rank {rank}: {type(exc).__name__}: "
              f"{' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1
    res.pop("params")
    if dist.get_rank() == 0:
        res["provenance"] = {"device": device_text(str(rank_device(0))), "backend": backend,
                             "world_size": dist.get_world_size(),
                             "versions": versions(), "wall_s": time.time() - t0,
                             "command": "torchrun ... -m theorykit.distributed.train "
                             + " ".join(argv or [])}
        text = json.dumps(res, indent=2, default=str)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text)
        else:
            print(text)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
