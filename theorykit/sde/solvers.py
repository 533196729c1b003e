r"""Batched fixed-step SDE solvers (Itô) in torch: Euler–Maruyama and Milstein.

An SDE here is a pair of plain callables (the torchsde *f/g contract*, Itô form)

.. math::  dX_t = b(t, X_t)\,dt + G(t, X_t)\,dW_t ,

* ``drift(t, x) -> (P, d)`` for a batch ``x`` of ``P`` paths in :math:`\mathbb R^d`;
* ``diffusion(t, x)`` returns either a tensor of shape ``(P, d)`` (**diagonal noise**:
  :math:`G = \mathrm{diag}(g)`, ``d`` independent Brownian motions) or ``(P, d, m)``
  (**general noise**: ``m`` Brownian motions). Leading size 1 broadcasts over paths (a
  constant matrix is returned as ``(1, d, m)``). ``noise_type=`` forces the reading.

This is exactly what :meth:`theorykit.sde.sde.SDE.lambdify` produces, so a derived SDE is
solved by ``EulerMaruyama().solve(*sde.lambdify("torch", params), x0, 0, T, dt)``.

Which solver to use (plain-language guide, after torchsde's docs):

* :class:`EulerMaruyama` — any noise (diagonal or a full matrix). Strong order 1/2 in
  general (order 1 when the noise is additive, i.e. ``G`` does not depend on ``x``), weak
  order 1. With ``dt = eta`` and Gaussian increments it *is* the discrete update of
  D(C)SGD-type SDEs, the choice made in the Compagnoni et al. papers.
* :class:`Milstein` — diagonal noise whose ``i``-th entry depends on ``x_i`` only; strong
  order 1, weak order 1. Use it when pathwise accuracy matters with multiplicative noise.

Orders (Kloeden & Platen, *Numerical Solution of SDEs*, 1992: Thm 10.2.2 strong order 1/2
of EM, Thm 10.3.5 strong order 1 of Milstein, Thm 14.5.1 weak order 1 of EM) [recalled];
``tests/test_solvers.py`` *measures* them on Ornstein–Uhlenbeck and geometric Brownian
motion and asserts the slopes.

Memory: a solve keeps ``O(P·d)`` state. Statistics requested through ``record=`` are
reduced across paths at each recorded step (mean and standard error); whole trajectories
(``O(P·d·n_rec)``) are kept only with ``record="trajectory"``.

Divergence: every ``check_every`` steps the solver checks ``max |x| <= threshold`` (NaN
and inf fail it). On failure it raises :class:`~theorykit.errors.DivergenceError` with
the step (``on_divergence="raise"``), or stops and returns a result with
``diverged_step`` set (``on_divergence="flag"``), which claims report as "diverged at
step k".
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch

from theorykit.errors import DivergenceError, InputError
from theorykit.limits import check_memory
from theorykit.validate import finite_float, positive_float, positive_int

Tensor = torch.Tensor
DriftFn = Callable[[float, Tensor], Tensor]
DiffusionFn = Callable[[float, Tensor], Tensor]
StatFn = Callable[[Tensor], Tensor]
Record = None | Literal["trajectory"] | Mapping[str, StatFn] | Callable[[float, Tensor], Any]
NoiseType = Literal["diagonal", "general"]

__all__ = [
    "AbstractSolver",
    "EulerMaruyama",
    "Milstein",
    "SolveResult",
    "get_solver",
    "solve",
]


@dataclass
class SolveResult:
    """The outcome of :meth:`AbstractSolver.solve`.

    ``steps``/``t``: step indices and times of the recorded points (step 0 = ``t0`` and the
    last step are always recorded). ``mean``/``se``: for a mapping ``record``, the mean and
    standard error across paths of each statistic at each recorded point (tensors of shape
    ``(n_rec,)``). ``records``: for a callable ``record``, whatever it returned at each
    point (stacked when tensors). ``trajectory``: ``(n_rec, P, d)`` for
    ``record="trajectory"``. ``x``: the final state ``(P, d)`` (the last finite state if the
    solve diverged and ``on_divergence="flag"``).
    """

    x: Tensor
    steps: list[int]
    t: list[float]
    dt: float
    n_steps: int
    mean: dict[str, Tensor] = field(default_factory=dict)
    se: dict[str, Tensor] = field(default_factory=dict)
    records: Any = None
    trajectory: Tensor | None = None
    diverged_step: int | None = None
    noise_type: str = ""

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None

    @property
    def paths(self) -> int:
        return int(self.x.shape[0])


class AbstractSolver(abc.ABC):
    """A fixed-step Itô SDE solver. Subclasses declare ``name``, ``strong_order``,
    ``weak_order`` and ``noise_types`` (checked when the class is created) and implement
    :meth:`step`."""

    name: ClassVar[str]
    strong_order: ClassVar[float]
    """Strong order for general multiplicative noise (mean-square pathwise error)."""
    weak_order: ClassVar[float]
    """Weak order (error of expectations of smooth test functions)."""
    noise_types: ClassVar[tuple[str, ...]]
    """Noise shapes accepted: ``"diagonal"`` and/or ``"general"``."""

    _REQUIRED: ClassVar[tuple[str, ...]] = ("name", "strong_order", "weak_order", "noise_types")

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not getattr(cls, "__abstractmethods__", None):
            missing = [a for a in cls._REQUIRED if not hasattr(cls, a)]
            if missing:
                raise TypeError(f"solver {cls.__name__} must declare {missing}")

    # ------------------------------------------------------------------ one step
    @abc.abstractmethod
    def step(self, drift: DriftFn, diffusion: DiffusionFn, t: float, x: Tensor, dt: float,
             dW: Tensor, noise_type: NoiseType, scale: float = 1.0) -> Tensor:
        """Return ``X_{n+1}`` from ``X_n = x`` at time ``t`` with step ``dt`` and Brownian
        increment ``scale * dW`` (``dW`` of shape ``(P, d)`` diagonal, ``(P, m)`` general;
        the solver passes unit normals with ``scale = sqrt(dt)`` so the scaling fuses into
        the update kernels). Must not modify ``x`` in place."""

    # ------------------------------------------------------------------ the loop
    def solve(
        self,
        drift: DriftFn,
        diffusion: DiffusionFn,
        x0: Tensor,
        t0: float,
        t1: float,
        dt: float,
        *,
        generator: torch.Generator | None = None,
        record: Record = None,
        record_every: int = 1,
        noise_type: NoiseType | None = None,
        increments: Callable[[int, tuple[int, ...]], Tensor] | None = None,
        on_divergence: Literal["raise", "flag"] = "raise",
        threshold: float = 1e12,
        check_every: int = 1,
    ) -> SolveResult:
        """Integrate from ``t0`` to ``t1`` with fixed step ``dt`` (the last step is
        shortened if ``dt`` does not divide ``t1 - t0``).

        ``x0``: ``(P, d)`` initial states (one per path; its dtype and device are used
        throughout). ``generator``: a ``torch.Generator`` on ``x0``'s device (reproducible
        increments). ``record``: ``None`` (final state only), ``"trajectory"``, a mapping
        ``{name: fn(x) -> (P,)}`` (mean and SE across paths kept), or a callable
        ``fn(t, x)`` whose returns are kept. ``increments(k, shape)``: supply the Brownian
        increment of step ``k`` yourself (e.g. a shared fine Brownian path for strong-error
        tests); it must already include ``sqrt(dt)``.
        """
        _check_solve_args(x0, t0, t1, dt, record_every, check_every, threshold, on_divergence)
        span = float(t1) - float(t0)
        n_steps = max(1, math.ceil(span / dt - 1e-9))
        P = x0.shape[0]
        item = x0.element_size()
        n_rec = n_steps // int(record_every) + 2
        traj = n_rec * P * x0.shape[-1] if record == "trajectory" else 0
        check_memory(f"{self.name} solve ({P} paths x d={x0.shape[-1]}, {n_steps} steps"
                     f"{', trajectory kept' if traj else ''})",
                     item * (6 * P * x0.shape[-1] + traj))
        x = x0
        g0 = diffusion(float(t0), x)
        nt = _noise_type(g0, x, noise_type)
        if nt == "general":  # each step builds a fresh (P|1) x d x m matrix, and a product
            check_memory(f"{self.name} solve: general-noise diffusion of shape "
                         f"{tuple(g0.shape)} per step", 3 * item * _stored_numel(g0))
        if nt not in self.noise_types:
            raise InputError(f"{self.name} does not support {nt} noise "
                             f"(supports: {', '.join(self.noise_types)})")
        m = x.shape[-1] if nt == "diagonal" else g0.shape[-1]
        noise_shape = (P, m)
        buf = torch.empty(noise_shape, dtype=x.dtype, device=x.device)

        rec = _Recorder(record, n_steps, record_every, x)
        rec.add(0, float(t0), x)
        diverged: int | None = None
        last_ok = x
        for k in range(n_steps):
            t = float(t0) + k * dt
            h = dt if k < n_steps - 1 else float(t1) - t
            if increments is not None:
                dW, scale = increments(k, noise_shape), 1.0
            else:
                dW, scale = torch.randn(noise_shape, generator=generator, out=buf), math.sqrt(h)
            x = self.step(drift, diffusion, t, x, h, dW, nt, scale)
            kk = k + 1
            wanted = rec.wants(kk)
            if wanted or kk % check_every == 0 or kk == n_steps:
                lo, hi = torch.aminmax(x)  # one pass; NaN fails both comparisons
                lo, hi = float(lo), float(hi)
                mx = max(abs(lo), abs(hi))
                if not (-lo <= threshold and hi <= threshold):
                    diverged = kk
                    if on_divergence == "raise":
                        raise DivergenceError(
                            f"{self.name} solve diverged (max |x| = {mx:.3g} > {threshold:g}"
                            f"{'' if check_every == 1 else f', checked every {check_every}'})",
                            step=kk)
                    x = last_ok
                    break
                last_ok = x
            if wanted:
                rec.add(kk, float(t0) + kk * dt if kk < n_steps else float(t1), x)
        res = rec.result(x, dt, n_steps, nt, float(t1))
        res.diverged_step = diverged
        return res


# ---------------------------------------------------------------------- the solvers
class EulerMaruyama(AbstractSolver):
    r"""Euler–Maruyama: :math:`X_{n+1} = X_n + b(t_n, X_n)\,h + G(t_n, X_n)\,\Delta W_n`.

    Diagonal noise: ``G ΔW`` is the element-wise product ``g * dW``; general noise:
    the batched matrix–vector product ``G @ dW`` (a single GEMM when ``G`` is the same for
    every path, shape ``(1, d, m)``). Strong order 1/2 (1 for additive noise), weak order 1
    (Kloeden & Platen 1992, Thms 10.2.2, 14.5.1) [recalled; measured in the tests].
    """

    name = "euler"
    strong_order = 0.5
    weak_order = 1.0
    noise_types = ("diagonal", "general")

    def step(self, drift, diffusion, t, x, dt, dW, noise_type, scale=1.0):
        b = drift(t, x)
        g = diffusion(t, x)
        if noise_type == "diagonal":
            out = torch.addcmul(x, g, dW, value=scale)
        else:
            out = _add_matvec(x, g, dW, scale)
        return out.add_(b, alpha=dt)


class Milstein(AbstractSolver):
    r"""Milstein for diagonal noise (Itô):

    .. math:: X_{n+1,i} = X_{n,i} + b_i h + g_i \Delta W_i
              + \tfrac12 g_i\,\partial_{x_i} g_i\,(\Delta W_i^2 - h).

    Valid when :math:`g_i` depends on :math:`x_i` only (diagonal, hence commutative,
    noise). The derivative :math:`\partial_{x_i} g_i` comes from, in order of preference:

    * ``diffusion_dx(t, x) -> (P, d)`` given to the constructor (exact);
    * ``derivative="autograd"`` (default): ``torch.autograd.grad(g.sum(), x)``, which equals
      :math:`\partial_{x_i} g_i` under the diagonal assumption (one extra backward pass);
    * ``derivative="fd"``: the derivative-free form of Platen (Kloeden & Platen 1992,
      eq. 11.1.5) :math:`g\,\partial g \approx (g(x + b h + g\sqrt h) - g(x))/\sqrt h`,
      same strong order 1.

    Strong order 1, weak order 1 (Kloeden & Platen 1992, Thm 10.3.5) [recalled; measured
    in the tests].
    """

    name = "milstein"
    strong_order = 1.0
    weak_order = 1.0
    noise_types = ("diagonal",)

    def __init__(self, diffusion_dx: DiffusionFn | None = None,
                 derivative: Literal["autograd", "fd"] = "autograd") -> None:
        if derivative not in ("autograd", "fd"):
            raise InputError(f"Milstein derivative must be 'autograd' or 'fd', got {derivative!r}")
        self.diffusion_dx = diffusion_dx
        self.derivative = derivative

    def step(self, drift, diffusion, t, x, dt, dW, noise_type, scale=1.0):
        if scale != 1.0:
            dW = dW * scale
        b = drift(t, x)
        if self.diffusion_dx is not None:
            g = diffusion(t, x)
            ggp = g * self.diffusion_dx(t, x)
        elif self.derivative == "autograd":
            with torch.enable_grad():
                xr = x.detach().requires_grad_(True)
                gr = diffusion(t, xr)
                if gr.requires_grad:
                    (gp,) = torch.autograd.grad(gr.sum(), xr)
                else:
                    gp = torch.zeros_like(x)
            g = gr.detach()
            ggp = g * gp
        else:
            g = diffusion(t, x)
            sq = math.sqrt(dt)
            ggp = (diffusion(t, x + b * dt + g * sq) - g) / sq
        out = torch.addcmul(x, g, dW)
        out.add_(b, alpha=dt)
        return out.addcmul_(0.5 * ggp, dW * dW - dt)


_SOLVERS: dict[str, type[AbstractSolver]] = {"euler": EulerMaruyama, "milstein": Milstein}


def get_solver(name: str | AbstractSolver, **kw: Any) -> AbstractSolver:
    """A solver instance by name (``"euler"``, ``"milstein"``) or pass one through."""
    if isinstance(name, AbstractSolver):
        return name
    try:
        return _SOLVERS[name](**kw)
    except KeyError:
        raise InputError(f"unknown solver {name!r}; known: {', '.join(_SOLVERS)}") from None


def solve(drift: DriftFn, diffusion: DiffusionFn, x0: Tensor, t0: float, t1: float, dt: float,
          *, method: str | AbstractSolver = "euler", **kw: Any) -> SolveResult:
    """Shorthand for ``get_solver(method).solve(drift, diffusion, x0, t0, t1, dt, **kw)``."""
    return get_solver(method).solve(drift, diffusion, x0, t0, t1, dt, **kw)


# ---------------------------------------------------------------------- helpers
def _add_matvec(x: Tensor, g: Tensor, dW: Tensor, scale: float) -> Tensor:
    """``x + scale * G @ dW`` for ``G`` of shape ``(P|1, d, m)`` and ``dW`` of shape
    ``(P, m)`` in one kernel; a matrix shared by all paths (leading size 1, or expanded
    with stride 0) is one GEMM."""
    if g.shape[0] == 1 or g.stride(0) == 0:
        return torch.addmm(x, dW, g[0].transpose(0, 1), alpha=scale)
    return torch.baddbmm(x.unsqueeze(-1), g, dW.unsqueeze(-1), alpha=scale).squeeze(-1)


def _stored_numel(t: Tensor) -> int:
    """Elements a tensor really holds: a broadcast view (``expand``: stride 0) of a constant
    d x m diffusion over P paths stores d·m numbers, not P·d·m."""
    return math.prod(n for n, st in zip(t.shape, t.stride(), strict=True) if st != 0)


def _noise_type(g: Tensor, x: Tensor, forced: str | None) -> NoiseType:
    if not isinstance(g, torch.Tensor):
        raise InputError(f"diffusion must return a torch.Tensor, got {type(g).__name__}")
    if g.ndim == x.ndim:
        nt: NoiseType = "diagonal"
    elif g.ndim == x.ndim + 1:
        nt = "general"
    else:
        raise InputError(f"diffusion returned shape {tuple(g.shape)}; expected (P, d) for "
                         f"diagonal or (P, d, m) for general noise with x of shape "
                         f"{tuple(x.shape)}")
    if forced is not None and forced != nt:
        raise InputError(f"noise_type={forced!r} but diffusion returned shape "
                         f"{tuple(g.shape)} ({nt} noise)")
    if g.shape[-1 if nt == "diagonal" else -2] != x.shape[-1]:
        raise InputError(f"diffusion shape {tuple(g.shape)} does not match d = {x.shape[-1]}")
    return nt


def _check_solve_args(x0, t0, t1, dt, record_every, check_every, threshold, on_divergence):
    """The arguments of :meth:`AbstractSolver.solve`, checked before any work (the number
    checks are :mod:`theorykit.validate`'s)."""
    if not isinstance(x0, torch.Tensor) or x0.ndim != 2:
        raise InputError("x0 must be a torch.Tensor of shape (paths, d)")
    finite_float("t0", t0)
    finite_float("t1", t1)
    positive_float("dt", dt)
    if not t1 > t0:
        raise InputError(f"t1 must be > t0, got t0={t0!r}, t1={t1!r}")
    positive_int("record_every", record_every)
    positive_int("check_every", check_every)
    if not threshold > 0:
        raise InputError(f"threshold must be > 0, got {threshold!r}")
    if on_divergence not in ("raise", "flag"):
        raise InputError(f"on_divergence must be 'raise' or 'flag', got {on_divergence!r}")


class _Recorder:
    """Keeps only what ``record`` asks for (see :meth:`AbstractSolver.solve`)."""

    def __init__(self, record: Record, n_steps: int, every: int, x: Tensor) -> None:
        self.record = record
        self.every = every
        self.n_steps = n_steps
        self.steps: list[int] = []
        self.t: list[float] = []
        n_rec = n_steps // every + 2
        self.kind = ("none" if record is None else "trajectory" if record == "trajectory"
                     else "stats" if isinstance(record, Mapping) else "callable")
        if self.kind not in ("none", "trajectory", "stats") and not callable(record):
            raise InputError("record must be None, 'trajectory', a mapping of statistics or "
                             "a callable")
        self.rows: list[Any] = []
        if self.kind == "stats":
            self.mean = {k: torch.empty(n_rec, dtype=torch.float64, device=x.device)
                         for k in record}  # type: ignore[union-attr]
            self.se = {k: torch.empty(n_rec, dtype=torch.float64, device=x.device)
                       for k in record}  # type: ignore[union-attr]

    def wants(self, k: int) -> bool:
        return self.kind != "none" and (k % self.every == 0 or k == self.n_steps)

    def add(self, k: int, t: float, x: Tensor) -> None:
        if self.kind == "none":
            return
        j = len(self.steps)
        self.steps.append(k)
        self.t.append(t)
        if self.kind == "trajectory":
            self.rows.append(x.detach().clone())
        elif self.kind == "stats":
            n = x.shape[0]
            for name, fn in self.record.items():  # type: ignore[union-attr]
                v = fn(x).to(torch.float64)
                self.mean[name][j] = v.mean()
                self.se[name][j] = (v.std() / math.sqrt(n)) if n > 1 else float("nan")
        else:
            self.rows.append(self.record(t, x))  # type: ignore[operator]

    def result(self, x: Tensor, dt: float, n_steps: int, nt: str, t1: float) -> SolveResult:
        if self.kind == "none":
            self.steps, self.t = [n_steps], [t1]
        res = SolveResult(x=x, steps=self.steps, t=self.t, dt=dt, n_steps=n_steps,
                          noise_type=nt)
        j = len(self.steps)
        if self.kind == "trajectory":
            res.trajectory = torch.stack(self.rows)
        elif self.kind == "stats":
            res.mean = {k: v[:j] for k, v in self.mean.items()}
            res.se = {k: v[:j] for k, v in self.se.items()}
        elif self.kind == "callable":
            rows = self.rows
            res.records = torch.stack(rows) if rows and isinstance(rows[0], Tensor) else rows
        return res
