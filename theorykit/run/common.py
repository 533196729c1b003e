"""Input checks and helpers shared by the run drivers (generator, start point, sizes,
progress bar)."""

from __future__ import annotations

import sys
from typing import Any

import torch

from theorykit.errors import InputError
from theorykit.limits import MAX_REPLICAS, MAX_STEPS, check_count, check_memory

Tensor = torch.Tensor


def make_generator(generator: torch.Generator | None, seed: int | None, device: Any
               ) -> torch.Generator:
    if generator is not None:
        return generator
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def start_point(x0: Any, R: int, d: int, device: Any, dtype: torch.dtype) -> Tensor:
    X = torch.as_tensor(x0, dtype=dtype, device=device)
    if X.ndim == 0:
        X = X.expand(d)
    if X.ndim == 1:
        if X.shape[0] != d:
            raise InputError(f"x0 has length {X.shape[0]} but the problem has d = {d}")
        X = X.expand(R, d)
    if X.shape != (R, d):
        raise InputError(f"x0 must be a scalar, (d,) or (replicas, d) = ({R}, {d}); "
                         f"got {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise InputError("x0 must be finite")
    return X.clone()


def check_sim_size(what: str, R: int, N: int, d: int, steps: int, record_every: int,
                    dtype: torch.dtype, copies: int = 1, keep: bool = False,
                    matrix: bool = False) -> None:
    """Refuse, before allocating, a run above the step limit or the memory budget
    (:mod:`theorykit.limits`): per step about 4 tensors of R x N x d (noise, gradients,
    directions) and 4 of R x d, plus the recorded statistics. A general-noise SDE's
    R x d x d diffusion (``matrix=True``) counts 2 R x d x d tensors per step."""
    check_count(f"{what}: steps", steps, MAX_STEPS)
    check_count(f"{what}: replicas", R, MAX_REPLICAS)
    item = torch.empty((), dtype=dtype).element_size()
    per_step = 4 * R * N * d + 4 * R * d + (2 * R * d * d if matrix else 0)
    n_rec = steps // record_every + 2
    recorded = n_rec * (512 + (4 * 8 * R if keep else 0))  # scalar stats (+ per replica)
    check_memory(f"{what} ({R} replicas x {N} worker(s) x d={d}, {steps} steps)",
                 copies * (item * per_step + recorded))


class Progress:
    """A rich progress bar on a terminal, nothing otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool | None) -> None:
        show = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn(desc), BarColumn(), TextColumn(
                "{task.completed}/{task.total}"), TimeElapsedColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(desc, total=total)

    def update(self, k: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


