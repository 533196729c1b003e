r"""(L0, L1)-smoothness: the checker, the Itô descent inequality for D(C)SGD, the condition
on the learning-rate schedule and the normalized DCSGD schedule it implies.

Source: Compagnoni, Islamov, Orvieto & Gorbunov, *On the Interaction of Noise, Compression
Role, and Adaptivity under (L0, L1)-Smoothness: An SDE-based Approach*, arXiv 2506.00181
(2025); digest ``docs/theory/sde_papers.md`` §3. Provenance, honestly: the
conclusions (D(C)SGD with a pre-scheduled decaying learning rate fails unless the schedule
depends inversely on the gradient norm; normalization is the fix; its *degree* is set by the
noise, the regularity and the compression rate; DSignSGD converges with standard schedules)
are in the paper's abstracts (*read*); every formula below is *derived* here by SymPy from the
SDEs of :mod:`theorykit.sde` (which are the papers' as *recalled*).

(L0, L1)-smoothness (Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1, *recalled*)
------------------------------------------------------------------------------
.. math:: \|\nabla^2 f(x)\|_2 \le L_0 + L_1 \|\nabla f(x)\|_2 .

:func:`check_l0l1` verifies it for a :class:`~theorykit.problems.Problem` symbolically when
f is separable (then the 1-D inequality :math:`|f_j''| \le L_0 + L_1|f_j'|` per coordinate
is necessary and sufficient when each :math:`f_j'` vanishes somewhere; its supremum is found
with ``sympy.solve`` on the critical points, the endpoint and the limit at infinity) and
numerically on samples (random directions on log-spaced radii plus the axes), and reports
whether f is L-smooth (symbolically: :math:`\lim_{|x_j|\to\infty}|f_j''| = \infty`;
numerically: growth of :math:`\sup\|\nabla^2 f\|` over shells).

The descent inequality (*derived*, :func:`descent_inequality`)
--------------------------------------------------------------
With a schedule :math:`\eta(t)\in(0,1]` the DCSGD SDE reads
:math:`dX = -\eta(t)\nabla f\,dt + \eta(t)\sqrt{\eta/N}\,\Sigma^{1/2}dW`
(docs/theory/sde_papers.md §3.1),
and Itô's formula (the generator, :func:`generator`) gives

.. math:: \frac{d}{dt}E f(X_t) = E\Big[-\eta(t)\|\nabla f\|^2
   + \frac{\eta\,\eta(t)^2}{2N}\operatorname{tr}(\nabla^2 f\,\Sigma)\Big].

For PSD Σ, :math:`\operatorname{tr}(H\Sigma)\le\|H\|_2\operatorname{tr}\Sigma`; with
(L0, L1)-smoothness, unbiased compressors in U(ω) and affine-variance noise
:math:`\operatorname{tr}\Sigma_i/B \le \sigma_0^2 + \sigma_1^2\|\nabla f\|^2`,
:math:`\operatorname{tr}\Sigma = \omega G^2 + (1+\omega)\operatorname{tr}\Sigma_i/B`
(G = ‖∇f‖), so

.. math:: \frac{d}{dt}E f \le E\Big[-\eta(t)G^2 + \frac{\eta\,\eta(t)^2}{2N}(L_0 + L_1G)
   \big(\omega_{\rm eff} G^2 + (1+\omega)\sigma_0^2\big)\Big],\qquad
   \omega_{\rm eff} = \omega + (1+\omega)\sigma_1^2,

whose **cubic term** :math:`\frac{\eta\,\eta(t)^2}{2N}L_1\omega_{\rm eff}G^3` no fixed
schedule dominates for large G. Keeping a fraction θ of the descent
(:math:`\frac{\eta\eta(t)^2}{2N}(L_0+L_1G)\omega_{\rm eff}G^2 \le (1-\theta)\eta(t)G^2`)
needs

.. math:: \eta(t) \le \frac{2(1-\theta)N}{\eta\,\omega_{\rm eff}(L_0 + L_1 G)}
   \;\sim\; \frac{2(1-\theta)N}{\eta L_1\omega_{\rm eff}\,G}\quad (G\to\infty),

an inverse dependence on the gradient norm. The normalized schedule
:math:`\eta(t) = \hat\eta(t)/(c_0 + c_1 G)` with :math:`\hat\eta\le1` meets it for every G
iff :math:`c_0 \ge \frac{\eta\omega_{\rm eff}L_0}{2(1-\theta)N}` and

.. math:: c_1 \ge \frac{\eta\,L_1\,\omega_{\rm eff}}{2(1-\theta)N}
   = \frac{\eta L_1(\omega + (1+\omega)\sigma_1^2)}{2(1-\theta)N},

the *degree of normalization* (:func:`degree_of_normalization`; θ = 1/2 by default).

DSignSGD (*derived*): :math:`\operatorname{Cov}[D] = \frac1{N^2}\sum_i
\operatorname{diag}(1 - m_i^2) \preceq I/N` whatever the noise, so its Itô term is at most
:math:`\frac{\eta\,\eta(t)^2}{2N}d(L_0 + L_1G)`: **linear** in G (:func:`sign_noise_bound`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import AssumptionError, InputError
from theorykit.problems import Problem
from theorykit.schedules import GradientNormalized, PolynomialDecay, Schedule
from theorykit.sde.sde import ETA, SDE

__all__ = [
    "SYM",
    "DescentInequality",
    "DynkinCheck",
    "GuardedRun",
    "L0L1Report",
    "check_l0l1",
    "dcsgd_sigma",
    "degree_of_normalization",
    "descent_inequality",
    "discrete_step",
    "dynkin_check",
    "generator",
    "guarded_run",
    "normalized_schedule",
    "sde_step",
    "sign_noise_bound",
    "smallest_l0",
]

Tensor = torch.Tensor

# ---------------------------------------------------------------------- symbols
SYM: dict[str, sp.Symbol] = {
    "eta": ETA,
    "m": sp.Symbol(r"\eta(t)", positive=True),
    "N": sp.Symbol("N", positive=True),
    "G": sp.Symbol("G", nonnegative=True),
    "L0": sp.Symbol("L_0", nonnegative=True),
    "L1": sp.Symbol("L_1", nonnegative=True),
    "omega": sp.Symbol("omega", nonnegative=True),
    "sigma0": sp.Symbol("sigma_0", nonnegative=True),
    "sigma1": sp.Symbol("sigma_1", nonnegative=True),
    "theta": sp.Symbol("theta", positive=True),
    "T": sp.Symbol(r"\mathrm{tr}(H\Sigma)", real=True),
    "c0": sp.Symbol("c_0", positive=True),
    "c1": sp.Symbol("c_1", nonnegative=True),
    "mhat": sp.Symbol(r"\hat\eta(t)", positive=True),
    "d": sp.Symbol("d", positive=True, integer=True),
}
"""The symbols of this module: η (base LR), η(t) (schedule), N, G = ‖∇f‖, L0, L1, ω, σ0, σ1
(affine variance), θ (descent fraction kept), tr(HΣ), c0, c1, η̂(t), d."""


def _nonneg(name: str, v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(x) or x < 0:
        raise InputError(f"{name} must be finite and >= 0, got {v!r}")
    return x


def _pos(name: str, v: Any) -> float:
    x = _nonneg(name, v)
    if x == 0:
        raise InputError(f"{name} must be > 0, got {v!r}")
    return x


# ====================================================================== the checker
@dataclass
class L0L1Report:
    """Result of :func:`check_l0l1`.

    ``symbolic``: ``"holds"``, ``"violated"`` or ``"n/a"`` (not separable / SymPy could not
    decide); ``l0_min``: per coordinate, the smallest L0 that works with the given L1
    (SymPy); ``hessian_unbounded``: symbolic verdict on L-smoothness (True: not L-smooth;
    None: undecided); numeric: ``n_points`` samples, the largest excess
    ``‖H‖ - L0 - L1‖g‖`` (<= 0 means the inequality held at every sample), the worst point,
    and the max ‖H‖ per sampled radius shell (``shells``: (radius, max ‖H‖)).
    """

    problem: str
    L0: float
    L1: float
    symbolic: str
    l0_min: list[sp.Expr] | None
    hessian_unbounded: bool | None
    n_points: int
    max_excess: float
    max_rel_excess: float
    worst_point: list[float]
    shells: list[tuple[float, float]]
    tolerance: float
    notes: list[str] = field(default_factory=list)

    @property
    def numeric_holds(self) -> bool:
        return self.max_rel_excess <= self.tolerance

    @property
    def holds(self) -> bool:
        return self.numeric_holds and self.symbolic != "violated"

    @property
    def hessian_growth(self) -> float:
        """max ‖H‖ on the outermost shell over that on the shell at half its radius."""
        if len(self.shells) < 2:
            return float("nan")
        r_out, h_out = self.shells[-1]
        best = min(self.shells[:-1], key=lambda s: abs(s[0] - r_out / 2))
        return h_out / best[1] if best[1] > 0 else float("inf")

    @property
    def l_smooth(self) -> bool:
        """False when f is not L-smooth (symbolic verdict if decided, else numeric growth of
        sup ‖H‖ by more than 2x when the radius doubles)."""
        if self.hessian_unbounded is not None:
            return not self.hessian_unbounded
        return not self.hessian_growth > 2.0

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "L0": self.L0, "L1": self.L1,
                "symbolic": self.symbolic,
                "l0_min": None if self.l0_min is None else [sp.sstr(e) for e in self.l0_min],
                "hessian_unbounded": self.hessian_unbounded, "n_points": self.n_points,
                "max_excess": self.max_excess, "max_rel_excess": self.max_rel_excess,
                "worst_point": self.worst_point, "shells": self.shells,
                "hessian_growth": self.hessian_growth, "l_smooth": self.l_smooth,
                "tolerance": self.tolerance, "notes": self.notes}


def _separable(problem: Problem) -> bool:
    H = problem.hessian()
    x = problem.symbols
    for i in range(problem.d):
        for j in range(problem.d):
            if i != j and sp.simplify(H[i, j]) != 0:
                return False
        others = set(x) - {x[i]}
        if H[i, i].free_symbols & others or problem.grad()[i].free_symbols & others:
            return False
    return True


def _coordinate_sup(f2: sp.Expr, f1: sp.Expr, xj: sp.Symbol, L1: sp.Expr
                    ) -> tuple[sp.Expr | None, bool | None]:
    """sup over x_j of |f''| - L1 |f'| (the smallest L0 for this coordinate) and whether
    |f''| is unbounded, by SymPy on each half-line (u > 0, x_j = ±u)."""
    u = sp.Symbol("u", positive=True)
    sups: list[sp.Expr] = []
    unbounded = False
    for s in (1, -1):
        a2 = sp.simplify(sp.Abs(f2.subs(xj, s * u)))
        a1 = sp.simplify(sp.Abs(f1.subs(xj, s * u)))
        if a2.has(sp.Abs) or a1.has(sp.Abs):
            return None, None
        h = sp.simplify(a2 - L1 * a1)
        try:
            crit = sp.solve(sp.diff(h, u), u)
        except (NotImplementedError, TypeError):
            return None, None
        if not isinstance(crit, list):
            return None, None
        cands = [sp.limit(h, u, 0, "+"), sp.limit(h, u, sp.oo)]
        for r in crit:
            if r.is_real is False or (r.is_number and not r.is_positive):
                continue
            cands.append(sp.simplify(h.subs(u, r)))
        try:
            sups.append(sp.Max(*cands))
        except (TypeError, ValueError):
            return None, None
        lim = sp.limit(a2, u, sp.oo)
        unbounded = unbounded or lim in (sp.oo,)
    return sp.simplify(sp.Max(*sups)), unbounded


def smallest_l0(problem: Problem, L1: Any) -> list[sp.Expr] | None:
    """Per coordinate, the smallest L0 such that |f_j''| <= L0 + L1 |f_j'| (SymPy; separable
    problems only, else None). *Derived*."""
    L1v = sp.nsimplify(_nonneg("L1", L1)) if not isinstance(L1, sp.Basic) else L1
    if not _separable(problem):
        return None
    H, g = problem.hessian(), problem.grad()
    out = []
    for j, xj in enumerate(problem.symbols):
        sup, _ = _coordinate_sup(H[j, j], g[j], xj, L1v)
        if sup is None:
            return None
        out.append(sup)
    return out


def _samples(d: int, radius: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points: random directions on log-spaced radii in [1e-2, radius] plus the axes."""
    rng = np.random.default_rng(seed)
    n_r = 24
    radii = np.geomspace(1e-2, radius, n_r)
    per = max(n // n_r, 2)
    pts, rad = [], []
    for r in radii:
        v = rng.standard_normal((per, d))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ax = np.vstack([np.eye(d), -np.eye(d)])
        pts.append(np.vstack([v, ax]) * r)
        rad.append(np.full(per + 2 * d, r))
    return np.vstack(pts), np.concatenate(rad)


def check_l0l1(problem: Problem, L0: Any = None, L1: Any = None, *, radius: float = 8.0,
               samples: int = 2400, seed: int = 0, tolerance: float = 1e-9,
               raise_on_violation: bool = True) -> L0L1Report:
    r"""Check :math:`\|\nabla^2 f\|_2 \le L_0 + L_1\|\nabla f\|_2` for ``problem``
    symbolically (separable f) and numerically on ``samples`` points with ‖x‖ <= ``radius``
    (float64; a sample violates it when the excess exceeds ``tolerance`` relative to
    L0 + L1‖∇f‖, i.e. more than rounding). ``L0``/``L1`` default to the problem's declared
    constants. Raises :class:`InputError` for negative constants and
    :class:`AssumptionError` (one line, naming the point) when the inequality fails, unless
    ``raise_on_violation=False``."""
    if not isinstance(problem, Problem):
        raise InputError(f"check_l0l1 needs a Problem, got {type(problem).__name__}")
    L0 = problem.L0 if L0 is None else L0
    L1 = problem.L1 if L1 is None else L1
    if L0 is None or L1 is None:
        raise InputError(f"{problem.name} declares no (L0, L1) constants; pass L0= and L1=")
    L0f, L1f = _nonneg("L0", L0), _nonneg("L1", L1)
    radius = _pos("radius", radius)
    notes: list[str] = []
    sym = "n/a"
    l0_min: list[sp.Expr] | None = None
    unbounded: bool | None = None
    if _separable(problem):
        H, g = problem.hessian(), problem.grad()
        l0_min, flags = [], []
        for j, xj in enumerate(problem.symbols):
            sup, unb = _coordinate_sup(H[j, j], g[j], xj, sp.nsimplify(L1f))
            if sup is None:
                l0_min = None
                notes.append(f"SymPy could not maximise |f''| - L1|f'| in {xj}")
                break
            l0_min.append(sup)
            flags.append(unb)
        if l0_min is not None:
            worst = max(float(e) for e in l0_min)
            sym = "holds" if worst <= L0f * (1 + 1e-12) + 1e-15 else "violated"
            unbounded = any(flags)
            notes.append("separable: ||H||_2 = max_j |f_j''| and each f_j' has a zero, so "
                         "the per-coordinate inequality is necessary and sufficient")
    else:
        notes.append("not separable: numeric check only")
    P, rad = _samples(problem.d, radius, samples, seed)
    X = torch.as_tensor(P, dtype=torch.float64)
    with torch.no_grad():
        Hn = torch.linalg.matrix_norm(problem.hessian(X), ord=2).numpy()
        Gn = problem.grad(X).norm(dim=-1).numpy()
    rhs = L0f + L1f * Gn
    excess = Hn - rhs
    rel = excess / np.maximum(rhs, 1e-300)
    if not np.all(np.isfinite(Hn)) or not np.all(np.isfinite(Gn)):
        raise InputError(f"{problem.name}: non-finite Hessian/gradient within radius "
                         f"{radius:g}; choose a smaller radius")
    k = int(np.argmax(rel))
    shells = [(float(r), float(Hn[rad == r].max())) for r in np.unique(rad)]
    rep = L0L1Report(problem=repr(problem), L0=L0f, L1=L1f, symbolic=sym, l0_min=l0_min,
                     hessian_unbounded=unbounded, n_points=len(P),
                     max_excess=float(excess.max()), max_rel_excess=float(rel[k]),
                     worst_point=P[k].tolist(), shells=shells, tolerance=tolerance,
                     notes=notes)
    if raise_on_violation and not rep.holds:
        if not rep.numeric_holds:
            raise AssumptionError(
                f"{problem.name} is not ({L0f:g}, {L1f:g})-smooth: at x = "
                f"{np.round(P[k], 4).tolist()} ||Hess|| = {Hn[k]:.6g} > L0 + L1||grad|| = "
                f"{rhs[k]:.6g}")
        raise AssumptionError(
            f"{problem.name} is not ({L0f:g}, {L1f:g})-smooth: the smallest L0 for L1 = "
            f"{L1f:g} is {max(float(e) for e in l0_min or [0]):.6g} (SymPy)")
    return rep


# ====================================================================== Itô generator
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
    vals = {SYM["eta"]: _pos("eta", eta), SYM["N"]: _pos("number of workers N", n_workers),
            SYM["L0"]: _nonneg("L0", L0), SYM["L1"]: _nonneg("L1", L1),
            SYM["omega"]: _nonneg("omega", omega), SYM["sigma1"]: _nonneg("sigma1", sigma1)}
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


# ====================================================================== Dynkin (MC) check
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
    from :func:`generator` (lambdified). Also returns the first-order-only integral
    (:math:`-m\|\nabla f\|^2`, a negative control), the Itô part alone (with m² and, for
    comparison, with m), and the Euler remainder (Gauss–Hermite with ``gh_nodes`` nodes;
    ``gh_nodes=0`` skips it and returns zeros). ``extra``: integrands ``h(X, m)`` (``X``:
    ``(R, d)`` states, ``m``: ``(R,)`` schedule values) whose left-point Riemann sums are
    returned per replica in ``DynkinCheck.extra``. ``second_order_cv``: also subtract the
    second-order martingale :math:`\tfrac12\sum_j \partial_{jj} f(X_k)\,(\Delta_j^2 -
    E\Delta_j^2)` of the noise increments Δ (mean exactly zero given X_k: a control
    variate that removes most of the per-replica variance of the residual; the problem
    is separable, so the Hessian is diagonal)."""
    if sde.grad_symbols or not sde.is_diagonal:
        raise InputError("dynkin_check needs a diagonal SDE derived for the problem")
    if not _separable(problem):
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


# ====================================================================== guarded runs
@dataclass
class GuardedRun:
    """Per-replica outcome of :func:`guarded_run`: ``diverged_at`` (step, or -1 if the
    replica stayed within the threshold), the final loss of each replica (NaN if it
    diverged), and the mean loss of the surviving replicas at the recorded steps."""

    diverged_at: np.ndarray
    final_loss: np.ndarray
    steps: list[int]
    loss_mean: list[float]
    loss_median: list[float]
    f0: float

    @property
    def frac_diverged(self) -> float:
        return float((self.diverged_at >= 0).mean())

    @property
    def first_divergence(self) -> int | None:
        k = self.diverged_at[self.diverged_at >= 0]
        return int(k.min()) if k.size else None


def guarded_run(step: Callable[[int, Tensor, torch.Generator], Tensor], problem: Problem,
                x0: Sequence[float], *, steps: int, replicas: int, seed: int,
                threshold: float, record_every: int = 1,
                record_at: Sequence[int] | None = None) -> GuardedRun:
    """Iterate ``X <- step(k, X, gen)`` on ``replicas`` copies from ``x0`` and track each
    replica's divergence (non-finite or max |x_j| > ``threshold``): a diverged replica is
    frozen and excluded from the loss statistics, so the fraction that diverged and the
    fate of the others are both reported (the driver of :mod:`theorykit.simulate` stops
    all replicas at the first divergence). Statistics are recorded every ``record_every``
    steps, or at the steps listed in ``record_at`` (e.g. log-spaced), and at the end."""
    gen = torch.Generator().manual_seed(int(seed))
    X = torch.as_tensor(np.asarray(x0, float), dtype=torch.float64).expand(replicas, -1).clone()
    f0 = float(problem.loss(X[:1])[0])
    div = torch.full((replicas,), -1, dtype=torch.long)
    alive = torch.ones(replicas, dtype=torch.bool)
    rec_steps, mean, med = [0], [f0], [f0]
    at = None if record_at is None else {int(k) for k in record_at}
    for k in range(steps):
        Xn = step(k, X, gen)
        bad = alive & ~(torch.isfinite(Xn).all(-1) & (Xn.abs().amax(-1) <= threshold))
        div[bad] = k + 1
        alive &= ~bad
        X = torch.where(alive.unsqueeze(-1), Xn, X)
        due = (k + 1) in at if at is not None else (k + 1) % record_every == 0
        if due or k + 1 == steps:
            rec_steps.append(k + 1)
            if alive.any():
                lv = problem.loss(X[alive])
                mean.append(float(lv.mean()))
                med.append(float(lv.median()))
            else:
                mean.append(float("nan"))
                med.append(float("nan"))
    fl = problem.loss(X)
    fl[~alive] = float("nan")
    return GuardedRun(diverged_at=div.numpy(), final_loss=fl.numpy(), steps=rec_steps,
                      loss_mean=mean, loss_median=med, f0=f0)


def discrete_step(method: Any, problem: Problem, noise: Any, eta: float, schedule: Schedule,
                  n_workers: int, batch: int = 1
                  ) -> Callable[[int, Tensor, torch.Generator], Tensor]:
    """One step of the real discrete method (its torch ``direction``, the noise sampler and
    the schedule multiplier; a gradient-normalized schedule gets the norm of the workers'
    mean stochastic gradient, as :func:`theorykit.simulate.run_discrete` does)."""

    def step(k: int, X: Tensor, gen: torch.Generator) -> Tensor:
        G = problem.grad(X)
        grads = G.unsqueeze(1) + noise.sample(X.shape[0], n_workers, problem.d, batch, gen,
                                              X.device, X.dtype)
        D = method.direction(grads, gen)
        if schedule.needs_grad_norm:
            mult = schedule(k, grads.mean(dim=1).norm(dim=-1)).unsqueeze(-1)
        else:
            mult = schedule(k)
        return X - eta * mult * D

    return step


def sde_step(sde: SDE, problem: Problem, params: dict[str, float], eta: float,
             schedule: Schedule, dt: float) -> Callable[[int, Tensor, torch.Generator], Tensor]:
    """One Euler–Maruyama step of the scheduled SDE (diagonal noise; a gradient-normalized
    schedule uses the true ‖∇f(X_t)‖, as :func:`theorykit.simulate.run_sde` does). Step k
    is at SDE time k·dt."""
    if not sde.is_diagonal:
        raise InputError("sde_step needs a diagonal SDE")
    drift_fn, diff_fn = sde.lambdify("torch", {**params, "eta": eta})
    sq = math.sqrt(dt)

    def step(k: int, X: Tensor, gen: torch.Generator) -> Tensor:
        t = k * dt
        if schedule.needs_grad_norm:
            m = schedule.at_time(t, eta, problem.grad(X).norm(dim=-1)).unsqueeze(-1)
        else:
            m = schedule.at_time(t, eta)
        s = diff_fn(t, X)
        xi = torch.randn(X.shape, generator=gen, dtype=X.dtype)
        return X + m * (drift_fn(t, X) * dt + s * xi * sq)

    return step
