"""Distributed compressed gradient methods with biased compressors: DCGD, EF and EF21.

All three run in torch, vectorised over ``R`` replicas and ``N`` workers: gradients have
shape ``(R, N, d)`` and one call of ``spec.apply`` compresses every (replica, worker) row
independently. Each method is a pair of small functions in the style of optax,
``init(grads0) -> state`` and ``update(state, grads, eta, generator) -> (delta, state)``,
and the iterate moves by ``x⁺ = x - delta``.

* **DCGD** (no memory; Beznosikov et al., JMLR 24(276), 2023, Section 4 [recalled]):

  .. math:: x^{k+1} = x^k - \\eta\\,\\tfrac1n \\textstyle\\sum_i \\mathcal C(g_i^k).

* **EF** (error feedback, the Stich–Karimireddy form analysed by Beznosikov et al. 2023,
  Section 5 [recalled]; digest §1.5): with ``e_i⁰ = 0``,

  .. math:: v_i^k = \\mathcal C(e_i^k + \\eta g_i^k),\\quad
            e_i^{k+1} = e_i^k + \\eta g_i^k - v_i^k,\\quad
            x^{k+1} = x^k - \\tfrac1n \\textstyle\\sum_i v_i^k.

* **EF21** (Richtárik, Sokolov, Fatkhullin, *EF21: A New, Simpler, Theoretically Better,
  and Practically Faster Error Feedback*, NeurIPS 2021, Algorithm 1 [recalled]):

  .. math:: x^{k+1} = x^k - \\eta\\, \\tfrac1n \\textstyle\\sum_i g_i^k,\\quad
            g_i^{k+1} = g_i^k + \\mathcal C(\\nabla f_i(x^{k+1}) - g_i^k),

  with ``g_i⁰ = ∇f_i(x⁰)`` (``init="full"``, default) or ``C(∇f_i(x⁰))``
  (``init="compressed"``). With stochastic gradients the same update is EF21-SGD.

Local functions: the problem lives in :mod:`theorykit.problems`
(:class:`~theorykit.problems.LocalQuadratics`, registered as ``local_quadratics``:
``f_i(x) = ½ xᵀ A_i x - b_iᵀ x + c_i`` with exact μ, L, minimiser, ``f*`` and the
heterogeneity ``D = (1/n) Σ ||∇f_i(x*)||²``; re-exported here). :func:`run` reads the
workers' gradients from its :meth:`~theorykit.problems.LocalQuadratics.worker_grads`;
stochastic gradients add ``ξ_i ~ N(0, (C/d) I)``, so that ``E||g_i - ∇f_i||² = C`` exactly
(the constant ``C`` of the EF rate). :func:`run` drives any method and records
``f(x^k) - f*``, ``||x^k - x*||²`` and, optionally, the weighted average of the EF rate.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from theorykit.compressors.base import CompressorSpec
from theorykit.errors import InputError
from theorykit.methods.base import Method
from theorykit.methods.dcsgd import DCSGD
from theorykit.methods.ef import EF as EFMethod
from theorykit.methods.ef21 import EF21 as EF21Method
from theorykit.problems import LocalQuadratics
from theorykit.run.loop import MethodStep, iterate
from theorykit.validate import nonneg_float, positive_int

Tensor = torch.Tensor

__all__ = [
    "DCGD",
    "EF",
    "EF21",
    "RunResult",
    "one_thread",
    "run",
    "single_thread_if_small",
]


# --------------------------------------------------------------------------- methods
def _check_comp(comp: Any) -> None:
    ok = isinstance(comp, CompressorSpec) or (
        isinstance(comp, Sequence) and comp and all(isinstance(c, CompressorSpec) for c in comp))
    if not ok:
        raise InputError("compressor must be a CompressorSpec or a list of one per worker")


class _Optax:
    """The ``init(grads0) -> state``, ``update(state, grads, eta) -> (delta, state)`` view of
    a registered :class:`~theorykit.methods.base.Method` (the worker step, the server step
    and the displacement of :class:`theorykit.run.loop.MethodStep`). The state is the
    workers' state dict with the server's under ``"server"``."""

    method: Method
    compressor: CompressorSpec | Sequence[CompressorSpec]

    def __post_init__(self) -> None:
        _check_comp(self.compressor)
        self.method = self._build()

    def _build(self) -> Method:
        """The registered method this view drives (set as ``self.method``)."""
        raise NotImplementedError

    def init(self, grads0: Tensor, generator: torch.Generator | None = None) -> dict:
        return {**(self.method.init_worker(grads0, generator) or {}), "server": None}

    def update(self, state: dict, grads: Tensor, eta: float | Tensor,
               generator: torch.Generator | None = None) -> tuple[Tensor, dict]:
        m = self.method
        worker = {k: v for k, v in state.items() if k != "server"} or None
        msg, worker = m.worker_step(worker, grads, generator, lr=eta)
        D, server = m.server_step(msg, state["server"])
        return m.displacement(D, eta), {**(worker or {}), "server": server}


@dataclass
class DCGD(_Optax):
    """Distributed compressed GD without memory (:class:`~theorykit.methods.DCSGD` with a
    possibly biased compressor): delta = η (1/n) Σ C(g_i)."""

    compressor: CompressorSpec | Sequence[CompressorSpec]
    name: str = "DCGD"

    def _build(self) -> Method:
        return DCSGD(self.compressor)


@dataclass
class EF(_Optax):
    """Error feedback (:class:`theorykit.methods.ef.EF`): v_i = C(e_i + η g_i),
    e_i <- e_i + η g_i - v_i, delta = (1/n) Σ v_i."""

    compressor: CompressorSpec
    name: str = "EF"

    def _build(self) -> Method:
        return EFMethod(self.compressor)


@dataclass
class EF21(_Optax):
    """EF21 (:class:`theorykit.methods.ef21.EF21`): g_i <- g_i + C(∇f_i(x) - g_i);
    delta = η (1/n) Σ g_i."""

    compressor: CompressorSpec
    init_mode: Literal["full", "compressed"] = "full"
    name: str = "EF21"

    def _build(self) -> Method:
        return EF21Method(self.compressor, self.init_mode)


# --------------------------------------------------------------------------- driver
SMALL_NUMEL = 1 << 20
"""Below this many elements per state tensor, :func:`run` uses one torch thread: on tiny
tensors intra-op threading only adds synchronisation (measured 20x slower on a loaded
2-core machine)."""


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block (or, as ``@one_thread()``, the function) with one torch intra-op
    thread and restore the previous setting: small batched tensors run fastest that way and
    leave the other core to other work."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@contextlib.contextmanager
def single_thread_if_small(numel: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(1)`` if ``numel < SMALL_NUMEL``
    (restored afterwards)."""
    if numel >= SMALL_NUMEL:
        yield
        return
    with one_thread():
        yield


