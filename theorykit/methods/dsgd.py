r"""Distributed SGD (DSGD): the mean of the workers' stochastic gradients.

.. math:: x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^N g_i, \qquad
   E[D] = \nabla f,\quad \operatorname{Cov}[D] = \frac1{N^2}\sum_i \frac{\Sigma_i}{B}.

Compagnoni et al., AISTATS 2025, Sec. 2 (DSGD and its SDE, *recalled*); the moments are
*derived* (independent workers).
"""

from __future__ import annotations

from typing import Any

import torch

from theorykit.methods.base import Method, Send, StepMoments, worker_sum
from theorykit.methods.registry import register
from theorykit.noise import NoiseModel

__all__ = ["DSGD"]


@register
class DSGD(Method):
    """Distributed SGD: average of the N stochastic gradients."""

    name = "dsgd"
    label = "DSGD"
    title = "Distributed SGD"
    reference = "Compagnoni et al., AISTATS 2025, Sec. 2 [recalled]"
    update_latex = r"x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^{N} g_i"

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        """The message is the stochastic gradient itself, sent dense."""
        send = send or self.sender(generator)
        return send(grads, dense=True), None

    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        g, d, n, b = self._setup(grad, noise, n_workers, batch)
        assumptions = self._base_assumptions(noise)
        cov = worker_sum(n, lambda i: noise.cov(i, d, b, assumptions),
                         homogeneous=not noise.heterogeneous) / n**2
        return StepMoments(g, cov, assumptions)
