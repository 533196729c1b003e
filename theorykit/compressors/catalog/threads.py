"""The thread pool of the block engine: segments of one message run in parallel threads.

Provenance: engineering of theorykit (derived); no paper formula here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

_POOL: ThreadPoolExecutor | None = None
_POOL_KEY: tuple[int, int] = (0, 0)
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: start from a fresh pool and lock."""
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _run_parallel(tasks: list[Any], fn: Callable[[Any], None]) -> None:
    """``fn(task)`` for every task (CPU), in a small thread pool when there are several tasks
    and torch may use several threads (``torch.get_num_threads()`` workers, recreated after
    a fork). The torch and NumPy kernels release the GIL; each task writes disjoint memory.

    For the duration, torch's intra-op parallelism is set to 1 thread (as
    :func:`theorykit.compressors.certify.certify` does): the parallelism is across segments,
    and per-op thread handoffs on block-sized tensors cost more than they gain (on a busy
    machine they made each small op ~100x slower). The pool's threads initialise torch's
    per-thread setting inside this window, so they stay single-threaded."""
    global _POOL, _POOL_KEY
    nt = torch.get_num_threads()
    workers = min(len(tasks), nt, os.cpu_count() or 1)
    if nt > 1:
        torch.set_num_threads(1)
    try:
        if workers <= 1:
            for t in tasks:
                fn(t)
            return
        key = (os.getpid(), workers)
        with _POOL_LOCK:
            if _POOL is None or key != _POOL_KEY:
                _POOL = ThreadPoolExecutor(max_workers=workers,
                                           thread_name_prefix="theorykit-quantizer")
                _POOL_KEY = key
            pool = _POOL
        for f in [pool.submit(fn, t) for t in tasks]:
            f.result()
    finally:
        if nt > 1:
            torch.set_num_threads(nt)

