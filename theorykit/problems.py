r"""Objectives with a symbolic face (SymPy f, gradient, Hessian, constants) and a torch face
(batched loss/gradient for ``X`` of shape ``(R, d)``, R replicas at once).

One definition per problem serves the SDE derivation (symbolic gradient and Hessian), the
closed forms (constants L, mu, (L0, L1), minimizer, f*), the simulations (torch) and the
book. The torch face of the built-in problems is written in closed form for speed and is
*tested* against the lambdified SymPy expressions (``tests/test_problems.py``); a user
problem built with :meth:`Problem.from_expr` gets its torch face by lambdifying the SymPy
gradient.

Naming: ``grad()`` without an argument is the symbolic gradient (a ``d x 1`` SymPy
column); ``grad(X)`` with a tensor is the batched torch gradient ``(R, d)``. Likewise
``hessian()`` / ``hessian(X)`` and ``loss(X)``.

Problems
--------
* :class:`Quadratic` -- :math:`f(x) = \tfrac12 (x - x^\star)^\top A (x - x^\star)` with
  ``eigs`` (diagonal A) or a symmetric ``matrix``; L = λ_max, μ = λ_min (if > 0).
* :class:`LogisticRegression` -- :math:`f(x) = \frac1n\sum_i \log(1 + e^{-y_i a_i^\top x}) +
  \frac{\lambda}{2}\|x\|^2` on a generated data set (seeded);
  L = λ_max(AᵀA)/(4n) + λ, μ = λ (standard; *derived*).
* :class:`L0L1Quartic` -- :math:`f(x) = \frac c4\sum_j x_j^4`: (L0, L1)-smooth with
  L0 = 4c/L1² for any L1 > 0 (*derived* below), not L-smooth.
* :class:`CoshSum` -- :math:`f(x) = \sum_j (\cosh x_j - 1)`: (L0, L1) = (1, 1) since
  cosh = sqrt(1 + sinh²) <= 1 + |sinh| (*derived*), μ = 1, not L-smooth.

(L0, L1)-smoothness (Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1, *recalled*):
:math:`\|\nabla^2 f(x)\|_2 \le L_0 + L_1\|\nabla f(x)\|_2`. For separable f the Hessian is
diagonal, :math:`\|\nabla^2 f\|_2 = \max_j f_j''(x_j)` and :math:`\|\nabla f\|_2 \ge
\max_j |f_j'(x_j)|`, so the one-dimensional inequality :math:`f_j'' \le L_0 + L_1|f_j'|`
suffices (*derived*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.registry import Registry
from theorykit.validate import positive_float, positive_int

__all__ = [
    "PROBLEMS",
    "PROBLEM_REGISTRY",
    "CoshSum",
    "L0L1Quartic",
    "LogisticRegression",
    "Problem",
    "Quadratic",
    "make_problem",
    "torch_lambdify",
]

Tensor = torch.Tensor


def _symbols(d: int) -> tuple[sp.Symbol, ...]:
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
    ``(L, 0)``), ``minimizer`` (numpy ``(d,)``), ``f_star``.
    """

    name: str = "problem"
    title: str = ""
    reference: str = ""

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


# ---------------------------------------------------------------------- quadratic
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
        self.A_sym = sp.Matrix(d, d, lambda i, j: sp.nsimplify(A[i, j]) if A[i, j] == int(
            A[i, j]) or len(repr(float(A[i, j]))) <= 8 else sp.Float(A[i, j]))
        cs = sp.Matrix([sp.nsimplify(v) for v in c])
        y = sp.Matrix(xs) - cs
        if self.diagonal:
            f = sp.Rational(1, 2) * sum((self.A_sym[j, j] * y[j] ** 2 for j in range(d)),
                                        sp.Integer(0))
        else:
            f = sp.expand(sp.Rational(1, 2) * (y.T * self.A_sym * y)[0, 0])
        super().__init__(f, xs)
        self._y = y
        lmax = float(np.max(np.abs(self.eigs)))
        self.L = lmax
        self.mu = float(self.eigs.min()) if self.eigs.min() > 0 else None
        self.L0, self.L1 = lmax, 0.0
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


