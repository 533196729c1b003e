r"""(L0, L1)-smooth problems that are not L-smooth: :class:`L0L1Quartic`,
:math:`f(x) = \frac c4\sum_j x_j^4` (L0 = 4c/L1² for any L1 > 0, *derived* below), and
:class:`CoshSum`, :math:`f(x) = \sum_j (\cosh x_j - 1)` ((L0, L1) = (1, 1) since
cosh = sqrt(1 + sinh²) <= 1 + |sinh|, *derived*; μ = 1).

(L0, L1)-smoothness (Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1, *recalled*):
:math:`\|\nabla^2 f(x)\|_2 \le L_0 + L_1\|\nabla f(x)\|_2`. For separable f the Hessian is
diagonal, :math:`\|\nabla^2 f\|_2 = \max_j f_j''(x_j)` and :math:`\|\nabla f\|_2 \ge
\max_j |f_j'(x_j)|`, so the one-dimensional inequality :math:`f_j'' \le L_0 + L_1|f_j'|`
suffices (*derived*).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.problems.base import Problem, _symbols
from theorykit.validate import positive_float, positive_int

__all__ = ["CoshSum", "L0L1Quartic"]

Tensor = torch.Tensor


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
