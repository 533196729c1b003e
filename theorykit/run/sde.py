r"""SDE runs: solve an :class:`~theorykit.sde.sde.SDE` (from :func:`theorykit.sde.derive`) or
a pair of torch callables with the batched solvers of :mod:`theorykit.sde.solvers`, in SDE
time :math:`t = k\eta` with step ``dt = eta`` (or a divisor of it), reporting at the same
discrete step indices k as :func:`theorykit.run.run_discrete`, into the same
:class:`~theorykit.run.result.SimResult`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sympy as sp
import torch

from theorykit.errors import DivergenceError, InputError
from theorykit.problems import Problem
from theorykit.run.result import Recorder, SimResult
from theorykit.run.setup import RunOptions, setup_run
from theorykit.schedules import Constant, Schedule
from theorykit.sde.solvers import AbstractSolver, get_solver
from theorykit.validate import positive_float

__all__ = ["run_sde"]

Tensor = torch.Tensor


def run_sde(sde: Any, problem: Problem, *, eta: float, steps: int, replicas: int, x0: Any,
            dt: float | None = None, params: Mapping[Any, Any] | None = None,
            solver: str | AbstractSolver = "euler", extrapolate: bool = False,
            **options: Any) -> SimResult:
    r"""Solve the SDE over SDE time ``[0, steps * eta]`` and report the statistics at the
    discrete step indices k (t = k·η), like :func:`run_discrete`.

    ``sde``: an :class:`~theorykit.sde.sde.SDE` (lambdified here with ``params`` and the
    learning rate ``eta``; an SDE derived for a generic gradient g = ∇f is composed with the
    problem's torch gradient) or a pair ``(drift_fn, diffusion_fn)`` of torch callables in
    the solver contract (:mod:`theorykit.sde.solvers`). ``dt``: solver step, ``eta`` by
    default; ``eta/dt`` must be an integer so reports land on the grid. ``options``: the
    keywords shared with :func:`run_discrete`, with their defaults
    (:class:`~theorykit.run.setup.RunOptions`: ``schedule``, ``generator``, ``seed``,
    ``device``, ``dtype``, ``record_every``, ``stats``, ``average_from``,
    ``on_divergence``, ``threshold``, ``progress``). With a ``schedule`` the SDE is
    :math:`dX = m(t)\,b\,dt + m(t)\sqrt\eta\,\Sigma^{1/2} dW` (a gradient-normalized
    schedule uses the true gradient norm ||∇f(X_t)||).

    ``extrapolate=True``: Richardson extrapolation of the expectations (Talay & Tubaro 1990,
    *recalled*): the statistics are ``2 E g(X^{dt/2}) - E g(X^{dt})`` from two solves driven
    by the *same* Brownian path (the ``dt`` solve sums pairs of the ``dt/2`` increments), so
    the solver's O(dt) weak error cancels to O(dt²) while the coupling keeps the variance
    close to a single solve's. SEs are across replicas of the per-replica combination.
    """
    opts = RunOptions.of("run_sde", options)
    if (problem.n_workers or 1) > 1:
        raise InputError(f"{problem.name} has {problem.n_workers} local objectives: the SDEs "
                         "theorykit derives assume every worker samples the same f (no "
                         "heterogeneous-worker SDE is derived); use run_discrete")
    run = setup_run("SDE", problem, eta=eta, steps=steps, replicas=replicas, x0=x0,
                    options=opts, copies=2 if extrapolate else 1, keep=extrapolate,
                    matrix=getattr(sde, "noise_type", None) == "general")
    eta, steps, sch, gen = run.eta, run.steps, run.schedule, run.generator
    device, dtype, average_from = opts.device, opts.dtype, opts.average_from
    dt = eta if dt is None else positive_float("solver step dt", dt, one_message=True)
    ratio = eta / dt
    r = round(ratio)
    if r < 1 or abs(ratio - r) > 1e-9 * max(1.0, ratio):
        raise InputError(f"dt = {dt:g} must divide eta = {eta:g} (eta/dt an integer)")
    drift, diffusion = _lambdified(sde, eta, params, problem)
    if not isinstance(sch, Constant):
        drift, diffusion = _scheduled(drift, diffusion, sch, eta, problem)
    X0 = run.x0
    slv = get_solver(solver)
    bar = run.start(f"{slv.name} (SDE)", steps * (2 if extrapolate else 1))

    def solve_once(h: float, sub: int, increments=None, offset: int = 0):
        rec = run.recorder(keep=extrapolate)

        def observe(t: float, X: Tensor) -> None:
            k = round(t / eta)
            if abs(t / eta - k) > 1e-6:  # a solver sub-step between two reports
                return
            rec.observe(k, X, run.records(k))
            bar.update(offset + k)

        try:
            res = slv.solve(drift, diffusion, X0, 0.0, steps * eta, h, generator=gen,
                            increments=increments, record=observe,
                            record_every=sub if average_from is not None
                            else sub * run.record_every,
                            on_divergence=opts.on_divergence, threshold=opts.threshold)
        except DivergenceError as exc:
            k = None if exc.step is None else math.ceil(exc.step / sub)
            raise DivergenceError(f"{slv.name} SDE solve diverged", step=k) from None
        div = None if res.diverged_step is None else math.ceil(res.diverged_step / sub)
        return rec, res, div

    try:
        if not extrapolate:
            rec, res, diverged = solve_once(dt, r)
        else:
            state = gen.get_state()
            fine, res, div_f = solve_once(dt / 2, 2 * r)
            twin = torch.Generator(device=device)
            twin.set_state(state)
            half = math.sqrt(dt / 2)

            def paired(k: int, shape: tuple[int, ...]) -> Tensor:
                a = torch.randn(shape, generator=twin, dtype=dtype, device=device)
                b = torch.randn(shape, generator=twin, dtype=dtype, device=device)
                return (a + b) * half

            coarse, _, div_c = solve_once(dt, r, paired, steps)
            divs = [v for v in (div_f, div_c) if v is not None]
            diverged = min(divs) if divs else None
            rec = Recorder.combine(fine, 2.0, coarse, -1.0)
    finally:
        bar.close()
    info = {"solver": slv.name, "dt": dt, "steps": steps, "schedule": repr(sch),
            "noise_type": res.noise_type, "extrapolate": extrapolate,
            "sde": getattr(sde, "title", "callables") if not isinstance(sde, tuple)
            else "callables"}
    return run.result(rec, "sde", res.x, diverged, info)


def _lambdified(sde: Any, eta: float, params: Mapping[Any, Any] | None, problem: Problem):
    if isinstance(sde, tuple) and len(sde) == 2 and all(callable(f) for f in sde):
        return sde
    if not hasattr(sde, "lambdify"):
        raise InputError("sde must be an SDE (theorykit.sde.derive) or (drift_fn, diffusion_fn)")
    if getattr(sde, "grad_symbols", None):
        return _generic(sde, eta, params, problem)
    p = dict(params or {})
    lr = sp.sympify(sde.lr)
    if isinstance(lr, sp.Symbol) and lr.name not in {str(k) for k in p}:
        p[lr.name] = eta
    elif lr.is_number and abs(float(lr) - eta) > 1e-12 * eta:
        raise InputError(f"the SDE was derived at eta = {float(lr):g}, not {eta:g}")
    return sde.lambdify("torch", p)


def _generic(sde: Any, eta: float, params: Mapping[Any, Any] | None, problem: Problem):
    """An SDE derived for a generic gradient g_j = ∂_j f (``derive(..., problem_or_dim=d)``)
    whose coefficients depend on x only through g: lambdify it in g (an SDE over the
    g-symbols, same adapter) and compose with the problem's torch gradient at run time.
    Much cheaper than lambdifying f's symbolic gradient when f is a long sum (logistic)."""
    from theorykit.sde.sde import SDE

    g = list(sde.grad_symbols)
    if len(g) != problem.d:
        raise InputError(f"the SDE has dimension {len(g)} but the problem has d = {problem.d}")
    if any(e.has(*sde.x) for e in [*sde.drift, *sde.diffusion_cov]):
        raise InputError("a generic-gradient SDE must depend on x only through g")
    in_g = SDE(x=g, drift=sde.drift, diffusion_cov=sde.diffusion_cov, params=dict(sde.params),
               noise_type=sde.noise_type, lr=sde.lr)
    fd, fg = _lambdified(in_g, eta, params, problem)
    last: list[Any] = [None, None]

    def grad(X: Tensor) -> Tensor:
        if last[0] is not X:  # drift and diffusion of one step share the gradient
            last[0], last[1] = X, problem.grad(X)
        return last[1]

    return (lambda t, X: fd(t, grad(X))), (lambda t, X: fg(t, grad(X)))


def _scheduled(drift, diffusion, sch: Schedule, eta: float, problem: Problem):
    def mult(t: float, X: Tensor) -> Any:
        if sch.needs_grad_norm:
            return sch.at_time(t, eta, problem.grad(X).norm(dim=-1))
        return sch.at_time(t, eta)

    def sdrift(t: float, X: Tensor) -> Tensor:
        m = mult(t, X)
        return drift(t, X) * (m.unsqueeze(-1) if isinstance(m, Tensor) else m)

    def sdiff(t: float, X: Tensor) -> Tensor:
        m = mult(t, X)
        g = diffusion(t, X)
        if isinstance(m, Tensor):
            m = m.reshape(-1, *([1] * (g.ndim - 1)))
        return g * m

    return sdrift, sdiff