@dataclass
class RunResult:
    """What :func:`run` records (numpy arrays; replicas along axis 0)."""

    steps: np.ndarray
    """Recorded iteration indices k (x^k)."""
    gap: np.ndarray
    """f(x^k) - f*, shape (R, T)."""
    dist: np.ndarray
    """||x^k - x*||², shape (R, T)."""
    x: Tensor
    """Final iterate (R, d)."""
    gap_avg: np.ndarray | None = None
    """f(x̄) - f* of the weighted average (EF rate's x̄^K), shape (R,), if requested."""
    diverged_at: int | None = None
    bits_per_message: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    gap_avg_path: np.ndarray | None = None
    """f(x̄^k) - f* at the recorded steps (column j is k = ``steps[j]``; x̄^k averages
    x^0..x^{k-1}, x̄^0 = x^0), shape (R, T), if ``average_q`` is given; the last column is
    ``gap_avg``."""


def run(method: DCGD | EF | EF21 | Method, problem: LocalQuadratics, *, x0: Any, eta: float |
        Callable[[int], float], steps: int, replicas: int = 1, noise: float = 0.0,
        generator: torch.Generator | None = None, record_every: int = 1,
        average_q: float | None = None, blowup: float = 1e150) -> RunResult:
    """Run ``method`` (DCGD, EF, EF21 or any registered :class:`Method`, e.g. DIANA) for
    ``steps`` iterations on ``problem`` from ``x0`` ((d,) or (R, d)), through the one loop
    :func:`theorykit.run.loop.iterate`.

    ``noise = C`` adds ``ξ_i ~ N(0, (C/d) I)`` to each local gradient (E||ξ_i||² = C).
    ``average_q`` (in (0, 1)) also tracks the weighted average x̄ = Σ_k w_k x^k / Σ_k w_k,
    w_k = q^{-(k+1)}, over k = 0..steps-1 — the EF rate's average with ``q = 1 - μη/2``.
    A run whose gap exceeds ``blowup`` or turns non-finite stops; the rest is NaN and
    ``diverged_at`` is the step."""
    with single_thread_if_small(replicas * problem.n_workers * problem.dim):
        return _run(method, problem, x0=x0, eta=eta, steps=steps, replicas=replicas,
                    noise=noise, generator=generator, record_every=record_every,
                    average_q=average_q, blowup=blowup)


