r"""Discrete runs of a :class:`~theorykit.methods.base.Method` on a
:class:`~theorykit.problems.Problem` with gradient noise from a
:class:`~theorykit.noise.NoiseModel`, vectorized over R replicas and N workers:

.. math:: x_{k+1} = x_k - \eta\,m_k\,D\big(\nabla f(x_k) + Z_{k,1}, \dots,
          \nabla f(x_k) + Z_{k,N}\big),

with tensors ``X (R, d)``, per-worker gradients ``(R, N, d)``, the schedule multiplier
:math:`m_k` (:mod:`theorykit.schedules`) and D the method's worker and server steps
(:class:`~theorykit.run.loop.MethodStep`, state carried for EF, EF21, DIANA, ...).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch

from theorykit.errors import InputError
from theorykit.problems import Problem
from theorykit.run.common import (
    Progress,
    check_count_arg,
    check_eta,
    check_sim_size,
    make_generator,
    start_point,
)
from theorykit.run.loop import MethodStep, StopOnThreshold, iterate
from theorykit.run.result import Recorder, SimResult, StatFn, resolve_stats
from theorykit.schedules import Schedule, make_schedule

__all__ = ["run_discrete"]

Tensor = torch.Tensor


def run_discrete(
    method: Any,
    problem: Problem,
    noise: Any,
    *,
    eta: float,
    steps: int,
    replicas: int,
    n_workers: int = 1,
    batch: int = 1,
    x0: Any,
    schedule: Schedule | str | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device: Any = "cpu",
    dtype: torch.dtype = torch.float64,
    record_every: int = 1,
    stats: Sequence[str] | Mapping[str, StatFn] = ("loss", "sqnorm"),
    average_from: int | None = None,
    on_divergence: Literal["flag", "raise"] = "flag",
    threshold: float = 1e12,
    grad_norm: Literal["stochastic", "true"] = "stochastic",
    progress: bool | None = None,
) -> SimResult:
    """Run the discrete method for ``steps`` steps on ``replicas`` independent copies.

    ``method``: a :class:`Method` (stateful ones included: EF, EF21, DIANA, ...) or a
    registered name / ``module:Object`` of a method that needs no compressor.
    ``noise``: a :class:`NoiseModel` or a name. ``schedule``: multiplier of ``eta`` (a
    gradient-normalized schedule receives the norm of the workers' mean stochastic gradient,
    or of the true gradient with ``grad_norm="true"``). ``average_from``: also return the
    per-replica time average of each statistic over steps ``average_from..steps``.
    """
    from theorykit.methods import Method, make_method
    from theorykit.noise import NoiseModel, make_noise

    m = method if isinstance(method, Method) else make_method(str(method))
    nz = noise if isinstance(noise, NoiseModel) else make_noise(str(noise))
    eta = check_eta(eta)
    steps = check_count_arg("steps", steps)
    R = check_count_arg("replicas", replicas)
    N = check_count_arg("number of workers N", n_workers)
    B = check_count_arg("batch size B", batch)
    record_every = check_count_arg("record_every", record_every)
    if average_from is not None and not 0 <= average_from <= steps:
        raise InputError(f"average_from must be in [0, steps], got {average_from!r}")
    if on_divergence not in ("flag", "raise"):
        raise InputError(f"on_divergence must be 'flag' or 'raise', got {on_divergence!r}")
    if grad_norm not in ("stochastic", "true"):
        raise InputError(f"grad_norm must be 'stochastic' or 'true', got {grad_norm!r}")
    sch = make_schedule(schedule)
    gen = make_generator(generator, seed, device)
    d = problem.d
    check_sim_size(f"{m.name} simulation", R, N, d, steps, record_every, dtype)
    X = start_point(x0, R, d, device, dtype)
    rec = Recorder(resolve_stats(problem, stats), R, average_from, device)
    bar = Progress(steps, f"{m.name} (discrete)", progress)
    t0 = time.perf_counter()
    guard = StopOnThreshold(threshold, m.name, raise_error=on_divergence == "raise")

    true_grad: list[Tensor] = []

    def oracle(X: Tensor) -> Tensor:
        G = problem.grad(X)
        true_grad[:] = [G]
        return G.unsqueeze(1) + nz.sample(R, N, d, B, gen, device, dtype)

    def lr(k: int, grads: Tensor) -> float | Tensor:
        if not sch.needs_grad_norm:
            return eta * sch(k)
        g = grads.mean(dim=1) if grad_norm == "stochastic" else true_grad[0]
        return eta * sch(k, g.norm(dim=-1))

    def observe(k: int, X: Tensor) -> None:
        rec.observe(k, X, k == 0 or k % record_every == 0 or k == steps)
        if k % 64 == 0:
            bar.update(k)

    try:
        X, _ = iterate(MethodStep(m, oracle, lr, gen), X, steps, guard=guard, observe=observe)
    finally:
        bar.close()
    diverged = guard.diverged
    info = {"method": repr(m), "noise": repr(nz), "problem": repr(problem), "n_workers": N,
            "batch": B, "steps": steps, "schedule": repr(sch)}
    return rec.result("discrete", X, eta, diverged, time.perf_counter() - t0, info)