# ---------------------------------------------------------------------- logistic regression
class LogisticRegression(Problem):
    r""":math:`f(x) = \frac1n\sum_{i=1}^n \log(1 + e^{-y_i a_i^\top x}) + \frac\lambda2\|x\|^2`.

    Data (seeded, ``numpy.random.default_rng(seed)``): features
    :math:`a_i \sim N(0, \text{scale}^2 I_d)`,
    a planted :math:`x_{true} \sim N(0, I_d)`, labels :math:`y_i = \pm1` with
    :math:`P(y_i = 1) = \sigma(a_i^\top x_{true})`. Constants (standard, *derived*): the
    logistic loss has curvature :math:`\sigma(1-\sigma) \le 1/4`, so
    :math:`L = \lambda_{max}(A^\top A)/(4n) + \lambda` and :math:`\mu = \lambda`. The
    minimizer and f* are computed by Newton's method (float64, to 1e-12 in the gradient).
    The symbolic f is the explicit sum over the n data points.
    """

    name = "logistic"
    title = "Logistic regression (generated data)"
    reference = "standard test problem"

    def __init__(self, n: int = 200, d: int = 5, seed: int = 0, reg: float = 0.1,
                 scale: float = 1.0) -> None:
        n = positive_int("number of samples n", n)
        d = positive_int("dimension d", d)
        positive_float("logistic reg", reg, allow_zero=True, one_message=True)
        positive_float("logistic feature scale", scale, one_message=True)
        rng = np.random.default_rng(seed)
        Af = rng.standard_normal((n, d)) * scale
        xt = rng.standard_normal(d)
        p = 1.0 / (1.0 + np.exp(-Af @ xt))
        y = np.where(rng.random(n) < p, 1.0, -1.0)
        self.n, self.reg, self.seed, self.scale = n, float(reg), seed, float(scale)
        self.data, self.labels, self.x_true = Af, y, xt
        xs = _symbols(d)

        def build() -> sp.Expr:  # explicit sum over the data (lazy: ~1 s for n = 200)
            lam = sp.nsimplify(reg)
            rows = [sp.Add(*[sp.Float(Af[i, j], 17) * xs[j] for j in range(d)])
                    for i in range(n)]
            f = sp.Add(*[sp.log(1 + sp.exp(-int(y[i]) * rows[i])) for i in range(n)]) / n
            return f + lam / 2 * sp.Add(*[s**2 for s in xs])

        super().__init__(build, xs)
        self.L = float(np.linalg.eigvalsh(Af.T @ Af).max() / (4 * n) + reg)
        self.mu = float(reg) if reg > 0 else None
        self.L0, self.L1 = self.L, 0.0
        self._cache: dict[tuple, tuple[Tensor, Tensor]] = {}
        if reg > 0:
            xm = self._newton()
            self.minimizer = xm
            self.f_star = float(self.loss(torch.as_tensor(xm[None], dtype=torch.float64))[0])

    def _newton(self) -> np.ndarray:
        A, y, lam = self.data, self.labels, self.reg
        x = np.zeros(A.shape[1])
        for _ in range(100):
            z = y * (A @ x)
            s = 1.0 / (1.0 + np.exp(z))  # sigma(-z)
            g = -(A.T @ (s * y)) / self.n + lam * x
            if np.linalg.norm(g) < 1e-12:
                break
            w = s * (1 - s)
            H = (A.T * w) @ A / self.n + lam * np.eye(A.shape[1])
            x = x - np.linalg.solve(H, g)
        return x

    def _tensors(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """(A_y, -A_y^T / n) with A_y = diag(y) A: the margins are X A_y^T."""
        key = (str(X.device), X.dtype)
        if key not in self._cache:
            ay = torch.as_tensor(self.data * self.labels[:, None], dtype=X.dtype,
                                 device=X.device)
            self._cache[key] = (ay, (-ay / self.n).contiguous())
        return self._cache[key]

    def _margins(self, X: Tensor) -> Tensor:
        return X @ self._tensors(X)[0].T  # (R, n): y_i a_i^T x

    def _loss_torch(self, X: Tensor) -> Tensor:
        z = self._margins(X)
        return torch.nn.functional.softplus(-z).mean(-1) + 0.5 * self.reg * (X * X).sum(-1)

    def _grad_torch(self, X: Tensor) -> Tensor:
        # grad = -(1/n) sum_i sigma(-z_i) y_i a_i + reg x, in three memory passes
        s = self._margins(X).neg_().sigmoid_()
        return torch.addmm(X, s, self._tensors(X)[1], alpha=1.0, beta=self.reg) \
            if self.reg else s @ self._tensors(X)[1]

    def _hessian_torch(self, X: Tensor) -> Tensor:
        A = torch.as_tensor(self.data, dtype=X.dtype, device=X.device)
        s = torch.sigmoid(self._margins(X))
        w = s * (1 - s) / self.n  # (R, n)
        H = torch.einsum("rn,ni,nj->rij", w, A, A)
        return H + self.reg * torch.eye(self.d, dtype=X.dtype, device=X.device)

    def __repr__(self) -> str:
        return (f"LogisticRegression(n={self.n}, d={self.d}, seed={self.seed}, reg={self.reg}, "
                f"scale={self.scale})")


# ---------------------------------------------------------------------- (L0, L1) problems
class L0L1Quartic(Problem):
    r""":math:`f(x) = \frac c4 \sum_j x_j^4`: (L0, L1)-smooth, not L-smooth.

    Derivation (*derived*, checked symbolically in the tests): per coordinate
    :math:`f'' = 3c x^2`, :math:`|f'| = c|x|^3`; for a given L1 > 0 the smallest L0 with
    :math:`3cx^2 \le L_0 + L_1 c|x|^3` for all x is
    :math:`\max_{x\ge0}(3cx^2 - L_1 c x^3) = 4c/L_1^2` (at x = 2/L_1). Default L1 = 2, so
    L0 = c. Minimizer 0, f* = 0, no μ (f'' = 0 at the minimizer) and no L.
    """

    name = "quartic"
    title = "Quartic (L0, L1)-smooth function"
    reference = "Zhang et al., ICLR 2020 (x^4 as an (L0,L1)-smooth example) [recalled]"

    def __init__(self, d: int = 1, c: float = 1.0, L1: float = 2.0) -> None:
        d = positive_int("dimension d", d)
        positive_float("quartic c", c, one_message=True)
        positive_float("quartic L1", L1, one_message=True)
        xs = _symbols(d)
        self.c = float(c)
        cs = sp.nsimplify(c)
        super().__init__(cs / 4 * sp.Add(*[s**4 for s in xs]), xs)
        self.L1 = float(L1)
        self.L0 = float(self.l0_for(sp.nsimplify(L1)).subs(self.c_symbol, cs))
        self.minimizer = np.zeros(d)
        self.f_star = 0.0

    c_symbol = sp.Symbol("c", positive=True)

    @classmethod
    def l0_for(cls, L1: Any) -> sp.Expr:
        """The smallest L0 given L1 (SymPy, maximizing 3cx^2 - L1 c x^3 over x >= 0)."""
        x = sp.Symbol("x", nonnegative=True)
        c = cls.c_symbol
        L1s = sp.Symbol(L1, positive=True) if isinstance(L1, str) else sp.sympify(L1)
        h = 3 * c * x**2 - L1s * c * x**3
        crit = [r for r in sp.solve(sp.diff(h, x), x) if r != 0]
        return sp.simplify(sp.Max(*[h.subs(x, r) for r in crit], 0))

    def _loss_torch(self, X: Tensor) -> Tensor:
        return 0.25 * self.c * (X**4).sum(-1)

    def _grad_torch(self, X: Tensor) -> Tensor:
        return self.c * X**3

    def _hessian_torch(self, X: Tensor) -> Tensor:
        return torch.diag_embed(3 * self.c * X**2)


class CoshSum(Problem):
    r""":math:`f(x) = \sum_j (\cosh x_j - 1)`: (L0, L1) = (1, 1)-smooth, μ = 1, not L-smooth.

    Derivation (*derived*): :math:`f'' = \cosh x`, :math:`f' = \sinh x` and
    :math:`\cosh^2 - \sinh^2 = 1`, so :math:`\cosh x = \sqrt{1 + \sinh^2 x} \le 1 +
    |\sinh x|`; hence :math:`\|\nabla^2 f\|_2 = \max_j\cosh x_j \le 1 + \|\nabla f\|_2`
    (docs/theory/sde_papers.md §3.1 lists cosh with |f''| <= 1 + |f'|). :math:`\cosh \ge 1` gives
    μ = 1; the Hessian is unbounded, so no L. Minimizer 0, f* = 0.
    """

    name = "cosh"
    title = "Sum of cosh (L0, L1)-smooth function"
    reference = "Compagnoni et al., arXiv 2506.00181 (cosh-type test functions) [recalled]"

    def __init__(self, d: int = 1) -> None:
        d = positive_int("dimension d", d)
        xs = _symbols(d)
        super().__init__(sp.Add(*[sp.cosh(s) - 1 for s in xs]), xs)
        self.L0, self.L1 = 1.0, 1.0
        self.mu = 1.0
        self.minimizer = np.zeros(d)
        self.f_star = 0.0

    def _loss_torch(self, X: Tensor) -> Tensor:
        return (torch.cosh(X) - 1).sum(-1)

    def _grad_torch(self, X: Tensor) -> Tensor:
        return torch.sinh(X)

    def _hessian_torch(self, X: Tensor) -> Tensor:
        return torch.diag_embed(torch.cosh(X))


PROBLEM_REGISTRY: Registry[type[Problem]] = Registry(
    "problem", base=Problem, key=str.lower, sort=False,
    entries={"quadratic": Quadratic, "logistic": LogisticRegression, "quartic": L0L1Quartic,
             "cosh": CoshSum})
"""Problems by name (case-insensitive; a user's ``module.path:Object`` Problem too)."""

PROBLEMS: dict[str, type[Problem]] = PROBLEM_REGISTRY.entries


def make_problem(name: str, **params: Any) -> Problem:
    """A problem by name: ``quadratic`` (eigs | matrix, center), ``logistic`` (n, d, seed,
    reg), ``quartic`` (d, c, L1), ``cosh`` (d), or ``module.path:Object``."""
    return PROBLEM_REGISTRY.make(name, **params)
