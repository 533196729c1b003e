r"""The method interface: one discrete update rule, a worker/server torch face and a
symbolic face.

A :class:`Method` is a distributed first-order update with N workers,

.. math:: x_{k+1} = x_k - \eta_k\, D(g_1, \dots, g_N), \qquad g_i = \nabla f(x_k) + Z_i,

written once and used by every reader:

* **torch face** -- a *worker step* :meth:`Method.worker_step` maps (worker state, the
  stochastic gradients ``grads``, a generator) to (message, new worker state), and a
  *server step* :meth:`Method.server_step` maps (messages, server state) to (direction D,
  new server state); the driver moves ``x -= displacement(D, eta)`` (``eta * D`` except for
  methods whose messages already carry the step, such as EF). Tensors are batched: the
  simulator passes ``grads`` of shape ``(R, N, d)`` (R replicas, N workers) and messages
  are averaged over axis ``-2``; the torch.distributed trainer passes one rank's ``(d,)``
  gradient and hands the server the wire's mean message as ``(1, d)``. What crosses the
  wire goes through ``send(v, dense=False)``: in the simulator it is the method's
  compressor (:meth:`Method.compress`), in the trainer the real codec exchange.
  :meth:`Method.direction` is the one-shot stateless step ``(R, N, d) -> (R, d)``.
* **symbolic face** -- :meth:`Method.moments` gives the mean and covariance of D for one step
  at a gradient ``g`` (a SymPy column), a :class:`~theorykit.noise.NoiseModel`, N and B,
  with the assumptions used. This is exactly what :func:`theorykit.sde.derive.derive`
  consumes: drift = -mean, diffusion covariance = cov (Compagnoni et al., AISTATS 2025,
  Sec. 2; the moment-matching construction of Li, Tai & E 2017/2019, *recalled*).

``n_workers`` may be a SymPy symbol when every worker is alike (homogeneous noise and
compressor); the sums over workers then become ``N * term``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sympy as sp
import torch

from theorykit.errors import AssumptionError, InputError
from theorykit.noise import NoiseModel
from theorykit.noise.base import check_batch
from theorykit.validate import positive_int

__all__ = ["Method", "Send", "StepMoments", "as_column", "lr_like", "worker_sum"]

Tensor = torch.Tensor
Send = Callable[..., Tensor]
"""``send(v, dense=False) -> message``: what one worker puts on the wire (the compressed
``C(v)``, or ``v`` itself when ``dense``), as the receiver decodes it."""


def lr_like(lr: float | Tensor, t: Tensor) -> float | Tensor:
    """The step size broadcast against ``t``: a float as is, a per-replica ``(R,)`` tensor
    reshaped to ``(R, 1, ..., 1)`` (``t.ndim`` axes)."""
    if isinstance(lr, Tensor) and lr.ndim == 1:
        return lr.reshape(-1, *([1] * (t.ndim - 1)))
    return lr


@dataclass
class StepMoments:
    """Mean and covariance of one step's direction, with the assumptions behind them."""

    mean: sp.Matrix
    cov: sp.Matrix
    assumptions: list[str] = field(default_factory=list)

    @property
    def noise_type(self) -> str:
        """``"diagonal"`` if ``cov`` is diagonal, else ``"general"``."""
        return "diagonal" if self.cov.is_diagonal() else "general"


def as_column(grad: Any) -> sp.Matrix:
    """A gradient as a d x 1 SymPy column (accepts lists and row/column matrices)."""
    if isinstance(grad, sp.MatrixBase):
        m = sp.Matrix(grad)
        if m.shape[1] != 1:
            if m.shape[0] == 1:
                m = m.T
            else:
                raise InputError(f"gradient must be a column vector, got shape {m.shape}")
    else:
        try:
            m = sp.Matrix([sp.sympify(g) for g in grad])
        except (TypeError, sp.SympifyError):
            raise InputError(f"gradient must be a sequence of expressions, got {grad!r}") \
                from None
    if m.shape[0] < 1:
        raise InputError("gradient must have at least one coordinate")
    return m


def check_workers(n_workers: Any) -> sp.Expr:
    """N as a SymPy Integer (validated) or a symbol."""
    if isinstance(n_workers, sp.Basic) and not n_workers.is_number:
        return n_workers
    return sp.Integer(positive_int("number of workers N", n_workers))


def worker_sum(n_workers: sp.Expr, term: Callable[[int], sp.Matrix], *,
               homogeneous: bool = False) -> sp.Matrix:
    """sum_{i<N} term(i), or N * term(0) for a symbolic N or identical workers."""
    if n_workers.is_number and not homogeneous:
        total = term(0)
        for i in range(1, int(n_workers)):
            total = total + term(i)
        return total
    return n_workers * term(0)


