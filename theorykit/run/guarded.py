r"""Guarded runs: many replicas through the one loop (:func:`theorykit.run.loop.iterate`),
each frozen where it diverges, so that both the fraction that diverged and the fate of the
others are reported (:func:`theorykit.run.run_discrete` and :func:`theorykit.run.run_sde`
stop every replica at the first divergence instead).

The steps it drives are built by :func:`discrete_step` (one step of the real discrete method
with a learning-rate schedule) and :func:`sde_step` (one Euler–Maruyama step of the
scheduled SDE). They serve the (L0, L1) claims of Compagnoni, Islamov, Orvieto & Gorbunov,
arXiv 2506.00181 (2025): D(C)SGD with a decaying schedule diverges from a large initial
point, the normalized schedule and DSignSGD converge (``derivations/compagnoni2025_l0l1*``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from theorykit.errors import InputError
from theorykit.problems import Problem
from theorykit.run.common import make_generator, start_point
from theorykit.run.loop import FreezeDiverged, iterate
from theorykit.schedules import Schedule
from theorykit.sde.sde import SDE

__all__ = ["GuardedRun", "GuardedStep", "discrete_step", "guarded_run", "sde_step"]

Tensor = torch.Tensor
GuardedStep = Callable[[int, Tensor, torch.Generator], Tensor]
"""``step(k, X, generator) -> X_next``: one step of a guarded run, drawing from the run's
generator."""


@dataclass
class GuardedRun:
    """Per-replica outcome of :func:`guarded_run`: ``diverged_at`` (step, or -1 if the
    replica stayed within the threshold), the final loss of each replica (NaN if it
    diverged), and the mean loss of the surviving replicas at the recorded steps."""

    diverged_at: np.ndarray
    final_loss: np.ndarray
    steps: list[int]
    loss_mean: list[float]
    loss_median: list[float]
    f0: float

    @property
    def frac_diverged(self) -> float:
        return float((self.diverged_at >= 0).mean())

    @property
    def first_divergence(self) -> int | None:
        k = self.diverged_at[self.diverged_at >= 0]
        return int(k.min()) if k.size else None


def guarded_run(step: GuardedStep, problem: Problem, x0: Sequence[float], *, steps: int,
                replicas: int, seed: int, threshold: float, record_every: int = 1,
                record_at: Sequence[int] | None = None) -> GuardedRun:
    """Iterate ``X <- step(k, X, gen)`` on ``replicas`` copies from ``x0`` and track each
    replica's divergence (non-finite or max |x_j| > ``threshold``): a diverged replica is
    frozen (:class:`~theorykit.run.loop.FreezeDiverged`) and excluded from the loss
    statistics. Statistics are recorded every ``record_every`` steps, or at the steps
    listed in ``record_at`` (e.g. log-spaced), and at the end."""
    gen = make_generator(None, seed, "cpu")
    X = start_point(x0, replicas, problem.d, "cpu", torch.float64)
    f0 = float(problem.loss(X[:1])[0])
    guard = FreezeDiverged(replicas, threshold)
    rec_steps, mean, med = [0], [f0], [f0]
    at = None if record_at is None else {int(k) for k in record_at}

    def observe(k: int, X: Tensor) -> None:
        if k == 0:  # recorded above: every replica starts at x0
            return
        due = k in at if at is not None else k % record_every == 0
        if not (due or k == steps):
            return
        rec_steps.append(k)
        alive = guard.alive
        if alive.any():
            lv = problem.loss(X[alive])
            mean.append(float(lv.mean()))
            med.append(float(lv.median()))
        else:
            mean.append(float("nan"))
            med.append(float("nan"))

    X, _ = iterate(lambda k, X: step(k, X, gen), X, steps, guard=guard, observe=observe)
    fl = problem.loss(X)
    fl[~guard.alive] = float("nan")
    return GuardedRun(diverged_at=guard.diverged_at.numpy(), final_loss=fl.numpy(),
                      steps=rec_steps, loss_mean=mean, loss_median=med, f0=f0)


def discrete_step(method: Any, problem: Problem, noise: Any, eta: float, schedule: Schedule,
                  n_workers: int, batch: int = 1) -> GuardedStep:
    """One step of the real discrete method (its torch ``direction``, the noise sampler and
    the schedule multiplier; a gradient-normalized schedule gets the norm of the workers'
    mean stochastic gradient, as :func:`theorykit.run.run_discrete` does)."""

    def step(k: int, X: Tensor, gen: torch.Generator) -> Tensor:
        grads = problem.worker_grads(X) + noise.sample(X.shape[0], n_workers, problem.d, batch, gen,
                                              X.device, X.dtype)
        D = method.direction(grads, gen)
        if schedule.needs_grad_norm:
            mult = schedule(k, grads.mean(dim=1).norm(dim=-1)).unsqueeze(-1)
        else:
            mult = schedule(k)
        return X - eta * mult * D

    return step


def sde_step(sde: SDE, problem: Problem, params: dict[str, float], eta: float,
             schedule: Schedule, dt: float) -> GuardedStep:
    """One Euler–Maruyama step of the scheduled SDE (diagonal noise; a gradient-normalized
    schedule uses the true ‖∇f(X_t)‖, as :func:`theorykit.run.run_sde` does). Step k is at
    SDE time k·dt."""
    if not sde.is_diagonal:
        raise InputError("sde_step needs a diagonal SDE")
    if (problem.n_workers or 1) > 1:
        raise InputError(f"{problem.name} has {problem.n_workers} local objectives: no "
                         "heterogeneous-worker SDE is derived; use discrete_step")
    drift_fn, diff_fn = sde.lambdify("torch", {**params, "eta": eta})
    sq = math.sqrt(dt)

    def step(k: int, X: Tensor, gen: torch.Generator) -> Tensor:
        t = k * dt
        if schedule.needs_grad_norm:
            m = schedule.at_time(t, eta, problem.grad(X).norm(dim=-1)).unsqueeze(-1)
        else:
            m = schedule.at_time(t, eta)
        s = diff_fn(t, X)
        xi = torch.randn(X.shape, generator=gen, dtype=X.dtype)
        return X + m * (drift_fn(t, X) * dt + s * xi * sq)

    return step
