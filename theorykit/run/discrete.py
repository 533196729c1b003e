r"""Discrete runs of a :class:`~theorykit.methods.base.Method` on a
:class:`~theorykit.problems.Problem` with gradient noise from a
:class:`~theorykit.noise.NoiseModel`, vectorized over R replicas and N workers:

.. math:: x_{k+1} = x_k - \eta\,m_k\,D\big(\nabla f_1(x_k) + Z_{k,1}, \dots,
          \nabla f_N(x_k) + Z_{k,N}\big),

with tensors ``X (R, d)``, per-worker gradients ``(R, N, d)``
(:meth:`~theorykit.problems.Problem.worker_grads`: every :math:`f_i = f`, or the local
objectives of a problem with ``n_workers`` of them, e.g.
:class:`~theorykit.problems.LocalQuadratics`), the schedule multiplier
:math:`m_k` (:mod:`theorykit.schedules`) and D the method's worker and server steps
(:class:`~theorykit.run.loop.MethodStep`, state carried for EF, EF21, DIANA, ...).
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from theorykit.errors import InputError
from theorykit.problems import Problem
from theorykit.run.loop import MethodStep, StopOnThreshold, iterate
from theorykit.run.result import SimResult
from theorykit.run.setup import RunOptions, setup_run
from theorykit.validate import positive_int

__all__ = ["run_discrete"]

Tensor = torch.Tensor


def run_discrete(method: Any, problem: Problem, noise: Any, *, eta: float, steps: int,
                 replicas: int, x0: Any, n_workers: int | None = None, batch: int = 1,
                 grad_norm: Literal["stochastic", "true"] = "stochastic",
                 **options: Any) -> SimResult:
    """Run the discrete method for ``steps`` steps on ``replicas`` independent copies.

    ``method``: a :class:`Method` (stateful ones included: EF, EF21, DIANA, ...) or a
    registered name / ``module:Object`` of a method that needs no compressor.
    ``noise``: a :class:`NoiseModel` or a name. ``n_workers``, ``batch``: N workers with
    per-worker batch size B; N defaults to the problem's number of local objectives
    (``problem.n_workers``, which N must then equal: worker i sees
    :math:`\nabla f_i`), else 1. ``options``: the keywords shared with :func:`run_sde`, with
    their defaults (:class:`~theorykit.run.setup.RunOptions`: ``schedule``, ``generator``,
    ``seed``, ``device``, ``dtype``, ``record_every``, ``stats``, ``average_from``,
    ``on_divergence``, ``threshold``, ``progress``). A gradient-normalized ``schedule``
    receives the norm of the workers' mean stochastic gradient, or of the true gradient
    with ``grad_norm="true"``.
    """
    from theorykit.methods import Method, make_method
    from theorykit.noise import NoiseModel, make_noise

    opts = RunOptions.of("run_discrete", options)
    m = method if isinstance(method, Method) else make_method(str(method))
    nz = noise if isinstance(noise, NoiseModel) else make_noise(str(noise))
    N = _workers(problem, n_workers)
    B = positive_int("batch size B", batch)
    if grad_norm not in ("stochastic", "true"):
        raise InputError(f"grad_norm must be 'stochastic' or 'true', got {grad_norm!r}")
    run = setup_run(m.name, problem, eta=eta, steps=steps, replicas=replicas, x0=x0,
                    options=opts, n_workers=N)
    eta, steps, R, sch, gen = run.eta, run.steps, run.replicas, run.schedule, run.generator
    d, device, dtype = problem.d, opts.device, opts.dtype
    rec = run.recorder()
    guard = StopOnThreshold(opts.threshold, m.name, raise_error=opts.on_divergence == "raise")
    bar = run.start(f"{m.name} (discrete)")
    true_grads: list[Tensor] = []

    def oracle(X: Tensor) -> Tensor:
        G = problem.worker_grads(X)  # (R, N, d), or (R, 1, d) broadcast over the workers
        true_grads[:] = [G]
        return G + nz.sample(R, N, d, B, gen, device, dtype)

    def lr(k: int, grads: Tensor) -> float | Tensor:
        if not sch.needs_grad_norm:
            return eta * sch(k)
        g = grads.mean(dim=1) if grad_norm == "stochastic" else true_grads[0].mean(dim=1)
        return eta * sch(k, g.norm(dim=-1))

    def observe(k: int, X: Tensor) -> None:
        rec.observe(k, X, run.records(k))
        if k % 64 == 0:
            bar.update(k)

    try:
        X, _ = iterate(MethodStep(m, oracle, lr, gen), run.x0, steps, guard=guard,
                       observe=observe)
    finally:
        bar.close()
    info = {"method": repr(m), "noise": repr(nz), "problem": repr(problem), "n_workers": N,
            "batch": B, "steps": steps, "schedule": repr(sch)}
    return run.result(rec, "discrete", X, guard.diverged, info)


def _workers(problem: Problem, n_workers: int | None) -> int:
    """The number of workers N: ``n_workers``, by default the problem's number of local
    objectives (or 1); a problem with local objectives needs exactly that many."""
    n_local = problem.n_workers
    N = positive_int("number of workers N", (n_local or 1) if n_workers is None else n_workers)
    if n_local not in (None, N):
        raise InputError(f"{problem.name} has {n_local} local objectives (one per worker), "
                         f"so n_workers must be {n_local}, got {N}")
    return N
