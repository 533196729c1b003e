r"""Objectives with a symbolic face (SymPy f, gradient, Hessian, constants) and a torch face
(batched loss/gradient for ``X`` of shape ``(R, d)``, R replicas at once), and the registry
of problems by name.

One definition per problem serves the SDE derivation (symbolic gradient and Hessian), the
closed forms (constants L, mu, (L0, L1), minimizer, f*), the simulations (torch) and the
book. The torch face of the built-in problems is written in closed form for speed and is
*tested* against the lambdified SymPy expressions (``tests/test_problems.py``); a user
problem built with :meth:`Problem.from_expr` gets its torch face by lambdifying the SymPy
gradient. The interface is :class:`Problem` (``theorykit/problems/base.py``).

Problems
--------
* :class:`Quadratic` (``quadratic.py``) -- :math:`f(x) = \tfrac12 (x - x^\star)^\top A
  (x - x^\star)` with ``eigs`` (diagonal A) or a symmetric ``matrix``; L = λ_max,
  μ = λ_min (if > 0).
* :class:`LocalQuadratics` (``local_quadratics.py``) -- n local quadratics
  :math:`f_i(x) = \tfrac12 x^\top A_i x - b_i^\top x + c_i`, f their mean, one per worker
  (heterogeneous workers: :meth:`~LocalQuadratics.worker_grads`); the problem of the
  biased-compression methods (:mod:`theorykit.methods.biased`).
* :class:`LogisticRegression` (``logistic.py``) -- :math:`f(x) = \frac1n\sum_i \log(1 +
  e^{-y_i a_i^\top x}) + \frac{\lambda}{2}\|x\|^2` on a generated data set (seeded);
  L = λ_max(AᵀA)/(4n) + λ, μ = λ (standard; *derived*).
* :class:`L0L1Quartic`, :class:`CoshSum` (``l0l1.py``) -- :math:`\frac c4\sum_j x_j^4` and
  :math:`\sum_j (\cosh x_j - 1)`: (L0, L1)-smooth (Zhang et al., ICLR 2020, Def. 1), not
  L-smooth.
"""

from __future__ import annotations

from typing import Any

from theorykit.problems.base import Problem, torch_lambdify
from theorykit.problems.l0l1 import CoshSum, L0L1Quartic
from theorykit.problems.local_quadratics import LocalQuadratics
from theorykit.problems.logistic import LogisticRegression
from theorykit.problems.quadratic import Quadratic
from theorykit.registry import Registry

__all__ = [
    "PROBLEMS",
    "PROBLEM_REGISTRY",
    "CoshSum",
    "L0L1Quartic",
    "LocalQuadratics",
    "LogisticRegression",
    "Problem",
    "Quadratic",
    "make_problem",
    "torch_lambdify",
]

PROBLEM_REGISTRY: Registry[type[Problem]] = Registry(
    "problem", base=Problem, key=str.lower, sort=False,
    entries={"quadratic": Quadratic, "logistic": LogisticRegression, "quartic": L0L1Quartic,
             "cosh": CoshSum, "local_quadratics": LocalQuadratics})
"""Problems by name (case-insensitive; a user's ``module.path:Object`` Problem too)."""

PROBLEMS: dict[str, type[Problem]] = PROBLEM_REGISTRY.entries


def make_problem(name: str, **params: Any) -> Problem:
    """A problem by name: ``quadratic`` (eigs | matrix, center), ``logistic`` (n, d, seed,
    reg), ``quartic`` (d, c, L1), ``cosh`` (d), ``local_quadratics`` (A, b, c), or
    ``module.path:Object``."""
    return PROBLEM_REGISTRY.make(name, **params)
