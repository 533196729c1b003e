r"""Quadratic objectives: :class:`Quadratic`,
:math:`f(x) = \tfrac12 (x - x^\star)^\top A (x - x^\star)` with ``eigs`` (diagonal A) or a
symmetric ``matrix``, and the pieces every quadratic shares (also read by
:class:`~theorykit.problems.LocalQuadratics`): the constants from the Hessian's eigenvalues
(L = max |λ|, μ = λ_min when positive) and the SymPy form of a float matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.problems.base import Problem, _symbols

__all__ = ["Quadratic", "curvature_constants", "quadratic_form", "symbolic_matrix"]

Tensor = torch.Tensor


def curvature_constants(eigs: np.ndarray) -> tuple[float, float | None]:
    """(L, μ) of a quadratic from the eigenvalues of its (constant) Hessian: L = max |λ|,
    μ = λ_min when positive (then f is μ-strongly convex), else ``None``."""
    L = float(np.max(np.abs(eigs)))
    return L, (float(eigs.min()) if eigs.min() > 0 else None)


def symbolic_matrix(A: np.ndarray) -> sp.Matrix:
    """A float matrix as a SymPy matrix: integers and short decimals become exact
    rationals, other entries Floats (exact binary values)."""

    def entry(v: Any) -> sp.Expr:
        return sp.nsimplify(v) if v == int(v) or len(repr(float(v))) <= 8 else sp.Float(v)

    return sp.Matrix(A.shape[0], A.shape[1], lambda i, j: entry(A[i, j]))


def quadratic_form(A: sp.Matrix, y: sp.Matrix) -> sp.Expr:
    """:math:`\\tfrac12 y^\\top A y` (not expanded)."""
    return sp.Rational(1, 2) * (y.T * A * y)[0, 0]


class Quadratic(Problem):
    r""":math:`f(x) = \tfrac12 (x - c)^\top A (x - c)` with A symmetric.

    ``eigs``: the diagonal of A (diagonal quadratic, the setting of docs/theory/sde_papers.md
    §2.3(b,c));
    or ``matrix``: a symmetric d x d A (general quadratic). ``center``: the minimizer c
    (default 0). L = max |λ(A)|, μ = λ_min(A) when positive (then f is μ-strongly convex),
    f* = 0. Symbolic gradient A(x - c), Hessian A (exact; the torch face is ``(X - c) A``).
    """

    name = "quadratic"
    title = "Quadratic"
    reference = "standard test problem; Compagnoni et al. 2025 use diagonal quadratics"

    def __init__(self, eigs: Sequence[float] | None = None, matrix: Any = None,
                 center: Sequence[float] | None = None) -> None:
        if (eigs is None) == (matrix is None):
            raise InputError("Quadratic needs exactly one of eigs= or matrix=")
        if eigs is not None:
            ev = np.asarray(eigs, dtype=float).reshape(-1)
            if ev.size == 0 or not np.all(np.isfinite(ev)):
                raise InputError("Quadratic eigs must be a non-empty list of finite numbers")
            A = np.diag(ev)
            self.diagonal = True
        else:
            A = np.asarray(matrix, dtype=float)
            if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
                raise InputError("Quadratic matrix must be a finite square array")
            if not np.allclose(A, A.T, atol=1e-12):
                raise InputError("Quadratic matrix must be symmetric")
            self.diagonal = bool(np.all(np.diag(np.diag(A)) == A))
        d = A.shape[0]
        c = np.zeros(d) if center is None else np.asarray(center, dtype=float).reshape(-1)
        if c.shape != (d,):
            raise InputError(f"Quadratic center must have length {d}")
        self.A = A
        self.c = c
        self.eigs = np.linalg.eigvalsh(A)
        xs = _symbols(d)
        self.A_sym = symbolic_matrix(A)
        cs = sp.Matrix([sp.nsimplify(v) for v in c])
        y = sp.Matrix(xs) - cs
        if self.diagonal:
            f = sp.Rational(1, 2) * sum((self.A_sym[j, j] * y[j] ** 2 for j in range(d)),
                                        sp.Integer(0))
        else:
            f = sp.expand(quadratic_form(self.A_sym, y))
        super().__init__(f, xs)
        self._y = y
        self.L, self.mu = curvature_constants(self.eigs)
        self.L0, self.L1 = self.L, 0.0
        self.minimizer = c.copy() if self.eigs.min() > 0 else None
        self.f_star = 0.0 if self.eigs.min() >= 0 else None
        self._cache: dict[tuple, tuple[Tensor, Tensor]] = {}

    @cached_property
    def _grad_expr(self) -> sp.Matrix:
        return self.A_sym * self._y

    @cached_property
    def _hess_expr(self) -> sp.Matrix:
        return self.A_sym

    def _tensors(self, X: Tensor) -> tuple[Tensor, Tensor]:
        key = (str(X.device), X.dtype)
        if key not in self._cache:
            A = torch.as_tensor(self.A, dtype=X.dtype, device=X.device)
            c = torch.as_tensor(self.c, dtype=X.dtype, device=X.device)
            self._cache[key] = (torch.diagonal(A).clone() if self.diagonal else A, c)
        return self._cache[key]

    def _grad_torch(self, X: Tensor) -> Tensor:
        A, c = self._tensors(X)
        Y = X - c if self.c.any() else X
        return Y * A if self.diagonal else Y @ A

    def _loss_torch(self, X: Tensor) -> Tensor:
        c = self._tensors(X)[1]
        Y = X - c if self.c.any() else X
        return 0.5 * (Y * self._grad_torch(X)).sum(-1)

    def _hessian_torch(self, X: Tensor) -> Tensor:
        A = torch.as_tensor(self.A, dtype=X.dtype, device=X.device)
        return A.expand(X.shape[0], self.d, self.d)

    def __repr__(self) -> str:
        if self.diagonal:
            return f"Quadratic(eigs={np.diag(self.A).tolist()})"
        return f"Quadratic(matrix={self.A.tolist()})"