class Method(abc.ABC):
    """A distributed update rule with a worker/server torch face and a symbolic face (see
    module doc). Subclasses set the class variables and implement :meth:`worker_step`;
    stateful ones also :meth:`init_worker` (and :meth:`server_step` if the server keeps
    state); those with a known SDE implement :meth:`moments`."""

    name: ClassVar[str]
    label: ClassVar[str] = ""
    """Display name (``"DCSGD"``); ``name`` is the registry key."""
    title: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    """The paper (and theorem) the method and its moments come from."""
    update_latex: ClassVar[str] = ""
    """The update in LaTeX (with g_i the stochastic gradient of worker i)."""
    stateful: ClassVar[bool] = False
    """Whether workers or the server carry memory between steps (EF, EF21, DIANA)."""
    needs_compressor: ClassVar[bool] = False
    """Whether the constructor takes a compressor as its first argument."""

    compressor: Any = None
    """The message codec (a :class:`~theorykit.compressors.base.CompressorSpec`) or None."""

    # ------------------------------------------------------------------ torch face
    def compress(self, v: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The simulator's message compressor ``C(v)`` (rows along the last axis); the
        identity when the method has no compressor."""
        if self.compressor is None:
            return v
        return self.compressor.apply(v, generator)

    @property
    def wire_compressor(self) -> Any:
        """The codec the torch.distributed trainer puts on the wire (None: a dense
        all-reduce)."""
        return self.compressor

    def sender(self, generator: torch.Generator | None) -> Send:
        """The simulator's ``send``: :meth:`compress` unless ``dense``."""

        def send(v: Tensor, dense: bool = False) -> Tensor:
            return v if dense else self.compress(v, generator)

        return send

    def init_worker(self, grads: Tensor, generator: torch.Generator | None = None) -> Any:
        """The workers' state before the first step, given the first stochastic gradients
        (``None`` for a memoryless method)."""
        return None

    @abc.abstractmethod
    def worker_step(self, state: Any, grads: Tensor, generator: torch.Generator | None = None,
                    *, lr: float | Tensor = 1.0, send: Send | None = None
                    ) -> tuple[Tensor, Any]:
        """(message, new worker state) from the workers' state and stochastic gradients.
        ``lr`` is the step size of this step (a float or a per-replica ``(R,)`` tensor; see
        :func:`lr_like`); ``send`` defaults to :meth:`sender`."""

    def server_step(self, messages: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """(direction, new server state) from the messages (workers on axis -2): their
        mean by default."""
        return messages.mean(dim=-2), state

    def displacement(self, direction: Tensor, lr: float | Tensor) -> Tensor:
        """The step ``x -> x - displacement``: ``lr * direction`` (overridden by methods
        whose messages already carry the step size)."""
        return lr_like(lr, direction) * direction

    def direction(self, grads: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Aggregated direction ``(R, d)`` from per-worker gradients ``(R, N, d)`` of a
        memoryless method (one worker step and one server step)."""
        grads = self._check_grads(grads)
        if self.stateful:
            raise InputError(f"{self.name} keeps state between steps: use worker_step and "
                             "server_step (or theorykit.run)")
        msg, _ = self.worker_step(None, grads, generator)
        return self.server_step(msg, None)[0]

    @staticmethod
    def _check_grads(grads: torch.Tensor) -> torch.Tensor:
        if not isinstance(grads, torch.Tensor) or grads.ndim != 3:
            shape = tuple(grads.shape) if isinstance(grads, torch.Tensor) else type(grads)
            raise InputError(f"grads must be a tensor of shape (R, N, d), got {shape}")
        return grads

    # ------------------------------------------------------------------ symbolic face
    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        """Mean, covariance and assumptions of one step's direction at gradient ``grad``
        (what :func:`theorykit.sde.derive` consumes). The default raises
        :class:`~theorykit.errors.AssumptionError`: no SDE is known for the method."""
        raise AssumptionError(f"{self.name}: no SDE is known for this method (it defines no "
                              "one-step moments)")

    @classmethod
    def has_sde(cls) -> bool:
        """Whether the class supplies one-step moments (an SDE derivation)."""
        return cls.moments is not Method.moments

    def with_compressor(self, compressor: Any) -> Method:
        """This method with another compressor (``derive(method, compressor)``); methods
        without one refuse."""
        if not self.needs_compressor:
            raise InputError(f"{self.name} takes no compressor")
        return type(self)(compressor)

    def may_be_dense(self) -> bool:
        """Whether the method's own covariance term may be a dense d x d matrix (the
        derivation's cost limit; the noise covariance is probed separately)."""
        return False

    compressor_names: Any = None
    """Names of the compressors in the SDE title (None: none)."""

    def cache_key(self) -> tuple:
        """A hashable description of this instance (the SDE derivation cache key)."""
        return (type(self).__module__, type(self).__qualname__, repr(self))

    def step_moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                     compressors: Any = None) -> tuple[sp.Matrix, sp.Matrix]:
        """``(mean, cov)`` of one step's direction (see :meth:`moments`)."""
        m = self.moments(grad, noise, n_workers, batch, compressors)
        return m.mean, m.cov

    def _setup(self, grad: Any, noise: NoiseModel, n_workers: Any,
               batch: Any) -> tuple[sp.Matrix, int, sp.Expr, sp.Expr]:
        if not isinstance(noise, NoiseModel):
            raise InputError(f"noise must be a NoiseModel, got {type(noise).__name__}")
        g = as_column(grad)
        n = check_workers(n_workers)
        noise.check_workers(n)
        b = check_batch(batch)
        return g, g.shape[0], n, b

    @staticmethod
    def _base_assumptions(noise: NoiseModel) -> list[str]:
        return [
            "each worker's stochastic gradient is unbiased for the global gradient: "
            "g_i = grad f(x) + Z_i, E Z_i = 0",
            f"noise independent across workers and steps ({noise.name})",
        ]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label or self.name, "title": self.title,
                "reference": self.reference, "update": self.update_latex,
                "stateful": self.stateful, "has_sde": self.has_sde()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def per_worker(items: Sequence[Any] | Any, what: str) -> list[Any]:
    """A list from a single item or a sequence (for per-worker compressors)."""
    if isinstance(items, list | tuple):
        if not items:
            raise InputError(f"empty list of {what}")
        return list(items)
    return [items]
