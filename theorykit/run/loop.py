r"""The one discrete run loop and the one method step.

:func:`iterate` is the loop every discrete run goes through (:func:`theorykit.run.run_discrete`,
:func:`theorykit.methods.biased.run`, :func:`theorykit.run.quantized.run_quantized_sgd`,
:func:`theorykit.run.guarded.guarded_run`):

.. code-block:: text

    observe(0, X)
    for k in 0..steps-1:
        Xn = step(k, X)                  # one step of the method (or of an SDE solver)
        X, stop = guard(k + 1, X, Xn)    # divergence policy: stop, raise or freeze replicas
        observe(k + 1, X)                # record statistics; may ask to stop

:class:`MethodStep` is the ``step`` of a :class:`~theorykit.methods.base.Method`, batched over
replicas and workers: a stochastic-gradient oracle gives ``grads (R, N, d)``, the workers'
step turns them into messages (carrying worker state), the server step into a direction
(carrying server state), and ``X - displacement(D, lr)`` is the next iterate. The order of
random draws is: the oracle's noise, then the method's (compressor) draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from theorykit.errors import DivergenceError

__all__ = ["FreezeDiverged", "MethodStep", "StopOnThreshold", "iterate"]

Tensor = torch.Tensor
Step = Callable[[int, Tensor], Tensor]
Guard = Callable[[int, Tensor, Tensor], tuple[Tensor, bool]]
Observe = Callable[[int, Tensor], bool | None]


def accept(k: int, X: Tensor, Xn: Tensor) -> tuple[Tensor, bool]:
    """The default guard: take every step."""
    return Xn, False


def iterate(step: Step, X: Tensor, steps: int, *, guard: Guard = accept,
            observe: Observe | None = None) -> tuple[Tensor, int | None]:
    """Run ``steps`` steps from ``X``; returns (last accepted X, step at which the guard or
    the observer stopped the run, or None)."""
    if observe is not None and observe(0, X):
        return X, 0
    for k in range(steps):
        Xn = step(k, X)
        X, stop = guard(k + 1, X, Xn)
        if stop:
            return X, k + 1
        if observe is not None and observe(k + 1, X):
            return X, k + 1
    return X, None


class StopOnThreshold:
    """Stop every replica at the first step where some ``|x_j|`` leaves ``threshold`` (or
    is not finite), keeping the last state; ``raise_error`` raises
    :class:`~theorykit.errors.DivergenceError` instead. ``diverged`` is that step."""

    def __init__(self, threshold: float, what: str, raise_error: bool = False) -> None:
        self.threshold, self.what, self.raise_error = threshold, what, raise_error
        self.diverged: int | None = None

    def __call__(self, k: int, X: Tensor, Xn: Tensor) -> tuple[Tensor, bool]:
        mx = float(Xn.abs().amax())
        if mx <= self.threshold:
            return Xn, False
        self.diverged = k
        if self.raise_error:
            raise DivergenceError(f"{self.what} diverged (max |x| = {mx:.3g})", step=k)
        return X, True


class FreezeDiverged:
    """Freeze each replica at its last state once it leaves ``threshold`` (or turns
    non-finite); ``diverged_at[r]`` is the step (-1: never) and ``alive`` the survivors."""

    def __init__(self, replicas: int, threshold: float) -> None:
        self.threshold = threshold
        self.diverged_at = torch.full((replicas,), -1, dtype=torch.long)
        self.alive = torch.ones(replicas, dtype=torch.bool)

    def __call__(self, k: int, X: Tensor, Xn: Tensor) -> tuple[Tensor, bool]:
        bad = self.alive & ~(torch.isfinite(Xn).all(-1) & (Xn.abs().amax(-1) <= self.threshold))
        self.diverged_at[bad] = k
        self.alive &= ~bad
        return torch.where(self.alive.unsqueeze(-1), Xn, X), False


class MethodStep:
    """``step(k, X)`` of a method: ``grads = oracle(X)`` (shape (R, N, d)), worker step,
    server step, ``X - displacement(D, lr(k, grads))``.

    ``lr(k, grads)`` gives the step size (a float, or a per-replica ``(R,)`` tensor for a
    gradient-normalized schedule). The worker state is initialised from the first
    gradients (:meth:`~theorykit.methods.base.Method.init_worker`); ``worker_state`` and
    ``server_state`` are readable between steps; ``grads`` is the last oracle output."""

    def __init__(self, method: Any, oracle: Callable[[Tensor], Tensor],
                 lr: Callable[[int, Tensor], float | Tensor],
                 generator: torch.Generator | None) -> None:
        self.method, self.oracle, self.lr, self.generator = method, oracle, lr, generator
        self.worker_state: Any = None
        self.server_state: Any = None
        self.started = False
        self.grads: Tensor | None = None
        self.send = method.sender(generator)

    def start(self, grads: Tensor) -> None:
        """Initialise the worker state from the first gradients."""
        self.worker_state = self.method.init_worker(grads, self.generator)
        self.started = True

    def direction(self, k: int, grads: Tensor) -> tuple[Tensor, float | Tensor]:
        """(direction, step size) of step k at ``grads`` (advancing the method's state)."""
        if not self.started:
            self.start(grads)
        m = self.method
        lr = self.lr(k, grads)
        msg, self.worker_state = m.worker_step(self.worker_state, grads, self.generator,
                                               lr=lr, send=self.send)
        D, self.server_state = m.server_step(msg, self.server_state)
        return D, lr

    def __call__(self, k: int, X: Tensor) -> Tensor:
        self.grads = grads = self.oracle(X)
        D, lr = self.direction(k, grads)
        return X - self.method.displacement(D, lr)
