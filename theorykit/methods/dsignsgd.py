r"""Distributed SignSGD (DSignSGD): the mean of the workers' signs (or their majority vote).

.. math:: x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^N \operatorname{sign}(g_i)
   \quad(\text{vote}=\text{mean}),\qquad
   x_{k+1} = x_k - \eta\,\operatorname{sign}\Big(\sum_i \operatorname{sign}(g_i)\Big)
   \quad(\text{vote}=\text{majority}).

Moments (Compagnoni et al., AISTATS 2025, DSignSGD SDE, *recalled*, following the SignSGD
SDE of arXiv 2411.15958; *derived* here for independent noise coordinates): with
:math:`m_{ij} = E[\operatorname{sign}(\partial_j f + Z_{ij})]` (the noise model's
:meth:`~theorykit.noise.NoiseModel.sign_mean`),

.. math:: E[D]_j = \frac1N\sum_i m_{ij},\qquad
   \operatorname{Cov}[D] = \frac1{N^2}\sum_i \operatorname{diag}(1 - m_{ij}^2).

Majority vote (*derived*): with :math:`p_{ij} = (1 + m_{ij})/2` and K the number of positive
signs (Poisson-binomial), :math:`E[D_j] = P(2K > N) - P(2K < N)` and
:math:`\operatorname{Var}[D_j] = P(2K \ne N) - E[D_j]^2`; coordinates are independent.
"""

from __future__ import annotations

from typing import Any, Literal

import sympy as sp
import torch

from theorykit.errors import AssumptionError, InputError
from theorykit.methods.base import Method, Send, StepMoments, worker_sum
from theorykit.methods.registry import register
from theorykit.noise import NoiseModel, diag_matrix

__all__ = ["DSignSGD"]


@register
class DSignSGD(Method):
    """Distributed SignSGD with mean-of-signs (default) or majority-vote aggregation."""

    name = "dsignsgd"
    label = "DSignSGD"
    title = "Distributed SignSGD"
    reference = ("Compagnoni et al., AISTATS 2025 (DSignSGD SDE) [recalled]; "
                 "arXiv 2411.15958 (SignSGD SDE) [recalled]")

    def __init__(self, vote: Literal["mean", "majority"] = "mean") -> None:
        if vote not in ("mean", "majority"):
            raise InputError(f"DSignSGD vote must be 'mean' or 'majority', got {vote!r}")
        self.vote = vote

    @property
    def update_latex(self) -> str:  # type: ignore[override]
        if self.vote == "majority":
            return (r"x_{k+1} = x_k - \eta\,\operatorname{sign}\Big(\sum_{i=1}^{N}"
                    r"\operatorname{sign}(g_i)\Big)")
        return r"x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^{N}\operatorname{sign}(g_i)"

    def compress(self, v: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """The message is ``sign(g_i)`` (deterministic)."""
        return torch.sign(v)

    @property
    def wire_compressor(self) -> Any:
        """The catalog's 1-bit ``sign`` codec."""
        from theorykit.compressors.registry import make

        return make("sign")

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        send = send or self.sender(generator)
        return send(grads), None

    def server_step(self, messages: torch.Tensor, state: Any = None
                    ) -> tuple[torch.Tensor, Any]:
        """Mean of the signs, or the sign of their sum (majority vote; the sign of the mean
        is the same, which is what the trainer's mean message gives)."""
        if self.vote == "majority":
            return torch.sign(messages.sum(dim=-2)), state
        return messages.mean(dim=-2), state

    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        g, d, n, b = self._setup(grad, noise, n_workers, batch)
        if not noise.independent_coordinates:
            raise AssumptionError(
                "DSignSGD's closed-form diffusion needs independent noise coordinates; "
                f"{noise!r} is correlated (the sign covariance has no closed form)")
        assumptions = [
            *self._base_assumptions(noise),
            "noise coordinates independent: the sign covariance is diagonal",
            "continuous noise: P(g + Z_ij = 0) = 0",
        ]

        memo: dict[tuple[int, int], sp.Expr] = {}

        def m(i: int, j: int) -> sp.Expr:
            if (i, j) not in memo:
                memo[(i, j)] = noise.sign_mean(g[j], i, j, b)
            return memo[(i, j)]

        if self.vote == "majority":
            if not n.is_number:
                raise InputError("DSignSGD majority vote needs a numeric number of workers")
            means, vars_ = [], []
            for j in range(d):
                mu, var = _majority_moments([m(i, j) for i in range(int(n))])
                means.append(mu)
                vars_.append(var)
            assumptions.append("majority vote: sign(0) = 0 on ties (even N)")
            return StepMoments(sp.Matrix(means), diag_matrix(vars_), assumptions)

        hom = not noise.heterogeneous
        mean = worker_sum(n, lambda i: sp.Matrix([m(i, j) for j in range(d)]),
                          homogeneous=hom) / n
        cov = worker_sum(n, lambda i: diag_matrix([1 - m(i, j) ** 2 for j in range(d)]),
                         homogeneous=hom) / n**2
        return StepMoments(mean, cov, assumptions)

    def __repr__(self) -> str:
        return f"DSignSGD(vote={self.vote!r})"


def _majority_moments(ms: list[sp.Expr]) -> tuple[sp.Expr, sp.Expr]:
    """Mean and variance of sign(sum_i s_i) for independent s_i = ±1 with E s_i = m_i."""
    t = sp.Dummy("t")
    poly = sp.Integer(1)
    for mi in ms:
        p = (1 + mi) / 2
        poly = sp.expand(poly * ((1 - p) + p * t))
    coeffs = sp.Poly(poly, t).all_coeffs()[::-1]  # P(K = k), k = 0..N
    n = len(ms)
    pos = sum((c for k, c in enumerate(coeffs) if 2 * k > n), sp.Integer(0))
    neg = sum((c for k, c in enumerate(coeffs) if 2 * k < n), sp.Integer(0))
    mean = pos - neg
    return mean, pos + neg - mean**2
