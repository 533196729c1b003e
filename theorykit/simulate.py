r"""The simulation driver: the real discrete optimizer and its SDE, run side by side with the
same statistics.

* :func:`run_discrete` runs a :class:`~theorykit.methods.base.Method` (DSGD, DCSGD with real
  compressors, DSignSGD, ...) on a :class:`~theorykit.problems.Problem` with gradient noise
  from a :class:`~theorykit.noise.NoiseModel`, vectorized over R replicas and N workers:

  .. math:: x_{k+1} = x_k - \eta\,m_k\,D\big(\nabla f(x_k) + Z_{k,1}, \dots,
            \nabla f(x_k) + Z_{k,N}\big),

  with tensors ``X (R, d)``, per-worker gradients ``(R, N, d)`` and the schedule multiplier
  :math:`m_k` (:mod:`theorykit.schedules`).
* :func:`run_sde` solves an :class:`~theorykit.sde.sde.SDE` (from
  :func:`theorykit.sde.derive`) or a pair of callables with the batched solvers of
  :mod:`theorykit.sde.solvers`, in SDE time :math:`t = k\eta` with step ``dt = eta`` (or a
  divisor of it), reporting at the same discrete step indices k.

Both return a :class:`SimResult`: for every requested statistic the mean and standard error
across replicas at the recorded steps, optionally the per-replica time average over a tail
window (the stationary estimate), the final state and divergence information ("diverged
at step k", never NaN in a table). Everything is driven by one ``torch.Generator``, so a
run is reproducible from its seed.

Statistics (names accepted in ``stats=``; or pass ``{name: fn(X) -> (R,)}``):
``loss`` f(x), ``subopt`` f(x) - f*, ``sqnorm`` ||x||², ``dist2`` ||x - x*||²,
``gradnorm2`` ||∇f(x)||².
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

from theorykit.check.stats import Estimate
from theorykit.errors import DivergenceError, InputError
from theorykit.limits import MAX_REPLICAS, MAX_STEPS, check_count, check_memory
from theorykit.problems import Problem
from theorykit.schedules import Constant, Schedule, make_schedule
from theorykit.sde.solvers import AbstractSolver, get_solver

__all__ = ["STATS", "SimResult", "resolve_stats", "run_discrete", "run_sde"]

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
class _Stats:
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
    def combine(cls, a: _Stats, wa: float, b: _Stats, wb: float) -> _Stats:
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

    def result(self, kind, X, eta, diverged, elapsed, info) -> SimResult:
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


def _generator(generator: torch.Generator | None, seed: int | None, device: Any
               ) -> torch.Generator:
    if generator is not None:
        return generator
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _x0(x0: Any, R: int, d: int, device: Any, dtype: torch.dtype) -> Tensor:
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


def _check_eta(eta: Any) -> float:
    try:
        v = float(eta)
    except (TypeError, ValueError):
        raise InputError(f"learning rate eta must be a number, got {eta!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"learning rate eta must be finite and > 0, got {eta!r}")
    return v


def _count(name: str, v: Any) -> int:
    if isinstance(v, bool):
        raise InputError(f"{name} must be a positive integer, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive integer, got {v!r}") from None
    if not math.isfinite(f) or f < 1 or f != int(f):
        raise InputError(f"{name} must be a positive integer, got {v!r}")
    return int(f)


def _check_sim_size(what: str, R: int, N: int, d: int, steps: int, record_every: int,
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


class _Progress:
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


# ---------------------------------------------------------------------- discrete runs
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

    ``method``: a :class:`Method` or a name (``dsgd``/``dsignsgd``; DCSGD needs an object).
    ``noise``: a :class:`NoiseModel` or a name. ``schedule``: multiplier of ``eta`` (a
    gradient-normalized schedule receives the norm of the workers' mean stochastic gradient,
    or of the true gradient with ``grad_norm="true"``). ``average_from``: also return the
    per-replica time average of each statistic over steps ``average_from..steps``.
    """
    from theorykit.methods import Method, make_method
    from theorykit.noise import NoiseModel, make_noise

    m = method if isinstance(method, Method) else make_method(str(method))
    nz = noise if isinstance(noise, NoiseModel) else make_noise(str(noise))
    eta = _check_eta(eta)
    steps = _count("steps", steps)
    R = _count("replicas", replicas)
    N = _count("number of workers N", n_workers)
    B = _count("batch size B", batch)
    record_every = _count("record_every", record_every)
    if average_from is not None and not 0 <= average_from <= steps:
        raise InputError(f"average_from must be in [0, steps], got {average_from!r}")
    if on_divergence not in ("flag", "raise"):
        raise InputError(f"on_divergence must be 'flag' or 'raise', got {on_divergence!r}")
    if grad_norm not in ("stochastic", "true"):
        raise InputError(f"grad_norm must be 'stochastic' or 'true', got {grad_norm!r}")
    sch = make_schedule(schedule)
    gen = _generator(generator, seed, device)
    d = problem.d
    _check_sim_size(f"{m.name} simulation", R, N, d, steps, record_every, dtype)
    X = _x0(x0, R, d, device, dtype)
    rec = _Stats(resolve_stats(problem, stats), R, average_from, device)
    bar = _Progress(steps, f"{m.name} (discrete)", progress)
    t0 = time.perf_counter()
    rec.observe(0, X, True)
    diverged = None
    try:
        for k in range(steps):
            G = problem.grad(X)
            grads = G.unsqueeze(1) + nz.sample(R, N, d, B, gen, device, dtype)
            D = m.direction(grads, gen)
            mult = _multiplier(sch, k, grads, G, grad_norm)
            if isinstance(mult, Tensor):
                Xn = X - (eta * mult).unsqueeze(-1) * D
            else:
                Xn = X - (eta * mult) * D if mult != 1.0 else X - eta * D
            kk = k + 1
            mx = float(Xn.abs().amax())
            if not mx <= threshold:
                diverged = kk
                if on_divergence == "raise":
                    raise DivergenceError(f"{m.name} diverged (max |x| = {mx:.3g})", step=kk)
                break
            X = Xn
            rec.observe(kk, X, kk % record_every == 0 or kk == steps)
            if kk % 64 == 0:
                bar.update(kk)
    finally:
        bar.close()
    info = {"method": repr(m), "noise": repr(nz), "problem": repr(problem), "n_workers": N,
            "batch": B, "steps": steps, "schedule": repr(sch)}
    return rec.result("discrete", X, eta, diverged, time.perf_counter() - t0, info)


