r"""Heterogeneous workers: :class:`LocalQuadratics`, ``n`` local quadratics
:math:`f_i(x) = \tfrac12 x^\top A_i x - b_i^\top x + c_i` and their mean
:math:`f = \frac1n \sum_i f_i`, each worker seeing its own gradient
(:meth:`LocalQuadratics.worker_grads`). The test problem of the biased-compression methods
(:mod:`theorykit.methods.biased`: DCGD, EF, EF21; DIANA) with exact μ, L, minimiser,
``f*`` and the heterogeneity :math:`D = \frac1n \sum_i \|\nabla f_i(x^\star)\|^2` of the
EF rate (Beznosikov et al., JMLR 24(276), 2023, Section 5 [recalled]).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.problems.base import Problem, _symbols
from theorykit.problems.quadratic import curvature_constants, quadratic_form, symbolic_matrix

__all__ = ["LocalQuadratics"]

Tensor = torch.Tensor


class LocalQuadratics(Problem):
    """``n`` local quadratics ``f_i(x) = ½ xᵀA_i x - b_iᵀx + c_i``; ``f = (1/n) Σ f_i``.

    ``A``: ``(n, d, d)`` symmetric with a positive definite mean; ``b``: ``(n, d)``;
    ``c``: ``(n,)`` (torch tensors of ``dtype`` on ``device``). Constants are computed
    exactly from the mean Hessian Ā = (1/n) Σ A_i: μ and L its extreme eigenvalues
    (:func:`~theorykit.problems.quadratic.curvature_constants`), ``x_star`` (torch) =
    ``minimizer`` (numpy) = Ā⁻¹ b̄, ``f_star``, the heterogeneity ``D`` and the local
    smoothness constants ``L_i`` = λ_max(A_i). ``n_workers``, ``dim``: n and d.
    ``grad(X)`` is the gradient of f (the mean of :meth:`worker_grads`); the symbolic face
    is that of f, ½ xᵀĀx - b̄ᵀx + c̄.
    """

    name = "local_quadratics"
    title = "Local quadratics (heterogeneous workers)"
    reference = "Beznosikov et al., JMLR 24(276), 2023 (quadratic examples) [recalled]"

    def __init__(self, A: Any, b: Any = None, c: Any = None, *,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> None:
        A = torch.as_tensor(A, dtype=dtype, device=device)
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise InputError(f"A must have shape (n, d, d), got {tuple(A.shape)}")
        if not torch.allclose(A, A.transpose(1, 2)):
            raise InputError("every A_i must be symmetric")
        n, d = A.shape[0], A.shape[1]
        b = torch.zeros(n, d, dtype=dtype, device=device) if b is None else \
            torch.as_tensor(b, dtype=dtype, device=device)
        c = torch.zeros(n, dtype=dtype, device=device) if c is None else \
            torch.as_tensor(c, dtype=dtype, device=device)
        if b.shape != (n, d) or c.shape != (n,):
            raise InputError(f"b must be (n, d) = {(n, d)} and c (n,), got {tuple(b.shape)}, "
                             f"{tuple(c.shape)}")
        super().__init__(self._mean_expr, _symbols(d))
        self.A, self.b, self.c = A, b, c
        self.n_workers, self.dim = n, d
        self._Abar = Abar = A.mean(0)
        eig = torch.linalg.eigvalsh(Abar)
        if eig[0] <= 0:
            raise InputError(f"the mean Hessian must be positive definite (smallest "
                             f"eigenvalue {float(eig[0]):.3g})")
        self.L, self.mu = curvature_constants(eig.cpu().numpy())
        self.L0, self.L1 = self.L, 0.0
        self.x_star = torch.linalg.solve(Abar, b.mean(0))
        self.minimizer = self.x_star.cpu().numpy()
        self.f_star = float(self.loss(self.x_star[None])[0])
        gstar = self.worker_grads(self.x_star[None])[0]
        self.D = float((gstar**2).sum(-1).mean())
        """(1/n) Σ_i ||∇f_i(x*)||² (heterogeneity at the optimum)."""
        self.L_i = [float(torch.linalg.eigvalsh(a)[-1]) for a in A]

    # ------------------------------------------------------------------ torch face
    def worker_grads(self, X: Tensor) -> Tensor:
        """∇f_i(x) for X of shape (R, d): returns (R, n, d)."""
        return torch.einsum("nij,rj->rni", self.A, self._check_X(X)) - self.b[None]


    def _grad_torch(self, X: Tensor) -> Tensor:
        return self.worker_grads(X).mean(-2)

    def _loss_torch(self, X: Tensor) -> Tensor:
        """f(x) = (1/n) Σ f_i(x) for x of shape (R, d): returns (R,)."""
        quad = 0.5 * torch.einsum("ri,nij,rj->rn", X, self.A, X)
        return (quad - X @ self.b.T + self.c[None]).mean(-1)

    def _hessian_torch(self, X: Tensor) -> Tensor:
        return self._Abar.expand(X.shape[0], self.d, self.d)

    def gap(self, x: Tensor) -> Tensor:
        """f(x) - f* computed as ½ (x - x*)ᵀ Ā (x - x*) (no cancellation)."""
        z = x - self.x_star
        return 0.5 * torch.einsum("ri,ij,rj->r", z, self._Abar, z)

    # ------------------------------------------------------------------ symbolic face
    @cached_property
    def _mean_sym(self) -> tuple[sp.Matrix, sp.Matrix, sp.Expr]:
        """(Ā, b̄, c̄) as SymPy objects."""
        Abar = symbolic_matrix(self._Abar.cpu().numpy())
        bbar = symbolic_matrix(self.b.mean(0).cpu().numpy()[:, None])
        cbar = symbolic_matrix(self.c.mean().cpu().numpy().reshape(1, 1))[0, 0]
        return Abar, bbar, cbar

    def _mean_expr(self) -> sp.Expr:
        Abar, bbar, cbar = self._mean_sym
        x = sp.Matrix(self.x)
        return sp.expand(quadratic_form(Abar, x) - (bbar.T * x)[0, 0] + cbar)

    @cached_property
    def _grad_expr(self) -> sp.Matrix:
        Abar, bbar, _ = self._mean_sym
        return Abar * sp.Matrix(self.x) - bbar

    @cached_property
    def _hess_expr(self) -> sp.Matrix:
        return self._mean_sym[0]

    def constants(self) -> dict[str, Any]:
        """The constants of f and of the workers (``n_workers``, ``D``, ``L_i``)."""
        return {**super().constants(), "n_workers": self.n_workers, "D": self.D,
                "L_i": list(self.L_i)}

    def __repr__(self) -> str:
        return f"LocalQuadratics(n={self.n_workers}, d={self.dim})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def counterexample(cls, **kw: Any) -> LocalQuadratics:
        """f_i(x) = <a_i, x>² + ||x||²/4 with the a_i of
        :data:`theorykit.rules.rates.COUNTEREXAMPLE_A` (n = d = 3)."""
        from theorykit.rules.rates import COUNTEREXAMPLE_A

        a = torch.tensor(COUNTEREXAMPLE_A, dtype=torch.float64)
        A = 2 * torch.einsum("ni,nj->nij", a, a) + 0.5 * torch.eye(3)[None]
        return cls(A, **kw)

    @classmethod
    def random(cls, n: int, d: int, *, mu: float = 1.0, L: float = 10.0,
               heterogeneity: float = 0.0, seed: int = 0, **kw: Any) -> LocalQuadratics:
        """Workers with a common diagonal Hessian with eigenvalues spread log-uniformly in
        [mu, L] (both attained), rotated by a random orthogonal matrix, and linear terms
        ``b_i = h_i`` with Σ h_i = 0, ``(1/n) Σ ||h_i||² = heterogeneity`` (so x* = 0,
        f* = 0 and D = heterogeneity exactly)."""
        if n < 1 or d < 1:
            raise InputError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
        if not 0 < mu <= L:
            raise InputError(f"need 0 < mu <= L, got mu={mu}, L={L}")
        if heterogeneity < 0:
            raise InputError(f"heterogeneity must be >= 0, got {heterogeneity}")
        g = torch.Generator().manual_seed(seed)
        eig = torch.logspace(math.log10(mu), math.log10(L), d, dtype=torch.float64)
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        A = (q * eig) @ q.T
        A = 0.5 * (A + A.T)
        h = torch.randn(n, d, generator=g, dtype=torch.float64)
        h = h - h.mean(0, keepdim=True)
        if n == 1 or heterogeneity == 0:
            h = torch.zeros_like(h)
        else:
            h = h * math.sqrt(heterogeneity / float((h**2).sum(-1).mean()))
        return cls(A[None].expand(n, d, d).clone(), h, **kw)
