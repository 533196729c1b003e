r"""A user-defined distributed method in one file: DSGD with the Gaussian mechanism.

Each worker adds independent isotropic Gaussian noise of scale ``tau`` to its stochastic
gradient before sending it (the noise step of DP-SGD, Abadi et al., CCS 2016, without
clipping [recalled]):

.. math:: x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^N (g_i + \tau\,\xi_i),
   \qquad \xi_i \sim \mathcal N(0, I_d).

One-step moments (derived here, independent workers and draws): :math:`E[D] = \nabla f` and
:math:`\operatorname{Cov}[D] = \frac{1}{N^2}\sum_i\big(\Sigma_i/B + \tau^2 I\big)`, which is
all :func:`theorykit.sde.derive` needs. Try it::

    theorykit derive --method examples.my_method:MyMethod --dim 2 --workers 4

and in the simulator::

    from theorykit.simulate import run_discrete
    run_discrete(MyMethod(tau=0.5), problem, "gaussian", eta=0.05, steps=100, replicas=64,
                 n_workers=4, x0=1.0)
"""

from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from theorykit.methods.base import Method, Send, StepMoments, worker_sum
from theorykit.noise import NoiseModel


class MyMethod(Method):
    """DSGD whose workers add N(0, tau^2 I) to their gradients (Gaussian mechanism)."""

    name = "gaussian_dsgd"
    label = "GaussianDSGD"
    title = "DSGD with the Gaussian mechanism (user example)"
    reference = "examples/my_method.py (moments derived in the module docstring)"
    update_latex = r"x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^{N} (g_i + \tau \xi_i)"

    def __init__(self, tau: float = 0.5) -> None:
        self.tau = tau

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        send = send or self.sender(generator)
        xi = torch.randn(grads.shape, generator=generator, dtype=grads.dtype,
                         device=grads.device)
        return send(grads + float(self.tau) * xi, dense=True), None

    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        g, d, n, b = self._setup(grad, noise, n_workers, batch)
        assumptions = [*self._base_assumptions(noise),
                       "each worker adds tau * N(0, I), independent of everything else"]
        tau2 = sp.nsimplify(self.tau) ** 2
        cov = worker_sum(n, lambda i: noise.cov(i, d, b, assumptions) + tau2 * sp.eye(d),
                         homogeneous=not noise.heterogeneous) / n**2
        return StepMoments(g, cov, assumptions)

    def __repr__(self) -> str:
        return f"MyMethod(tau={self.tau!r})"
