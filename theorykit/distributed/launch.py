"""Run a function on ``world_size`` local processes joined in one gloo process group.

This is the launcher the tests, the claims and :func:`theorykit.distributed.train.spawn`
share: the processes are spawned once, ``fn(*args)`` runs on every rank inside an
initialised group, and each rank's return value comes back to the caller (through a file
per rank, since ``mp.spawn`` returns nothing). ``torchrun`` users do not need it: there the
group is initialised by the launcher.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, fn: Callable[..., Any], args: tuple[Any, ...], port: int,
            out: str, threads: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(fn(*args), f"{out}.rank{rank}")
    finally:
        dist.destroy_process_group()


def run_local(fn: Callable[..., Any], *args: Any, world_size: int = 2,
              port: int | None = None, workdir: str | None = None,
              threads_per_rank: int = 1) -> list[Any]:
    """``[fn(*args) on rank r for r in range(world_size)]``, each in its own process of one
    gloo group on this machine. ``fn`` must be importable (a module-level function)."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    port = _free_port() if port is None else port
    out = str(Path(workdir or tempfile.mkdtemp(prefix="tk-dist-")) / "result")
    mp.spawn(_worker, args=(world_size, fn, args, port, out, threads_per_rank),
             nprocs=world_size, join=True)
    return [torch.load(f"{out}.rank{r}", weights_only=False) for r in range(world_size)]
