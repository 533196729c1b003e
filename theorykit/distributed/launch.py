"""Run a function on ``world_size`` local processes joined in one gloo process group.

This is the launcher the tests, the claims and :func:`theorykit.distributed.train.spawn`
share: the processes are spawned once, ``fn(*args)`` runs on every rank inside an
initialised group, and each rank's return value comes back to the caller (through a file
per rank, since ``mp.spawn`` returns nothing). ``torchrun`` users do not need it: there the
group is initialised by the launcher.

Faults: the group is created with a collective ``timeout`` (:data:`DEFAULT_TIMEOUT_S`), so
a rank blocked on a peer that died or hangs fails within it instead of waiting forever. A
rank whose function raises writes a one-line account of the failure next to the results.
When any rank fails (an exception, or death by a signal), the others get the timeout plus
a short grace period to fail on their own; whatever is still running is then terminated,
and :func:`run_local` raises :class:`RankFailure` naming every rank's outcome.
"""

from __future__ import annotations

import datetime
import multiprocessing.connection
import os
import signal
import socket
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

DEFAULT_TIMEOUT_S = 300.0
"""Collective timeout of the gloo group (seconds): the longest a rank waits on a peer."""
GRACE_S = 5.0
"""Extra seconds the surviving ranks get, after the timeout, to exit on their own."""


class RankFailure(RuntimeError):
    """A rank of a local run failed; ``outcomes[r]`` says how each rank ended."""

    def __init__(self, outcomes: dict[int, str]) -> None:
        self.outcomes = outcomes
        bad = {r: o for r, o in outcomes.items() if o != "ok"}
        text = "; ".join(f"rank {r}: {o}" for r, o in sorted(bad.items()))
        super().__init__(f"distributed run failed ({len(bad)} of {len(outcomes)} ranks): "
                         f"{text}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _worker(rank: int, world: int, fn: Callable[..., Any], args: tuple[Any, ...], port: int,
            out: str, threads: int, timeout_s: float) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
        try:
            torch.save(fn(*args), f"{out}.rank{rank}")
        finally:
            dist.destroy_process_group()
    except BaseException as exc:
        Path(f"{out}.rank{rank}.error").write_text(_one_line(exc) + "\n"
                                                   + traceback.format_exc())
        os._exit(1)  # skip atexit hooks that may block on a dead peer


def run_local(fn: Callable[..., Any], *args: Any, world_size: int = 2,
              port: int | None = None, workdir: str | None = None,
              threads_per_rank: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Any]:
    """``[fn(*args) on rank r for r in range(world_size)]``, each in its own process of one
    gloo group on this machine. ``fn`` must be importable (a module-level function).

    ``timeout_s``: the group's collective timeout. Raises :class:`RankFailure` if any rank
    fails; no rank is left running (see the module doc)."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    port = _free_port() if port is None else port
    out = str(Path(workdir or tempfile.mkdtemp(prefix="tk-dist-")) / "result")
    ctx = mp.start_processes(_worker, args=(world_size, fn, args, port, out, threads_per_rank,
                                            timeout_s),
                             nprocs=world_size, join=False, start_method="spawn")
    procs = ctx.processes
    deadline: float | None = None  # set when the first rank fails
    while any(p.is_alive() for p in procs):
        if deadline is None and any(p.exitcode not in (None, 0) for p in procs):
            deadline = time.monotonic() + timeout_s + GRACE_S
        if deadline is not None and time.monotonic() > deadline:
            break
        multiprocessing.connection.wait([p.sentinel for p in procs if p.is_alive()],
                                        timeout=0.2)
    outcomes: dict[int, str] = {}
    for r, p in enumerate(procs):
        if p.is_alive():
            p.kill()
            p.join()
            outcomes[r] = (f"still running {timeout_s + GRACE_S:g} s after another rank "
                           "failed; killed")
            continue
        p.join()
        outcomes[r] = _outcome(r, p.exitcode, out)
    if any(o != "ok" for o in outcomes.values()):
        raise RankFailure(outcomes)
    return [torch.load(f"{out}.rank{r}", weights_only=False) for r in range(world_size)]


def _outcome(rank: int, code: int | None, out: str) -> str:
    err = Path(f"{out}.rank{rank}.error")
    if code == 0 and Path(f"{out}.rank{rank}").exists():
        return "ok"
    if err.exists():
        return err.read_text().splitlines()[0]
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with status {code} without a result"
