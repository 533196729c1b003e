r"""The method interface: one discrete update rule, two faces.

A :class:`Method` is a distributed first-order update with N workers,

.. math:: x_{k+1} = x_k - \eta_k\, D(g_1, \dots, g_N), \qquad g_i = \nabla f(x_k) + Z_i,

written once and used by every reader:

* **torch face** -- :meth:`Method.direction` maps the per-worker stochastic gradients
  ``grads`` of shape ``(R, N, d)`` (R independent replicas) to the aggregated direction D of
  shape ``(R, d)``; the simulation driver does ``x -= eta * direction``.
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

from theorykit.errors import InputError
from theorykit.noise import NoiseModel, _check_batch, _check_count

__all__ = ["Method", "StepMoments", "as_column", "worker_sum"]


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
    return sp.Integer(_check_count("number of workers N", n_workers))


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
    """A distributed update rule with a torch face and a symbolic face (see module doc)."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    update_latex: ClassVar[str] = ""
    """The update in LaTeX (with g_i the stochastic gradient of worker i)."""

    # ------------------------------------------------------------------ torch face
    @abc.abstractmethod
    def direction(self, grads: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Aggregated direction ``(R, d)`` from per-worker gradients ``(R, N, d)``."""

    @staticmethod
    def _check_grads(grads: torch.Tensor) -> torch.Tensor:
        if not isinstance(grads, torch.Tensor) or grads.ndim != 3:
            shape = tuple(grads.shape) if isinstance(grads, torch.Tensor) else type(grads)
            raise InputError(f"grads must be a tensor of shape (R, N, d), got {shape}")
        return grads

    # ------------------------------------------------------------------ symbolic face
    @abc.abstractmethod
    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        """Mean, covariance and assumptions of one step's direction at gradient ``grad``."""

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
        b = _check_batch(batch)
        return g, g.shape[0], n, b

    @staticmethod
    def _base_assumptions(noise: NoiseModel) -> list[str]:
        return [
            "each worker's stochastic gradient is unbiased for the global gradient: "
            "g_i = grad f(x) + Z_i, E Z_i = 0",
            f"noise independent across workers and steps ({noise.name})",
        ]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "reference": self.reference,
                "update": self.update_latex}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def per_worker(items: Sequence[Any] | Any, what: str) -> list[Any]:
    """A list from a single item or a sequence (for per-worker compressors)."""
    if isinstance(items, list | tuple):
        if not items:
            raise InputError(f"empty list of {what}")
        return list(items)
    return [items]
