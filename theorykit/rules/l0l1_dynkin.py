r"""Dynkin's formula along Euler–Maruyama paths of a scheduled SDE: a Monte Carlo check of
the Itô generator that :func:`theorykit.rules.l0l1_descent.generator` derives.

For the exact SDE, :math:`E f(X_T) - f(X_0) = E\int_0^T\mathcal Lf\,ds` (Dynkin's formula,
standard); :func:`dynkin_check` measures both sides per replica, with the Itô martingale
part as a zero-mean control variate, for the (L0, L1) claims of Compagnoni, Islamov, Orvieto
& Gorbunov, arXiv 2506.00181 (2025) (``derivations/compagnoni2025_l0l1.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.problems import Problem
from theorykit.rules.l0l1_check import is_separable
from theorykit.schedules import Schedule
from theorykit.sde.sde import SDE

__all__ = ["DynkinCheck", "dynkin_check"]

Tensor = torch.Tensor


@dataclass
class DynkinCheck:
    """Per-replica Dynkin residuals along Euler–Maruyama paths (see :func:`dynkin_check`).

    ``delta``: f(X_T) - f(X_0) minus the Itô martingale increments (control variate, mean
    exactly 0); ``integral``: Σ_k 𝓛f(t_k, X_k) dt with the generator under test;
    ``remainder``: Σ_k R_k, the Euler one-step remainder E[f(X_{k+1}) | X_k] - f(X_k) -
    𝓛f dt (Gauss–Hermite, exact up to quadrature for separable f). All arrays ``(R,)``;
    the curves are means at the recorded steps."""

    delta: np.ndarray
    integral: np.ndarray
    integral_first_order: np.ndarray
    remainder: np.ndarray
    times: list[float]
    ef_curve: list[float]
    ef_pred_curve: list[float]
    ef_pred_first_curve: list[float]
    f0: float
    integral_ito: np.ndarray | None = None
    """Σ_k m_k² · (second-order part of 𝓛f)(X_k) dt: the Itô term alone."""
    integral_ito_linear_m: np.ndarray | None = None
    """Σ_k m_k · (second-order part)(X_k) dt: the Itô term with the schedule entering
    linearly instead of squared (what a wrong scaling of the diffusion would predict)."""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Σ_k h(X_k, m_k) dt per replica for each integrand h passed in ``extra``."""
    min_coordinate: np.ndarray | None = None
    """Per replica, the smallest coordinate visited along the path."""


