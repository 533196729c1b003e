"""The one result type of every run, discrete or SDE (:class:`SimResult`), and the recorder
that fills it (:class:`Recorder`): per statistic the mean and standard error across replicas
at the recorded steps, optionally per-replica values and the per-replica time average over a
tail window (the stationary estimate).

Statistics (names accepted in ``stats=``; or pass ``{name: fn(X) -> (R,)}``):
``loss`` f(x), ``subopt`` f(x) - f*, ``sqnorm`` ||x||², ``dist2`` ||x - x*||²,
``gradnorm2`` ||∇f(x)||².
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from theorykit.check.stats import Estimate
from theorykit.errors import InputError
from theorykit.problems import Problem

__all__ = ["STATS", "Recorder", "SimResult", "resolve_stats"]

Tensor = torch.Tensor
StatFn = Callable[[Tensor], Tensor]


def _stat_table(problem: Problem) -> dict[str, StatFn]:
    f_star = problem.f_star

    def subopt(X: Tensor) -> Tensor:
        if f_star is None:
            raise InputError(f"{problem.name}: 'subopt' needs f* (unknown for this problem)")
        return problem.loss(X) - f_star


    return {
        "loss": problem.loss,
        "subopt": subopt,
        "sqnorm": lambda X: (X * X).sum(-1),
        "dist2": problem.dist2,
        "gradnorm2": lambda X: (problem.grad(X) ** 2).sum(-1),
    }


STATS = ("loss", "subopt", "sqnorm", "dist2", "gradnorm2")
"""Names of the built-in statistics."""


def resolve_stats(problem: Problem, stats: Sequence[str] | Mapping[str, StatFn]
                  ) -> dict[str, StatFn]:
    """``{name: fn(X) -> (R,)}`` from names of built-in statistics or a mapping."""
    if isinstance(stats, Mapping):
        out = dict(stats)
    else:
        table = _stat_table(problem)
        out = {}
        for s in stats:
            if s not in table:
                raise InputError(f"unknown statistic {s!r}; known: {', '.join(STATS)}")
            out[s] = table[s]
    if not out:
        raise InputError("ask for at least one statistic")
    return out


@dataclass
class SimResult:
    """Means and standard errors across replicas of each statistic at the recorded steps.

    ``steps``: discrete step indices k (SDE results are reported at t = k·η); ``t`` = k·η.
    ``tail``: per statistic, the :class:`Estimate` (mean, SE across replicas, n = R) of the
    per-replica time average over steps ``average_from..steps`` (``None`` if not asked).
    ``diverged_step``: first step k at which a replica left ``|x| <= threshold`` (then the
    records stop there and ``x`` is the last finite state).
    """

    kind: Literal["discrete", "sde"]
    steps: np.ndarray
    t: np.ndarray
    mean: dict[str, np.ndarray]
    se: dict[str, np.ndarray]
    x: Tensor
    replicas: int
    eta: float
    tail: dict[str, Estimate] = field(default_factory=dict)
    average_from: int | None = None
    diverged_step: int | None = None
    elapsed_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None

    def estimate(self, name: str, index: int = -1) -> Estimate:
        """Mean ± SE of statistic ``name`` at recorded point ``index`` (default: last)."""
        return Estimate(float(self.mean[name][index]), float(self.se[name][index]),
                        self.replicas)

    def at_step(self, name: str, k: int) -> Estimate:
        """The estimate at discrete step ``k`` (must be a recorded step)."""
        idx = np.nonzero(self.steps == k)[0]
        if idx.size == 0:
            raise InputError(f"step {k} was not recorded (record_every?)")
        return self.estimate(name, int(idx[0]))

    def series(self, prefix: str = "") -> dict[str, list[float]]:
        """Plain lists for ``Verdict.series`` (steps, t, mean and SE of each statistic)."""
        out: dict[str, list[float]] = {f"{prefix}steps": self.steps.tolist(),
                                       f"{prefix}t": self.t.tolist()}
        for k in self.mean:
            out[f"{prefix}{k}_mean"] = self.mean[k].tolist()
            out[f"{prefix}{k}_se"] = self.se[k].tolist()
        return out

    def divergence_text(self) -> str:
        return "" if self.diverged_step is None else f"diverged at step {self.diverged_step}"



# ---------------------------------------------------------------------- shared machinery
class Recorder:
    """Records mean/SE at recorded steps and per-replica tail sums; with ``keep`` also the
    per-replica values at recorded steps (needed to combine two coupled solves)."""

    def __init__(self, fns: dict[str, StatFn], R: int, average_from: int | None,
                 device: Any, keep: bool = False) -> None:
        self.fns = fns
        self.R = R
        self.average_from = average_from
        self.keep = keep
        self.steps: list[int] = []
        self.mean: dict[str, list[Tensor]] = {k: [] for k in fns}
        self.se: dict[str, list[Tensor]] = {k: [] for k in fns}
        self.values: dict[str, list[Tensor]] = {k: [] for k in fns}
        self.sums = {k: torch.zeros(R, dtype=torch.float64, device=device) for k in fns}
        self.count = 0

    def observe(self, k: int, X: Tensor, record: bool) -> None:
        tail = self.average_from is not None and k >= self.average_from
        if not (record or tail):
            return
        if record:
            self.steps.append(k)
        for name, fn in self.fns.items():
            v = fn(X).to(torch.float64)
            if record:
                self._record(name, v)
            if tail:
                self.sums[name] += v
        if tail:
            self.count += 1

    def _record(self, name: str, v: Tensor) -> None:
        self.mean[name].append(v.mean())
        self.se[name].append(v.std() / math.sqrt(self.R) if self.R > 1
                             else torch.tensor(float("nan")))
        if self.keep:
            self.values[name].append(v)

    @classmethod
    def combine(cls, a: Recorder, wa: float, b: Recorder, wb: float) -> Recorder:
        """Per-replica ``wa * a + wb * b`` of two runs on the same replicas (coupled)."""
        n = min(len(a.steps), len(b.steps))
        out = cls(a.fns, a.R, a.average_from, a.sums[next(iter(a.sums))].device)
        out.steps = a.steps[:n]
        for name in a.fns:
            for j in range(n):
                out._record(name, wa * a.values[name][j] + wb * b.values[name][j])
            if a.count and a.count == b.count:
                out.sums[name] = wa * a.sums[name] + wb * b.sums[name]
        out.count = a.count if a.count == b.count else 0
        return out

    def result(self, kind: Literal["discrete", "sde"], X: Tensor, eta: float,
               diverged: int | None, elapsed: float, info: dict[str, Any]) -> SimResult:
        steps = np.asarray(self.steps, dtype=np.int64)
        mean = {k: torch.stack(v).cpu().numpy() if v else np.zeros(0)
                for k, v in self.mean.items()}
        se = {k: torch.stack(v).cpu().numpy() if v else np.zeros(0)
              for k, v in self.se.items()}
        tail: dict[str, Estimate] = {}
        if self.average_from is not None and self.count > 0 and self.R > 1:
            for k, s in self.sums.items():
                avg = (s / self.count).cpu().numpy()
                tail[k] = Estimate(float(avg.mean()), float(avg.std(ddof=1) / math.sqrt(self.R)),
                                   self.R)
        info = {**info, "tail_points": self.count}
        return SimResult(kind=kind, steps=steps, t=steps * eta, mean=mean, se=se, x=X,
                         replicas=self.R, eta=eta, tail=tail, average_from=self.average_from,
                         diverged_step=diverged, elapsed_s=elapsed, info=info)


