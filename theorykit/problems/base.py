r"""The :class:`Problem` interface: an objective with a symbolic face (SymPy f, gradient,
Hessian, constants) and a torch face (batched loss/gradient for ``X`` of shape ``(R, d)``,
R replicas at once), and the lambdify adapter a problem's torch face falls back on.

Naming: ``grad()`` without an argument is the symbolic gradient (a ``d x 1`` SymPy
column); ``grad(X)`` with a tensor is the batched torch gradient ``(R, d)``. Likewise
``hessian()`` / ``hessian(X)`` and ``loss(X)``. ``worker_grads(X)`` is the gradient each
worker sees, ``(R, n, d)`` for a problem with ``n`` local objectives (heterogeneous
workers, :class:`~theorykit.problems.LocalQuadratics`) and ``(R, 1, d)`` (broadcast over
the workers) for one objective shared by all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError

__all__ = ["Problem", "torch_lambdify"]

Tensor = torch.Tensor


def _symbols(d: int) -> tuple[sp.Symbol, ...]:
    """The variables ``x_1, ..., x_d`` (real) of a built-in problem."""
    return tuple(sp.symbols(f"x_1:{d + 1}", real=True))


def torch_lambdify(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol],
                   params: dict | None = None) -> Callable[[Tensor], Tensor]:
    """``fn(X (R, d)) -> (R, len(exprs))``: SymPy expressions evaluated on a batch with
    torch, through the project's one lambdify adapter
    (:func:`theorykit.sde.lambdify.vector_function`, which closes the printer gaps listed in
    TOOLCHAIN.md)."""
    from theorykit.sde.lambdify import vector_function

    fn = vector_function(list(exprs), list(symbols), "torch", params=params)

    def call(X: Tensor) -> Tensor:
        return fn(0.0, X)

    return call


class Problem:
    """An objective f: R^d -> R (see module doc). Subclasses set ``name``, build
    ``self.f`` and may override the torch face with closed forms.

    Constants (``None`` where they do not exist): ``L`` (smoothness), ``mu`` (strong
    convexity / PL), ``L0``, ``L1`` ((L0, L1)-smoothness; an L-smooth problem has
    ``(L, 0)``), ``minimizer`` (numpy ``(d,)``), ``f_star``. ``n_workers``: the number of
    local objectives when f is their mean and each worker sees its own (``None``: every
    worker sees f).
    """

    name: str = "problem"
    title: str = ""
    reference: str = ""
    n_workers: int | None = None

    def __init__(self, f: sp.Expr | Callable[[], sp.Expr], symbols: Sequence[sp.Symbol]) -> None:
        self.x: tuple[sp.Symbol, ...] = tuple(symbols)
        self.d: int = len(self.x)
        self._f_src = f
        self.L: float | None = None
        self.mu: float | None = None
        self.L0: float | None = None
        self.L1: float | None = None
        self.minimizer: np.ndarray | None = None
        self.f_star: float | None = None

    @classmethod
    def from_expr(cls, f: sp.Expr | str, symbols: Sequence[sp.Symbol] | None = None,
                  name: str = "custom") -> Problem:
        """A problem from any SymPy expression (torch face by lambdify)."""
        f = sp.sympify(f)
        if symbols is None:
            symbols = sorted(f.free_symbols, key=lambda s: s.name)
        if not symbols:
            raise InputError("the objective has no variables")
        p = cls(f, symbols)
        p.name = name
        return p

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        return self.x

    @cached_property
    def f(self) -> sp.Expr:
        """The objective as a SymPy expression of :attr:`x` (built on first use)."""
        src = self._f_src
        return sp.sympify(src() if callable(src) else src)

    # ------------------------------------------------------------------ symbolic face
    @cached_property
    def _grad_expr(self) -> sp.Matrix:
        return sp.Matrix([sp.diff(self.f, s) for s in self.x])

    @cached_property
    def _hess_expr(self) -> sp.Matrix:
        return sp.hessian(self.f, self.x)

    def grad(self, X: Tensor | None = None) -> sp.Matrix | Tensor:
        """Symbolic gradient (d x 1 column) or, given ``X (R, d)``, the torch gradient."""
        if X is None:
            return self._grad_expr
        return self._grad_torch(self._check_X(X))

    def worker_grads(self, X: Tensor) -> Tensor:
        """The gradients the workers see at ``X (R, d)``: ``(R, 1, d)`` here (every worker
        sees f; broadcast over the workers), ``(R, n_workers, d)`` for a problem with local
        objectives."""
        return self.grad(X).unsqueeze(1)

    def hessian(self, X: Tensor | None = None) -> sp.Matrix | Tensor:
        """Symbolic Hessian (d x d) or, given ``X (R, d)``, the torch Hessians ``(R, d, d)``."""
        if X is None:
            return self._hess_expr
        return self._hessian_torch(self._check_X(X))

    def loss(self, X: Tensor) -> Tensor:
        """Batched loss ``(R,)``."""
        return self._loss_torch(self._check_X(X))

    def dist2(self, X: Tensor) -> Tensor:
        """||x - x*||^2, ``(R,)`` (needs a known minimizer)."""
        if self.minimizer is None:
            raise InputError(f"{self.name}: no known minimizer")
        c = torch.as_tensor(self.minimizer, dtype=X.dtype, device=X.device)
        return ((self._check_X(X) - c) ** 2).sum(-1)

    def latex(self) -> str:
        return sp.latex(self.f)

    def constants(self) -> dict[str, Any]:
        """The problem's constants as a JSON-able dict."""
        return {"d": self.d, "L": self.L, "mu": self.mu, "L0": self.L0, "L1": self.L1,
                "f_star": self.f_star,
                "minimizer": None if self.minimizer is None else self.minimizer.tolist()}

    # ------------------------------------------------------------------ torch face
    def _check_X(self, X: Tensor) -> Tensor:
        if not isinstance(X, Tensor) or X.ndim != 2 or X.shape[1] != self.d:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise InputError(f"{self.name}: X must be a tensor of shape (R, {self.d}), "
                             f"got {shape}")
        return X

    @cached_property
    def _f_fn(self) -> Callable[[Tensor], Tensor]:
        return torch_lambdify([self.f], self.x)

    @cached_property
    def _g_fn(self) -> Callable[[Tensor], Tensor]:
        return torch_lambdify(list(self._grad_expr), self.x)

    def _loss_torch(self, X: Tensor) -> Tensor:
        return self._f_fn(X)[..., 0]

    def _grad_torch(self, X: Tensor) -> Tensor:
        return self._g_fn(X)

    def _hessian_torch(self, X: Tensor) -> Tensor:
        H = torch_lambdify(list(self._hess_expr), self.x)(X)
        return H.reshape(X.shape[0], self.d, self.d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d})"
