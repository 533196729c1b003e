"""What every run starts from, defined once for :func:`~theorykit.run.run_discrete` and
:func:`~theorykit.run.run_sde`: the keyword options they share (:class:`RunOptions`: seed,
device, recording, divergence policy, ...) and :func:`setup_run`, which checks the common
arguments and builds the schedule, the generator, the start point and the statistics
(:class:`RunSetup`, which also makes the recorder, the progress bar and the result). No
random number is drawn here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from theorykit.errors import InputError
from theorykit.problems import Problem
from theorykit.run.common import (
    Progress,
    check_sim_size,
    make_generator,
    start_point,
)
from theorykit.run.result import Recorder, SimResult, StatFn, resolve_stats
from theorykit.schedules import Schedule, make_schedule
from theorykit.validate import learning_rate, positive_int

__all__ = ["RunOptions", "RunSetup", "setup_run"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class RunOptions:
    """The keyword options shared by :func:`~theorykit.run.run_discrete` and
    :func:`~theorykit.run.run_sde` (with their defaults).

    ``schedule``: multiplier of ``eta`` (:mod:`theorykit.schedules`). ``generator`` /
    ``seed``: the one ``torch.Generator`` of the run (seeded ``seed``, 0 by default, when no
    generator is given). ``record_every``: record the statistics every k steps (and at the
    last). ``stats``: names of built-in statistics or ``{name: fn(X) -> (R,)}``.
    ``average_from``: also return the per-replica time average of each statistic over steps
    ``average_from..steps``. ``on_divergence``: ``"flag"`` stops and reports the step at
    which some ``|x_j|`` left ``threshold`` (or turned non-finite); ``"raise"`` raises
    :class:`~theorykit.errors.DivergenceError`. ``progress``: a progress bar (default: on a
    terminal)."""

    schedule: Schedule | str | None = None
    generator: torch.Generator | None = None
    seed: int | None = None
    device: Any = "cpu"
    dtype: torch.dtype = torch.float64
    record_every: int = 1
    stats: Sequence[str] | Mapping[str, StatFn] = ("loss", "sqnorm")
    average_from: int | None = None
    on_divergence: Literal["flag", "raise"] = "flag"
    threshold: float = 1e12
    progress: bool | None = None

    @classmethod
    def of(cls, caller: str, options: Mapping[str, Any]) -> RunOptions:
        """The options passed to ``caller`` as keywords (a TypeError names an unknown one,
        as Python does for a plain keyword argument)."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in options:
            if key not in names:
                raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}")
        return cls(**options)


@dataclass
class RunSetup:
    """The checked arguments of a run and the objects it starts from."""

    eta: float
    steps: int
    replicas: int
    record_every: int
    schedule: Schedule
    generator: torch.Generator
    x0: Tensor
    stats: dict[str, StatFn]
    options: RunOptions
    started: float = 0.0

    def start(self, desc: str, total: int | None = None) -> Progress:
        """Start the clock and the progress bar (``total`` steps, ``steps`` by default);
        the caller closes the bar."""
        self.started = time.perf_counter()
        return Progress(self.steps if total is None else total, desc, self.options.progress)

    def records(self, k: int) -> bool:
        """Whether step ``k`` is a recorded step (every ``record_every``-th, and the last)."""
        return k % self.record_every == 0 or k == self.steps

    def recorder(self, keep: bool = False) -> Recorder:
        """A :class:`~theorykit.run.result.Recorder` of the run's statistics (``keep``: also
        the per-replica values, to combine two coupled solves)."""
        return Recorder(self.stats, self.replicas, self.options.average_from,
                        self.options.device, keep=keep)

    def result(self, rec: Recorder, kind: Literal["discrete", "sde"], X: Tensor,
               diverged: int | None, info: dict[str, Any]) -> SimResult:
        """The :class:`~theorykit.run.result.SimResult` of the run (elapsed time since
        :meth:`start`)."""
        return rec.result(kind, X, self.eta, diverged, time.perf_counter() - self.started, info)


def setup_run(what: str, problem: Problem, *, eta: Any, steps: Any, replicas: Any, x0: Any,
              options: RunOptions, n_workers: int = 1, copies: int = 1, keep: bool = False,
              matrix: bool = False) -> RunSetup:
    """Check the arguments every run shares and build what it starts from.

    ``what`` names the run in messages; ``n_workers``, ``copies``, ``keep`` and ``matrix``
    size it for the memory check (:func:`~theorykit.run.common.check_sim_size`)."""
    o = options
    eta = learning_rate(eta)
    steps = positive_int("steps", steps)
    R = positive_int("replicas", replicas)
    record_every = positive_int("record_every", o.record_every)
    if o.average_from is not None and not 0 <= o.average_from <= steps:
        raise InputError(f"average_from must be in [0, steps], got {o.average_from!r}")
    if o.on_divergence not in ("flag", "raise"):
        raise InputError(f"on_divergence must be 'flag' or 'raise', got {o.on_divergence!r}")
    sch = make_schedule(o.schedule)
    gen = make_generator(o.generator, o.seed, o.device)
    check_sim_size(f"{what} simulation", R, n_workers, problem.d, steps, record_every, o.dtype,
                   copies=copies, keep=keep, matrix=matrix)
    X0 = start_point(x0, R, problem.d, o.device, o.dtype)
    fns = resolve_stats(problem, o.stats)
    return RunSetup(eta=eta, steps=steps, replicas=R, record_every=record_every, schedule=sch,
                    generator=gen, x0=X0, stats=fns, options=o)