def _run(method: DCGD | EF | EF21 | Method, problem: LocalQuadratics, *, x0: Any, eta: float |
         Callable[[int], float], steps: int, replicas: int, noise: float,
         generator: torch.Generator | None, record_every: int, average_q: float | None,
         blowup: float) -> RunResult:
    """See :func:`run`."""
    steps = positive_int("steps", steps)
    replicas = positive_int("replicas", replicas)
    nonneg_float("noise (the constant C)", noise)
    record_every = positive_int("record_every", record_every)
    if average_q is not None and not 0 < average_q < 1:
        raise InputError(f"average_q must be in (0, 1), got {average_q}")
    eta_fn = eta if callable(eta) else (lambda k, e=float(eta): e)
    d = problem.dim
    dt, dev = problem.A.dtype, problem.A.device
    x = torch.as_tensor(x0, dtype=dt, device=dev)
    if x.ndim == 1 and x.shape[0] == d:
        x = x[None].expand(replicas, d).clone()
    if x.shape != (replicas, d):
        raise InputError(f"x0 must have shape ({d},) or ({replicas}, {d}), got "
                         f"{tuple(x.shape)}")
    sd = math.sqrt(noise / d)

    def stoch_grads(xx: Tensor) -> Tensor:
        g = problem.worker_grads(xx)
        if noise > 0:
            g = g + sd * torch.randn(g.shape, generator=generator, dtype=dt, device=dev)
        return g

    rec = list(range(0, steps + 1, record_every))
    if rec[-1] != steps:
        rec.append(steps)
    gaps = np.full((replicas, len(rec)), np.nan)
    dists = np.full((replicas, len(rec)), np.nan)
    pos = {k: j for j, k in enumerate(rec)}
    xbar = [x.clone()] if average_q is not None else None
    avg_gaps = np.full((replicas, len(rec)), np.nan) if xbar is not None else None

    def observe(k: int, xk: Tensor) -> bool:
        stop = False
        if k in pos:
            j = pos[k]
            gap = problem.gap(xk)
            gaps[:, j] = gap.cpu().numpy()
            dists[:, j] = ((xk - problem.x_star) ** 2).sum(-1).cpu().numpy()
            if avg_gaps is not None:
                # here x̄ averages x^0..x^{k-1} (x^0 at k = 0): the x̄^k of the EF rate
                avg_gaps[:, j] = problem.gap(xbar[0]).cpu().numpy()
            stop = not torch.isfinite(gap).all() or float(gap.max()) > blowup
        if not stop and xbar is not None and 0 < k < steps:
            q = average_q
            xbar[0] = xbar[0] + (1 - q) / (1 - q ** (k + 1)) * (xk - xbar[0])
        return stop

    m = method.method if isinstance(method, _Optax) else method
    step = MethodStep(m, stoch_grads, lambda k, g: eta_fn(k), generator)
    x, diverged = iterate(step, x, steps, observe=observe)
    gap_avg = None
    if xbar is not None and diverged is None:
        gap_avg = problem.gap(xbar[0]).cpu().numpy()
    comp = getattr(method, "compressor", None)
    if comp is None:
        comp = getattr(m, "compressors", [None])
    spec = comp if isinstance(comp, CompressorSpec) else comp[0]
    try:
        bits = spec.numeric_bits(d)
    except (InputError, TypeError, ValueError, AttributeError):
        bits = None
    return RunResult(np.array(rec), gaps, dists, x, gap_avg, diverged, bits,
                     gap_avg_path=avg_gaps)
