r"""Logistic regression on a generated, seeded data set (:class:`LogisticRegression`):
:math:`f(x) = \frac1n\sum_i \log(1 + e^{-y_i a_i^\top x}) + \frac{\lambda}{2}\|x\|^2`,
L = λ_max(AᵀA)/(4n) + λ, μ = λ (standard; *derived*).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from theorykit.problems.base import Problem, _symbols
from theorykit.validate import positive_float, positive_int

__all__ = ["LogisticRegression"]

Tensor = torch.Tensor


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
