r"""The Itô descent inequality of D(C)SGD with a learning-rate schedule under
(L0, L1)-smoothness, the condition it puts on the schedule and the normalized DCSGD schedule
that meets it — derived here by SymPy (the derivation is written out in the module doc of
:mod:`theorykit.rules.l0l1`).

Source: Compagnoni, Islamov, Orvieto & Gorbunov, arXiv 2506.00181 (2025); digest
``docs/theory/sde_papers.md`` §3. The conclusions are the paper's (abstract, *read*); every
formula below is *derived* from the SDEs of :mod:`theorykit.sde` (the papers' as
*recalled*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from theorykit.errors import AssumptionError, InputError
from theorykit.schedules import GradientNormalized, PolynomialDecay, Schedule
from theorykit.sde.sde import SDE
from theorykit.symbols import (
    DESCENT_KEPT,
    DIM,
    ETA,
    GRAD_NORM,
    L0_SMOOTH,
    L1_SMOOTH,
    N_WORKERS,
    NORM_C0,
    NORM_C1,
    OMEGA,
    SCHEDULE,
    SCHEDULE_BASE,
    SIGMA0_AFFINE,
    SIGMA1_AFFINE,
    TRACE_H_SIGMA,
)
from theorykit.validate import nonneg_float, positive_float

__all__ = [
    "SYM",
    "DescentInequality",
    "dcsgd_sigma",
    "degree_of_normalization",
    "descent_inequality",
    "generator",
    "normalized_schedule",
    "sign_noise_bound",
]

SYM: dict[str, sp.Symbol] = {
    "eta": ETA,
    "m": SCHEDULE,
    "N": N_WORKERS,
    "G": GRAD_NORM,
    "L0": L0_SMOOTH,
    "L1": L1_SMOOTH,
    "omega": OMEGA,
    "sigma0": SIGMA0_AFFINE,
    "sigma1": SIGMA1_AFFINE,
    "theta": DESCENT_KEPT,
    "T": TRACE_H_SIGMA,
    "c0": NORM_C0,
    "c1": NORM_C1,
    "mhat": SCHEDULE_BASE,
    "d": DIM,
}
"""The symbols of the derivation by short key (all from :mod:`theorykit.symbols`): η (base
LR), η(t) (schedule), N, G = ‖∇f‖, L0, L1, ω, σ0, σ1 (affine variance), θ (descent fraction
kept), tr(HΣ), c0, c1, η̂(t), d."""


def generator(sde: SDE, f: sp.Expr, schedule: sp.Expr | None = None) -> sp.Expr:
    r"""The Itô generator of the scheduled SDE :math:`dX = m\,b\,dt +
    m\sqrt{\eta}\,\Sigma^{1/2}dW` applied to f:
    :math:`\mathcal L f = m\,b\cdot\nabla f + \frac{m^2\eta}{2}\operatorname{tr}(\nabla^2 f\,
    \Sigma)` (Itô's formula, standard; ``sde.diffusion_cov`` is Σ = Cov of one step's
    direction, ``sde.lr`` is η). ``schedule``: the multiplier m (default the symbol η(t))."""
    if sde.grad_symbols:
        raise InputError("generator needs an SDE derived for a problem (state x), not for a "
                         "generic gradient")
    m = SYM["m"] if schedule is None else sp.sympify(schedule)
    x = list(sde.x)
    grad = sp.Matrix([sp.diff(f, s) for s in x])
    H = sp.hessian(f, x)
    first = (sde.drift.T * grad)[0, 0]
    second = (H * sde.diffusion_cov).trace()
    return m * first + m**2 * sp.sympify(sde.lr) / 2 * second


def dcsgd_sigma(grad: sp.Matrix, noise_var: Sequence[sp.Expr], omega: sp.Expr) -> sp.Matrix:
    r""":math:`\Sigma_{DCSGD} = \Sigma/B + \omega\operatorname{diag}(g^2 + \operatorname{diag}
    (\Sigma)/B)` for homogeneous workers with diagonal batch noise ``noise_var`` (= diag Σ/B)
    and unbiased compressors attaining their ω bound (Bernoulli: exact) —
    docs/theory/sde_papers.md §2.2,
    written out independently of :mod:`theorykit.methods` so the generator identity checks
    one against the other (*recalled* form, MC-checked in the digest)."""
    d = len(grad)
    out = sp.zeros(d, d)
    for j in range(d):
        out[j, j] = noise_var[j] + omega * (grad[j] ** 2 + noise_var[j])
    return out


@dataclass
class DescentInequality:
    """The derived descent inequality and schedule condition (module doc). All fields are
    SymPy expressions in :data:`SYM`."""

    generator_form: sp.Expr
    trace_bound: sp.Expr
    rhs: sp.Expr
    cubic: sp.Expr
    omega_eff: sp.Expr
    schedule_cap: sp.Expr
    cap_large_g: sp.Expr
    c0_min: sp.Expr
    c1_min: sp.Expr
    normalized_rhs: sp.Expr
    assumptions: list[str]

    def coeffs(self) -> dict[int, sp.Expr]:
        """Coefficients of the bound as a polynomial in G."""
        p = sp.Poly(sp.expand(self.rhs), SYM["G"])
        return {k[0]: sp.factor(c) for k, c in p.terms()}

    def latex(self) -> dict[str, str]:
        return {k: sp.latex(getattr(self, k)) for k in (
            "generator_form", "trace_bound", "rhs", "cubic", "omega_eff", "schedule_cap",
            "cap_large_g", "c0_min", "c1_min", "normalized_rhs")}


def descent_inequality(theta: Any = None) -> DescentInequality:
    r"""Derive the bound, its cubic term, the schedule cap and the minimal normalization
    (c0, c1) with SymPy (module doc). ``theta``: the fraction of the descent
    :math:`\eta(t)G^2` kept (symbol θ by default; 1/2 gives the digest's
    :math:`\eta(t)\lesssim N/(\eta L_1\omega G)`). *Derived.*"""
    s = SYM
    th = s["theta"] if theta is None else sp.nsimplify(theta)
    if th.is_number and not (0 < th < 1):
        raise InputError(f"theta must be in (0, 1), got {theta!r}")
    eta, m, N, G = s["eta"], s["m"], s["N"], s["G"]
    L0, L1, om, s0, s1 = s["L0"], s["L1"], s["omega"], s["sigma0"], s["sigma1"]
    gen = -m * G**2 + eta * m**2 / (2 * N) * s["T"]
    trace_sigma = om * G**2 + (1 + om) * (s0**2 + s1**2 * G**2)
    tb = (L0 + L1 * G) * trace_sigma
    rhs = sp.expand(gen.subs(s["T"], tb))
    cubic = sp.factor(sp.Poly(rhs, G).coeff_monomial(G**3) * G**3)
    om_eff = sp.factor(sp.Poly(sp.expand(trace_sigma), G).coeff_monomial(G**2))
    # the G-growing Itô terms (degree >= 2 in G) against a fraction (1 - theta) of the descent
    growing = eta * m**2 / (2 * N) * (L0 + L1 * G) * om_eff * G**2
    cap = sp.solve(sp.Eq(growing, (1 - th) * m * G**2), m)
    cap = [c for c in cap if c != 0]
    if len(cap) != 1:  # pragma: no cover - a linear equation in m after dividing by m G^2
        raise AssumptionError("no unique schedule cap")
    cap_m = sp.factor(cap[0])
    cap_large = sp.limit(cap_m * G, G, sp.oo) / G
    # normalized schedule m = mhat/(c0 + c1 G), mhat <= 1: need (c0 + c1 G) >= mhat / cap(G)
    # for every G >= 0; the difference is linear in G: both coefficients >= 0 at mhat = 1
    c0, c1 = s["c0"], s["c1"]
    diff = sp.expand((c0 + c1 * G) - 1 / cap_m)
    c0_min = sp.solve(sp.Poly(diff, G).coeff_monomial(1), c0)[0]
    c1_min = sp.solve(sp.Poly(diff, G).coeff_monomial(G), c1)[0]
    mn = s["mhat"] / (c0 + c1 * G)
    norm_rhs = -th * mn * G**2 + eta * mn**2 / (2 * N) * (L0 + L1 * G) * (1 + om) * s0**2
    return DescentInequality(
        generator_form=gen, trace_bound=tb, rhs=rhs, cubic=cubic, omega_eff=om_eff,
        schedule_cap=cap_m, cap_large_g=sp.simplify(cap_large), c0_min=sp.factor(c0_min),
        c1_min=sp.factor(c1_min), normalized_rhs=norm_rhs,
        assumptions=[
            "f is (L0, L1)-smooth: ||Hess f||_2 <= L0 + L1 ||grad f||",
            "tr(H Sigma) <= ||H||_2 tr(Sigma) for PSD Sigma",
            "unbiased compressors in U(omega), homogeneous workers, independent of the noise",
            "affine variance: tr(Sigma_i)/B <= sigma0^2 + sigma1^2 ||grad f||^2",
            "normalized schedule: mhat(t) <= 1 (c0, c1 then hold for every gradient norm)",
        ])


def sign_noise_bound() -> sp.Expr:
    r"""DSignSGD's Itô term bound :math:`\frac{\eta\,\eta(t)^2}{2N}d(L_0 + L_1G)`: from
    :math:`\operatorname{Cov}[D]\preceq I/N` (each sign has variance <= 1, workers
    independent), so :math:`\frac{\eta\eta(t)^2}{2}\operatorname{tr}(H\operatorname{Cov}[D])
    \le\frac{\eta\eta(t)^2}{2N}\|H\|_2 d`. Linear in G. *Derived.*"""
    s = SYM
    return s["eta"] * s["m"] ** 2 / (2 * s["N"]) * s["d"] * (s["L0"] + s["L1"] * s["G"])


def degree_of_normalization(eta: Any, n_workers: Any, L0: Any, L1: Any, omega: Any,
                            sigma1: Any = 0.0, theta: float = 0.5) -> tuple[float, float]:
    r"""``(c0, c1)`` of the normalized DCSGD schedule: :math:`c_1 = \eta L_1\omega_{\rm eff}
    / (2(1-\theta)N)` (the degree of normalization) and
    :math:`c_0 = \max(1, \eta L_0\omega_{\rm eff}/(2(1-\theta)N))` (at least 1 so the
    normalized schedule never exceeds its base), with
    :math:`\omega_{\rm eff} = \omega + (1+\omega)\sigma_1^2` — evaluated from
    :func:`descent_inequality`. *Derived.*"""
    vals = {SYM["eta"]: positive_float("eta", eta),
            SYM["N"]: positive_float("number of workers N", n_workers),
            SYM["L0"]: nonneg_float("L0", L0), SYM["L1"]: nonneg_float("L1", L1),
            SYM["omega"]: nonneg_float("omega", omega),
            SYM["sigma1"]: nonneg_float("sigma1", sigma1)}
    th = float(theta)
    if not 0 < th < 1:
        raise InputError(f"theta must be in (0, 1), got {theta!r}")
    di = descent_inequality(sp.nsimplify(th))
    c0 = float(di.c0_min.subs(vals))
    c1 = float(di.c1_min.subs(vals))
    return max(1.0, c0), c1


def normalized_schedule(eta: Any, n_workers: Any, L0: Any, L1: Any, omega: Any,
                        sigma1: Any = 0.0, base: Schedule | None = None,
                        theta: float = 0.5) -> GradientNormalized:
    """The normalized DCSGD schedule η(t) = base(t)/(c0 + c1‖∇f‖) with the derived
    (c0, c1) (:func:`degree_of_normalization`); ``base`` defaults to
    ``PolynomialDecay(0.6)``."""
    c0, c1 = degree_of_normalization(eta, n_workers, L0, L1, omega, sigma1, theta)
    return GradientNormalized(PolynomialDecay(0.6) if base is None else base, c0=c0, c1=c1)