def _multiplier(sch: Schedule, k: int, grads: Tensor, G: Tensor, which: str
                ) -> float | Tensor:
    if not sch.needs_grad_norm:
        return sch(k)
    g = grads.mean(dim=1) if which == "stochastic" else G
    return sch(k, g.norm(dim=-1))


# ---------------------------------------------------------------------- SDE runs
def run_sde(
    sde: Any,
    problem: Problem,
    *,
    eta: float,
    steps: int,
    replicas: int,
    x0: Any,
    dt: float | None = None,
    params: Mapping[Any, Any] | None = None,
    solver: str | AbstractSolver = "euler",
    schedule: Schedule | str | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device: Any = "cpu",
    dtype: torch.dtype = torch.float64,
    record_every: int = 1,
    stats: Sequence[str] | Mapping[str, StatFn] = ("loss", "sqnorm"),
    average_from: int | None = None,
    extrapolate: bool = False,
    on_divergence: Literal["flag", "raise"] = "flag",
    threshold: float = 1e12,
    progress: bool | None = None,
) -> SimResult:
    r"""Solve the SDE over SDE time ``[0, steps * eta]`` and report the statistics at the
    discrete step indices k (t = k·η), like :func:`run_discrete`.

    ``sde``: an :class:`~theorykit.sde.sde.SDE` (lambdified here with ``params`` and the
    learning rate ``eta``; an SDE derived for a generic gradient g = ∇f is composed with the
    problem's torch gradient) or a pair ``(drift_fn, diffusion_fn)`` of torch callables in
    the solver contract (:mod:`theorykit.sde.solvers`). ``dt``: solver step, ``eta`` by
    default; ``eta/dt`` must be an integer so reports land on the grid. With a ``schedule``
    the SDE is :math:`dX = m(t)\,b\,dt + m(t)\sqrt\eta\,\Sigma^{1/2} dW` (a
    gradient-normalized schedule uses the true gradient norm ||∇f(X_t)||).

    ``extrapolate=True``: Richardson extrapolation of the expectations (Talay & Tubaro 1990,
    *recalled*): the statistics are ``2 E g(X^{dt/2}) - E g(X^{dt})`` from two solves driven
    by the *same* Brownian path (the ``dt`` solve sums pairs of the ``dt/2`` increments), so
    the solver's O(dt) weak error cancels to O(dt²) while the coupling keeps the variance
    close to a single solve's. SEs are across replicas of the per-replica combination.
    """
    eta = _check_eta(eta)
    steps = _count("steps", steps)
    R = _count("replicas", replicas)
    record_every = _count("record_every", record_every)
    dt = eta if dt is None else _check_eta(dt)
    ratio = eta / dt
    r = round(ratio)
    if r < 1 or abs(ratio - r) > 1e-9 * max(1.0, ratio):
        raise InputError(f"dt = {dt:g} must divide eta = {eta:g} (eta/dt an integer)")
    if average_from is not None and not 0 <= average_from <= steps:
        raise InputError(f"average_from must be in [0, steps], got {average_from!r}")
    drift, diffusion = _lambdified(sde, eta, params, problem)
    sch = make_schedule(schedule)
    if not isinstance(sch, Constant):
        drift, diffusion = _scheduled(drift, diffusion, sch, eta, problem)
    gen = _generator(generator, seed, device)
    _check_sim_size("SDE simulation", R, 1, problem.d, steps, record_every, dtype,
                    copies=2 if extrapolate else 1, keep=extrapolate,
                    matrix=getattr(sde, "noise_type", None) == "general")
    X0 = _x0(x0, R, problem.d, device, dtype)
    fns = resolve_stats(problem, stats)
    slv = get_solver(solver)
    bar = _Progress(steps * (2 if extrapolate else 1), f"{slv.name} (SDE)", progress)

    def solve_once(h: float, sub: int, increments=None, offset: int = 0):
        rec = _Stats(fns, R, average_from, device, keep=extrapolate)

        def observe(t: float, X: Tensor) -> None:
            k = round(t / eta)
            if abs(t / eta - k) > 1e-6:  # a solver sub-step between two reports
                return
            rec.observe(k, X, k % record_every == 0 or k == steps)
            bar.update(offset + k)

        try:
            res = slv.solve(drift, diffusion, X0, 0.0, steps * eta, h, generator=gen,
                            increments=increments, record=observe,
                            record_every=sub if average_from is not None else sub * record_every,
                            on_divergence=on_divergence, threshold=threshold)
        except DivergenceError as exc:
            k = None if exc.step is None else math.ceil(exc.step / sub)
            raise DivergenceError(f"{slv.name} SDE solve diverged", step=k) from None
        div = None if res.diverged_step is None else math.ceil(res.diverged_step / sub)
        return rec, res, div

    t0 = time.perf_counter()
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
            rec = _Stats.combine(fine, 2.0, coarse, -1.0)
    finally:
        bar.close()
    info = {"solver": slv.name, "dt": dt, "steps": steps, "schedule": repr(sch),
            "noise_type": res.noise_type, "extrapolate": extrapolate,
            "sde": getattr(sde, "title", "callables") if not isinstance(sde, tuple)
            else "callables"}
    return rec.result("sde", res.x, eta, diverged, time.perf_counter() - t0, info)


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