def dynkin_check(sde: SDE, problem: Problem, params: dict[str, float], *, eta: float,
                 schedule: Schedule, x0: Sequence[float], steps: int, dt: float,
                 replicas: int, seed: int, record_every: int = 1,
                 gh_nodes: int = 40,
                 extra: dict[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
                 second_order_cv: bool = False) -> DynkinCheck:
    r"""Simulate the scheduled SDE with Euler–Maruyama (diagonal noise) and measure, per
    replica, :math:`f(X_T) - f(X_0) - M_T` against :math:`\int_0^T\mathcal Lf\,ds` (Dynkin's
    formula, E of the two agree for the exact SDE), where :math:`M_T = \sum_k \nabla
    f(X_k)\cdot m_k G_k\xi_k\sqrt{dt}` is the Itô martingale part (a control variate with
    mean exactly zero) and :math:`\mathcal L f` is the generator expression
    :math:`-m\|\nabla f\|^2 + \frac{\eta m^2}{2N}\operatorname{tr}(\nabla^2 f\,\Sigma)` taken
    from :func:`~theorykit.rules.l0l1_descent.generator` (lambdified). Also returns the
    first-order-only integral (:math:`-m\|\nabla f\|^2`, a negative control), the Itô part
    alone (with m² and, for comparison, with m), and the Euler remainder (Gauss–Hermite with
    ``gh_nodes`` nodes;
    ``gh_nodes=0`` skips it and returns zeros). ``extra``: integrands ``h(X, m)`` (``X``:
    ``(R, d)`` states, ``m``: ``(R,)`` schedule values) whose left-point Riemann sums are
    returned per replica in ``DynkinCheck.extra``. ``second_order_cv``: also subtract the
    second-order martingale :math:`\tfrac12\sum_j \partial_{jj} f(X_k)\,(\Delta_j^2 -
    E\Delta_j^2)` of the noise increments Δ (mean exactly zero given X_k: a control
    variate that removes most of the per-replica variance of the residual; the problem
    is separable, so the Hessian is diagonal)."""
    if sde.grad_symbols or not sde.is_diagonal:
        raise InputError("dynkin_check needs a diagonal SDE derived for the problem")
    if not is_separable(problem):
        raise InputError("dynkin_check's Euler remainder needs a separable problem")
    from theorykit.problems import torch_lambdify

    p = {**params, "eta": eta}
    drift_fn, diff_fn = sde.lambdify("torch", p)
    f = problem.f
    sub = {sde.params[k]: v for k, v in p.items() if k in sde.params}
    second = sp.Rational(1, 2) * sp.sympify(sde.lr) * (
        sp.hessian(f, list(sde.x)) * sde.diffusion_cov).trace()
    first = (sde.drift.T * problem.grad())[0, 0]
    gen_fn = torch_lambdify([first.xreplace(sub), second.xreplace(sub)], list(sde.x))
    hdiag_fn = torch_lambdify([sp.diff(f, xj, 2) for xj in sde.x], list(sde.x))
    gen = torch.Generator().manual_seed(int(seed))
    X = torch.as_tensor(np.asarray(x0, float), dtype=torch.float64).expand(replicas, -1).clone()
    nodes, weights = np.polynomial.hermite_e.hermegauss(max(int(gh_nodes), 1))
    zq = torch.as_tensor(nodes, dtype=torch.float64)
    wq = torch.as_tensor(weights / weights.sum(), dtype=torch.float64)
    delta = torch.zeros(replicas, dtype=torch.float64)
    integ = torch.zeros_like(delta)
    integ1 = torch.zeros_like(delta)
    rem = torch.zeros_like(delta)
    ito = torch.zeros_like(delta)
    ito_lin = torch.zeros_like(delta)
    extra = dict(extra or {})
    ext = {k: torch.zeros_like(delta) for k in extra}
    xmin = X.amin(-1).clone()
    f0 = float(problem.loss(X[:1])[0])
    fX = problem.loss(X)
    times, ef, efp, efp1 = [0.0], [f0], [f0], [f0]
    sq = math.sqrt(dt)
    for k in range(steps):
        t = k * dt
        g = problem.grad(X)
        m = schedule.at_time(t, eta, g.norm(dim=-1)) if schedule.needs_grad_norm \
            else schedule.at_time(t, eta)
        m = m if isinstance(m, Tensor) else torch.full_like(delta, float(m))
        b = drift_fn(t, X)
        s = diff_fn(t, X)
        if s.ndim == 1:
            s = s.unsqueeze(0)
        s = s.expand_as(X)
        parts = gen_fn(X)
        lf = m * parts[:, 0] + m**2 * parts[:, 1]
        mu = (m.unsqueeze(-1) * b) * dt
        sd = m.unsqueeze(-1) * s * sq
        # Euler one-step conditional expectation of f (separable f: one node for all coords)
        if gh_nodes > 0:
            ef_next = sum(wq[q] * problem.loss(X + mu + sd * zq[q]) for q in range(len(zq)))
            rem += ef_next - fX - lf * dt
        ito += m**2 * parts[:, 1] * dt
        ito_lin += m * parts[:, 1] * dt
        for key, h in extra.items():
            ext[key] += h(X, m) * dt
        xi = torch.randn(X.shape, generator=gen, dtype=torch.float64)
        inc = sd * xi
        Xn = X + mu + inc
        fn = problem.loss(Xn)
        delta += fn - fX - (g * inc).sum(-1)
        if second_order_cv:
            delta -= 0.5 * (hdiag_fn(X) * (inc**2 - sd**2)).sum(-1)
        integ += lf * dt
        integ1 += m * parts[:, 0] * dt
        X, fX = Xn, fn
        xmin = torch.minimum(xmin, X.amin(-1))
        if (k + 1) % record_every == 0 or k + 1 == steps:
            times.append((k + 1) * dt)
            ef.append(float(fX.mean()))
            efp.append(f0 + float(integ.mean()))
            efp1.append(f0 + float(integ1.mean()))
    if not torch.isfinite(X).all():
        raise InputError("dynkin_check: the paths left the finite range; shorten the horizon")
    return DynkinCheck(delta=delta.numpy(), integral=integ.numpy(),
                       integral_first_order=integ1.numpy(), remainder=rem.numpy(),
                       times=times, ef_curve=ef, ef_pred_curve=efp, ef_pred_first_curve=efp1,
                       f0=f0, integral_ito=ito.numpy(), integral_ito_linear_m=ito_lin.numpy(),
                       extra={k: v.numpy() for k, v in ext.items()},
                       min_coordinate=xmin.numpy())
