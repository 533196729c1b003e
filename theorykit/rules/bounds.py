r"""Convergence bounds, heavy-tail factors and stability caps of DCSGD and DSignSGD, derived
in SymPy from the SDEs of :mod:`theorykit.sde`.

Source: Compagnoni, Islamov, Proske & Lucchi, *Unbiased and Sign Compression in Distributed
Learning: Comparing Noise Resilience via SDEs*, AISTATS 2025 (arXiv 2502.17009). That DCSGD's
noise floor grows with the noise and the compression while DSignSGD is resilient to heavy
tails is stated in the abstract (*read*); that the paper has bounds of the forms below is
*recalled* (docs/theory/sde_papers.md §2.3(a),(c) [paper-recalled]); every expression here
is *derived* by this module, step by step, from the derived SDE (nothing is typed in):

**DCSGD, L-smooth and μ-PL** (:func:`dcsgd_pl_bound`, :func:`dcsgd_nonconvex_bound`).
The SDE :math:`dX = -\nabla f\,dt + \sqrt\eta\,\Sigma^{1/2} dW` (``derive("dcsgd", "omega",
...)``) and Itô's formula give

.. math:: \tfrac{d}{dt} E f(X_t) = E\big[-\|\nabla f\|^2 + \tfrac\eta2
          \operatorname{tr}(\nabla^2 f\,\Sigma)\big].

The derived trace is :math:`\operatorname{tr}\Sigma = (\omega\|\nabla f\|^2 +
\bar\sigma_\omega^2/B)/N` with :math:`\bar\sigma_\omega^2 = (1+\omega)\operatorname{tr}
\Sigma_i` (the variance bound of :math:`U(\omega)` with equality; an upper bound otherwise),
and :math:`\operatorname{tr}(\nabla^2 f\,\Sigma) \le L\operatorname{tr}\Sigma` (Σ ⪰ 0,
∇²f ⪯ LI). So :math:`\tfrac{d}{dt}E f \le -c\,E\|\nabla f\|^2 + K` with
:math:`c = 1 - \eta L\omega/(2N)` and :math:`K = \eta L\bar\sigma_\omega^2/(2NB)`; c > 0 is
the **stability cap** :math:`\eta < 2N/(L\omega)`. PL (:math:`\|\nabla f\|^2 \ge 2\mu(f -
f^\star)`) and Grönwall (``sympy.dsolve`` of the comparison ODE) give the rate
:math:`2\mu c` and the floor :math:`K/(2\mu c)`; integrating instead of using PL gives the
non-convex time-averaged gradient bound.

**DSignSGD** (:func:`dsignsgd_phase3_bound`, :func:`dsignsgd_phase1_bound`). Phase 3
(:math:`|\partial_j f| \ll \sigma/\sqrt B`): the derived drift linearised at ∇f = 0 is
:math:`-a\nabla f` with :math:`a = \sqrt{2B/\pi}/\sigma` (Gaussian; ``2 f_ν(0)√B/s`` for
Student-t), and every diagonal entry of the derived diffusion is at most 1/N, so
:math:`\operatorname{tr}(\nabla^2 f\Sigma) \le Ld/N`. Phase 1 (noise negligible): SignGD,
:math:`\tfrac{d}{dt}f = -\|\nabla f\|_1 \le -\|\nabla f\|_2 \le -\sqrt{2\mu(f-f^\star)}`.

**Heavy-tail factors** (:func:`student_t_variance_factor`, :func:`student_t_density_at_zero`).
By ``sympy.stats``: :math:`\operatorname{Var}T_\nu = \nu/(\nu-2)` for ν > 2 (the integral
diverges for ν ≤ 2) and :math:`f_\nu(0) = \Gamma(\frac{\nu+1}2)/(\sqrt{\nu\pi}\,
\Gamma(\frac\nu2))`; DCSGD's floor scales with the variance factor, DSignSGD's Phase-3 floor
with :math:`1/(2f_\nu(0))` (Gaussian: :math:`\sqrt{\pi/2}`).

**Stability caps** (:func:`stability_caps`). From the exact second-moment dynamics on a
quadratic (the Lyapunov operators of :mod:`theorykit.rules.stationary`): the SDE's
:math:`\dot m = A_{\rm sde}(\eta) m + c` is stable iff every eigenvalue of
:math:`A_{\rm sde}` has negative real part; the discrete recursion
:math:`m_{k+1} = (I + \eta A_{\rm dis}(\eta)) m_k + c` iff its spectral radius is < 1. For
DCSGD with ω-Bernoulli / rand-k / a generic U(ω) member on :math:`f = \tfrac12\sum_j
\lambda_j x_j^2` this gives

.. math:: \eta_{\rm sde} = \frac{2N}{\lambda_{\max}\bar\omega},\qquad
          \eta_{\rm discrete} = \frac{2}{\lambda_{\max}(1 + \bar\omega/N)} .

*Why they differ*: per step the discrete second moment of a coordinate is multiplied by
:math:`(1-\eta\lambda)^2 + \eta^2\lambda^2\bar\omega/N = 1 - 2\eta\lambda +
\eta^2\lambda^2(1 + \bar\omega/N)`. The SDE is an order-1 weak approximation: its generator
keeps the O(η) part of this factor, :math:`-2\lambda + \eta\lambda^2\bar\omega/N`, and drops
the deterministic :math:`\eta^2\lambda^2` of gradient descent's own overshoot (the "1" in
:math:`1 + \bar\omega/N`). So the SDE cap is larger by :math:`(N + \bar\omega)/\bar\omega`;
without compression the SDE has no cap at all while GD still diverges at η > 2/λ. Both are
*mean-square* caps: above them E f grows geometrically, although typical paths may still
converge (the pathwise Lyapunov exponent is smaller than the moment exponent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy as sp

from theorykit.check import stats as _stats
from theorykit.check.claim import Verdict
from theorykit.errors import AssumptionError, DerivationError, InputError
from theorykit.symbols import DELTA_0 as DELTA0
from theorykit.symbols import DIM, ETA, GRAD_SQ, MU, NU, OMEGA
from theorykit.symbols import L_SMOOTH as L
from theorykit.symbols import SIGMA_OMEGA2 as SIG2
from theorykit.symbols import TIME as T
from theorykit.validate import finite_float

__all__ = [
    "Bound",
    "StabilityCaps",
    "dcsgd_nonconvex_bound",
    "dcsgd_pl_bound",
    "dcsgd_variance_factor",
    "dsignsgd_floor_ratio",
    "dsignsgd_phase1_bound",
    "dsignsgd_phase3_bound",
    "dsignsgd_tail_factor",
    "ito_generator",
    "phase3_slope",
    "stability_caps",
    "student_t_curvature_ratio",
    "student_t_density_at_zero",
    "student_t_variance_condition",
    "student_t_variance_factor",
]



# ============================================================================ Bound object
@dataclass
class Bound:
    r"""An upper bound ``quantity <= expr`` with the assumptions it needs and the validity
    conditions (SymPy relations that must hold at the evaluation point).

    ``parts`` names sub-expressions (``rate``, ``floor``, ``cap``, ...); ``steps`` is the
    derivation, one line per step; ``source`` the paper/locator and provenance."""

    name: str
    quantity: str
    expr: sp.Expr
    assumptions: list[str]
    conditions: list[sp.Basic]
    parts: dict[str, sp.Expr] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def symbols(self) -> list[str]:
        """Names of the free symbols of the bound (what :meth:`evaluate` needs)."""
        return sorted(s.name for s in self.expr.free_symbols)

    def latex(self) -> str:
        return f"{self.quantity} \\le {sp.latex(self.expr)}"

    def violated(self, values: Mapping[Any, Any]) -> list[str]:
        """The validity conditions that fail at ``values`` (as text)."""
        out = []
        for c in self.conditions:
            v = _subs(c, values)
            if v.free_symbols:
                continue
            if not bool(v):
                out.append(sp.sstr(c))
        return out

    def evaluate(self, values: Mapping[Any, Any], part: str | None = None) -> float:
        """The bound (or ``parts[part]``) at ``values`` (symbols or their names -> numbers).

        Raises :class:`AssumptionError` when a validity condition fails there (e.g. eta
        above the stability cap) and :class:`InputError` when a symbol has no value."""
        _check_values(values)
        bad = self.violated(values)
        if bad:
            raise AssumptionError(f"{self.name}: condition {bad[0]} fails at the given values "
                                  "(no finite bound there)")
        e = self.expr if part is None else self.parts[part]
        v = _subs(e, values)
        if v.free_symbols:
            names = ", ".join(sorted(s.name for s in v.free_symbols))
            raise InputError(f"{self.name}: no value for {names}")
        return float(sp.N(v))

    def curve(self, values: Mapping[Any, Any], t: Sequence[float]) -> list[float]:
        """The bound at each time ``t`` (the other symbols from ``values``)."""
        return [self.evaluate({**values, "t": float(ti)}) for ti in t]

    def check(self, claim_id: str, measured: _stats.Estimate, values: Mapping[Any, Any], *,
              z: float = _stats.Z_DEFAULT, seed: int | None = None,
              details: dict | None = None) -> Verdict:
        """One-sided check: measured at or under the bound (within z·SE), with the
        tightness ratio measured/bound in the details (:func:`stats.at_most`)."""
        b = self.evaluate(values)
        return _stats.at_most(claim_id, b, measured, z=z, seed=seed,
                              details={"bound": self.name, "bound_expr": sp.sstr(self.expr),
                                       **(details or {})})


def _check_values(values: Mapping[Any, Any]) -> None:
    by = {str(k): v for k, v in values.items()}
    for k, v in by.items():
        finite_float(f"value of {k}", v)
    if "mu" in by and "L" in by and float(by["mu"]) > float(by["L"]):
        raise AssumptionError(f"mu = {by['mu']} > L = {by['L']}: an L-smooth function "
                              "cannot be mu-PL with mu > L")
    for k in ("eta", "L", "mu", "N", "B", "nu", "sigma_H", "sigma_omega2"):
        if k in by and float(by[k]) <= 0:
            raise InputError(f"{k} must be > 0, got {by[k]}")
    for k in ("omega", "t", "Delta_0"):
        if k in by and float(by[k]) < 0:
            raise InputError(f"{k} must be >= 0, got {by[k]}")


def _subs(e: Any, values: Mapping[Any, Any]) -> Any:
    by = {str(k): v for k, v in values.items()}
    rep = {s: sp.nsimplify(by[s.name]) if isinstance(by[s.name], int) else sp.Float(by[s.name])
           for s in e.free_symbols if s.name in by}
    return e.xreplace(rep)


def _by_name(e: sp.Basic, name: str) -> sp.Symbol:
    for s in e.free_symbols:
        if s.name == name:
            return s
    raise DerivationError(f"symbol {name} not found in {sp.sstr(e)[:60]}")


# ============================================================================ Itô
def ito_generator(sde: Any, f: sp.Expr) -> sp.Expr:
    r"""Itô generator of ``sde`` on ``f(x)``: :math:`b\cdot\nabla f + \tfrac\eta2
    \operatorname{tr}(\nabla^2 f\,\Sigma)` (so :math:`\tfrac{d}{dt}E f(X_t) = E[\mathcal L
    f(X_t)]`). For an SDE derived for a generic gradient, the gradient symbols are replaced
    by ∇f. Provenance: Itô's formula [standard]; used as in docs/theory/sde_papers.md §2.3(a)
    [derived]."""
    x = list(sde.x)
    grad = sp.Matrix([sp.diff(f, xi) for xi in x])
    hess = sp.hessian(f, x)
    b, Sig = sde.drift, sde.diffusion_cov
    if getattr(sde, "grad_symbols", None):
        rep = {g: grad[j] for j, g in enumerate(sde.grad_symbols)}
        b, Sig = b.xreplace(rep), Sig.xreplace(rep)
    return sp.expand((b.T * grad)[0] + sp.sympify(sde.lr) / 2 * (hess * Sig).trace())


def _gronwall(rate: sp.Expr, source: sp.Expr) -> sp.Expr:
    """Solution of the comparison ODE u' = -rate·u + source, u(0) = Delta_0 (Grönwall:
    any u with u' <= -rate·u + source stays below it)."""
    u = sp.Function("u")
    sol = sp.dsolve(sp.Eq(u(T).diff(T), -rate * u(T) + source), u(T), ics={u(0): DELTA0})
    return sp.simplify(sol.rhs)


@lru_cache(maxsize=1)
def _dcsgd_descent() -> tuple[sp.Expr, sp.Expr, list[str]]:
    """(c, K, steps) with d/dt E f <= -c E||∇f||² + K, derived from the DCSGD SDE."""
    from theorykit.noise import Gaussian
    from theorykit.sde import derive

    d = 2
    sde = derive("dcsgd", "omega", Gaussian(sigma="sigma"), d)
    g = list(sde.grad_symbols)
    G = GRAD_SQ  # ||∇f||²
    drift_term = sp.simplify((sde.drift.T * sp.Matrix(g))[0])
    if sp.simplify(drift_term + sum(gi**2 for gi in g)) != 0:
        raise DerivationError("DCSGD drift is not -∇f (compression must be unbiased)")
    trS = sp.simplify(sde.diffusion_cov.trace())
    om = _by_name(trS, "omega")
    sig = _by_name(trS, "sigma")
    n_s, b_s = _by_name(trS, "N"), _by_name(trS, "B")
    # tr Σ in the invariants G and σ̄_ω² = (1+ω) tr Σ_i = (1+ω) d σ²
    trS_G = sp.expand(trS).subs(g[0] ** 2, G - sum(gi**2 for gi in g[1:]))
    trS_G = sp.simplify(trS_G.subs(sig**2, SIG2 / ((1 + om) * d)))
    if any(s in trS_G.free_symbols for s in g):
        raise DerivationError("tr Σ_DCSGD does not depend on ∇f only through ||∇f||²")
    trS_G = trS_G.xreplace({om: OMEGA})
    # Itô: d/dt E f = E[-G + (eta/2) tr(∇²f Σ)] <= -G + (eta L / 2) tr Σ
    rhs = sp.expand(-G + ETA * L / 2 * trS_G)
    c = sp.simplify(-rhs.coeff(G, 1))
    K = sp.simplify(rhs.coeff(G, 0))
    steps = [
        "SDE (derived): dX = -∇f dt + sqrt(eta) Σ^{1/2} dW, "
        f"tr Σ = {sp.sstr(sp.factor(trS))}",
        f"in invariants: tr Σ = {sp.sstr(trS_G)}  (G = ||∇f||², sigma_omega2 = (1+ω) tr Σ_i)",
        "Itô: d/dt E f = E[-G + (eta/2) tr(∇²f Σ)];  ∇²f <= L I, Σ >= 0 => "
        "tr(∇²f Σ) <= L tr Σ",
        f"=> d/dt E f <= -({sp.sstr(c)}) E G + {sp.sstr(K)}",
    ]
    return c.xreplace({n_s: _N(), b_s: _B()}), K.xreplace({n_s: _N(), b_s: _B()}), steps


def _N() -> sp.Symbol:
    from theorykit.sde.derive import N_SYMBOL

    return N_SYMBOL


def _B() -> sp.Symbol:
    from theorykit.noise import B_SYMBOL

    return B_SYMBOL


SRC = ("Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025 (bound of this type recalled, "
       "docs/theory/sde_papers.md §2.3); form derived by theorykit.rules.bounds")


def dcsgd_pl_bound() -> Bound:
    r"""DCSGD under L-smoothness and μ-PL (SDE, derived):

    .. math:: E f(X_t) - f^\star \le e^{-2\mu c t}\Delta_0 + (1 - e^{-2\mu c t})
              \frac{\eta L\bar\sigma_\omega^2}{4\mu N B c},\quad c = 1 - \frac{\eta L\omega}{2N}.

    Parts: ``rate`` 2μc, ``floor`` (t → ∞), ``cap`` 2N/(Lω) (η < cap), ``rate_factor`` c.
    docs/theory/sde_papers.md §2.3(a) [derived]; paper has a bound of this type [paper-recalled]."""
    c, K, steps = _dcsgd_descent()
    rate = sp.factor(2 * MU * c)
    u = _gronwall(rate, K)
    floor = sp.simplify(K / rate)  # = lim_{t->oo} u(t) for rate > 0
    cap = sp.solve(sp.Eq(c, 0), ETA)
    if len(cap) != 1:
        raise DerivationError("no unique stability cap from c(eta) = 0")
    return Bound(
        name="DCSGD L-smooth + mu-PL (SDE)", quantity="E f(X_t) - f^*", expr=u,
        assumptions=["f L-smooth (∇²f <= L I) and mu-PL (||∇f||² >= 2 mu (f - f*))",
                     "unbiased compressors in U(omega) (variance bound, equality = tight)",
                     "noise unbiased with finite covariance Σ_i/B (finite variance)",
                     "weak order-1 SDE approximation of DCSGD"],
        conditions=[sp.StrictGreaterThan(c, 0), sp.LessThan(MU, L)],
        parts={"rate": rate, "floor": sp.factor(floor), "cap": sp.factor(cap[0]),
               "rate_factor": c, "source_K": K},
        steps=[*steps, "mu-PL: G >= 2 mu (f - f*) and c > 0 (the cap) =>  "
               f"d/dt Δ <= -({sp.sstr(rate)}) Δ + {sp.sstr(K)}",
               f"Grönwall (dsolve of the comparison ODE): Δ_t <= {sp.sstr(u)}"],
        source=SRC)


def dcsgd_nonconvex_bound() -> Bound:
    r"""DCSGD, L-smooth (non-convex), time-averaged squared gradient (SDE, derived):
    :math:`\frac1T\int_0^T E\|\nabla f(X_t)\|^2 dt \le \big(\Delta_0/T + \eta L
    \bar\sigma_\omega^2/(2NB)\big)/c` — integrate d/dt E f <= -c E G + K over [0, T] and
    use f(X_T) >= f*. docs/theory/sde_papers.md §2.3(a) [derived]."""
    c, K, steps = _dcsgd_descent()
    Tt = sp.Symbol("T", positive=True)
    G_avg = sp.Symbol("Gbar", nonnegative=True)
    # ∫_0^T d/dt E f = E f(X_T) - f(X_0) >= -Delta_0  and  <= -c T Gbar + K T
    sol = sp.solve(sp.Eq(-DELTA0, -c * Tt * G_avg + K * Tt), G_avg)[0]
    expr = sp.factor(sol).xreplace({Tt: T})
    return Bound(
        name="DCSGD L-smooth, non-convex (SDE)", quantity="(1/t) int_0^t E||∇f(X_s)||² ds",
        expr=expr, assumptions=["f L-smooth, bounded below by f*", "unbiased U(omega)",
                                "finite noise variance", "weak order-1 SDE approximation"],
        conditions=[sp.StrictGreaterThan(c, 0)],
        parts={"floor": sp.factor(K / c), "cap": sp.solve(sp.Eq(c, 0), ETA)[0]},
        steps=[*steps, "integrate over [0, t]: -Δ_0 <= E f(X_t) - f(X_0) <= -c t Gbar + K t",
               f"=> Gbar <= {sp.sstr(expr)}"],
        source=SRC)


# ============================================================================ DSignSGD
def phase3_slope(noise: Any, batch: Any = None) -> sp.Expr:
    r"""The Phase-3 drift coefficient a of DSignSGD: :math:`E\,\mathrm{sign}(g + Z) = a g +
    O(g^3)`, derived as the derivative at g = 0 of the derived SDE drift (one worker, one
    coordinate). Gaussian(σ): :math:`\sqrt{2B/\pi}/\sigma`; Student-t(ν, s):
    :math:`2 f_\nu(0)\sqrt B/s` (docs/theory/sde_papers.md §2.2 Phase 3 [paper-recalled];
    here derived)."""
    from theorykit.sde import derive

    sde = derive("dsignsgd", None, noise, 1, n_workers=1, batch=batch)
    g = sde.grad_symbols[0]
    return sp.simplify(-sp.diff(sde.drift[0], g).subs(g, 0))


def dsignsgd_phase3_bound(noise: Any = None) -> Bound:
    r"""DSignSGD Phase 3 (small gradients), L-smooth and μ-PL, homogeneous isotropic noise
    (derived): :math:`E f(X_t) - f^\star \le e^{-2\mu a t}\Delta_0 + (1 - e^{-2\mu a t})
    \eta L d/(4\mu N a)` with ``a`` from :func:`phase3_slope` (Gaussian(σ_H) by default:
    :math:`a = \sqrt{2B/\pi}/\sigma_H`), using :math:`\operatorname{tr}(\nabla^2 f\Sigma_S)
    \le L\operatorname{tr}\Sigma_S \le Ld/N` (the derived diffusion has entries
    (1 - m²)/N <= 1/N). docs/theory/sde_papers.md §2.3(c) [derived]."""
    from theorykit.noise import Gaussian

    nz = noise if noise is not None else Gaussian(sigma="sigma_H")
    a = phase3_slope(nz)
    from theorykit.sde import derive

    sde = derive("dsignsgd", None, nz, 1)
    diag = sde.diffusion_cov[0, 0]
    g = sde.grad_symbols[0]
    n_s = _by_name(diag, "N")
    at0 = sp.simplify(diag.subs(g, 0) * n_s)
    if at0 != 1:
        raise DerivationError(f"DSignSGD diffusion at ∇f = 0 is {at0}/N, expected 1/N")
    Kd = ETA * L * DIM / (2 * n_s)
    rate = 2 * MU * a
    u = _gronwall(rate, Kd)
    return Bound(
        name="DSignSGD Phase 3, L-smooth + mu-PL (SDE)", quantity="E f(X_t) - f^*",
        expr=u.xreplace({n_s: _N()}),
        assumptions=["Phase 3: |∂_j f| << sigma/sqrt(B) (drift linearised at ∇f = 0)",
                     "f L-smooth and mu-PL", "homogeneous isotropic noise",
                     "weak order-1 SDE approximation"],
        conditions=[sp.LessThan(MU, L)],
        parts={"rate": rate, "floor": sp.factor(Kd / rate).xreplace({n_s: _N()}), "a": a},
        steps=[f"linearised drift: E sign(g + Z) = a g + O(g³), a = {sp.sstr(a)}",
               "diffusion: Σ_S = diag(1 - m²)/N <= I/N => tr(∇²f Σ_S) <= L d / N",
               "Itô + PL + Grönwall: Δ' <= -2 mu a Δ + eta L d/(2N)",
               f"=> Δ_t <= {sp.sstr(u)}"],
        source=SRC)


def dsignsgd_phase1_bound() -> Bound:
    r"""DSignSGD Phase 1 (noise negligible: SignGD, diffusion -> 0), L-smooth and μ-PL
    (derived): :math:`\tfrac{d}{dt}f = -\|\nabla f\|_1 \le -\|\nabla f\|_2 \le
    -\sqrt{2\mu(f - f^\star)}`, so :math:`f(X_t) - f^\star \le (\sqrt{\Delta_0} -
    t\sqrt{\mu/2})^2` for :math:`t \le \sqrt{2\Delta_0/\mu}` (a finite-time descent, valid
    while every |∂_j f| >> σ/√B). docs/theory/sde_papers.md §2.2 (three phases)
    [paper-recalled, re-derived]."""
    u = sp.Function("u")
    sol = sp.dsolve(sp.Eq(u(T).diff(T), -sp.sqrt(2 * MU * u(T))), u(T))
    sols = sol if isinstance(sol, list) else [sol]
    C1 = sp.Symbol("C1")
    picked = None
    for s in sols:
        cs = sp.solve(sp.Eq(s.rhs.subs(T, 0), DELTA0), C1)
        for cv in cs:
            e = sp.simplify(s.rhs.subs(C1, cv))
            de = sp.diff(e, T).subs(T, 0)  # decreasing at t = 0 (the physical branch)
            if sp.simplify(de + sp.sqrt(2 * MU * DELTA0)) == 0:
                picked = e
                break
        if picked is not None:
            break
    if picked is None:
        raise DerivationError("could not solve the Phase-1 comparison ODE")
    t_end = sp.sqrt(2 * DELTA0 / MU)
    return Bound(
        name="DSignSGD Phase 1 (SignGD), L-smooth + mu-PL", quantity="f(X_t) - f^*",
        expr=sp.factor(picked),
        assumptions=["Phase 1: |∂_j f| >> sigma/sqrt(B) (m = sign ∇f, diffusion ~ 0)",
                     "f mu-PL", "||∇f||_1 >= ||∇f||_2"],
        conditions=[sp.LessThan(T, t_end)],
        parts={"t_end": t_end},
        steps=["drift -sign(∇f): d/dt f = -||∇f||_1 <= -||∇f||_2 <= -sqrt(2 mu (f - f*))",
               f"comparison ODE u' = -sqrt(2 mu u), u(0) = Δ_0: u = {sp.sstr(picked)}"],
        source=SRC)


# ============================================================================ heavy tails
def _check_nu(nu: Any) -> sp.Expr:
    """nu as a SymPy expression (a number > 0 or a symbol; the noise models' validator)."""
    from theorykit.noise.scales import shape_param

    return shape_param("Student-t nu", nu)


def _t_variance() -> tuple[sp.Expr, sp.Basic]:
    """(Var T_nu, its condition): the one derivation, in
    :func:`theorykit.distributions.student_t.variance_derivation`."""
    from theorykit.distributions.student_t import variance_derivation

    return variance_derivation()


def student_t_variance_factor(nu: Any = NU) -> sp.Expr:
    r"""Var :math:`T_\nu` = ν/(ν−2), *derived* by integrating :math:`x^2 f_\nu(x)` with
    SymPy (:mod:`theorykit.distributions.student_t`; SymPy returns the convergence
    condition ν > 2); ``sp.oo`` for ν <= 2
    (the integral diverges). Used as DCSGD's heavy-tail factor
    (docs/theory/sde_papers.md §2.3(d))."""
    v = _check_nu(nu)
    expr, cond = _t_variance()
    if v.is_number:
        if not bool(cond.subs(NU, v)):
            return sp.oo
        return sp.nsimplify(expr.subs(NU, v))
    return expr.subs(NU, v)


def student_t_variance_condition() -> sp.Basic:
    """The condition under which Var T_nu is finite, as returned by SymPy (nu > 2)."""
    return _t_variance()[1]


def student_t_density_at_zero(nu: Any = NU) -> sp.Expr:
    r""":math:`f_\nu(0) = \Gamma(\frac{\nu+1}2)/(\sqrt{\nu\pi}\,\Gamma(\frac\nu2))`, derived
    from the ``sympy.stats`` density (Beta function rewritten with Gamma)."""
    from sympy.stats import StudentT, density

    v = _check_nu(nu)
    f0 = density(StudentT("T", NU))(0)
    f0 = sp.simplify(sp.gammasimp(f0.rewrite(sp.gamma)))
    return sp.simplify(f0.subs(NU, v))


def student_t_curvature_ratio(nu: Any = NU) -> sp.Expr:
    r""":math:`f_\nu''(0)/f_\nu(0) = -(\nu+1)/\nu`, derived by differentiating the
    ``sympy.stats`` density. With :math:`E\,\mathrm{sign}(g+Z) = 2F(u) - 1 = 2f(0)u +
    f''(0)u^3/3 + O(u^5)` (u = g√B/s) the cubic correction relative to the Phase-3 linear
    term is :math:`(f''(0)/f(0))\,u^2/6` — used to size the linearisation allowance
    (Gaussian limit: :math:`-u^2/6`)."""
    from sympy.stats import StudentT, density

    v = _check_nu(nu)
    x = sp.Symbol("x", real=True)
    pdf = density(StudentT("T", NU))(x)
    r = sp.simplify(sp.diff(pdf, x, 2).subs(x, 0) / pdf.subs(x, 0))
    return sp.simplify(r.subs(NU, v))


def dcsgd_variance_factor(nu: Any = NU) -> sp.Expr:
    """DCSGD's floor relative to Gaussian noise of the same scale: the Student-t variance
    factor nu/(nu-2) (the floor is linear in the noise variance; infinite for nu <= 2)."""
    return student_t_variance_factor(nu)


def dsignsgd_tail_factor(nu: Any = NU) -> sp.Expr:
    r"""DSignSGD's Phase-3 floor factor :math:`1/(2 f_\nu(0))` (Gaussian: √(π/2)): the
    floor is proportional to 1/a with a = 2 f_ν(0)√B/s (:func:`phase3_slope`)."""
    return sp.simplify(1 / (2 * student_t_density_at_zero(nu)))


def dsignsgd_floor_ratio(nu: Any = NU) -> sp.Expr:
    r"""DSignSGD floor under Student-t(ν, s) over the floor under Gaussian(σ = s):
    :math:`\frac{1/(2 f_\nu(0))}{\sqrt{\pi/2}}` (finite for every ν > 0, → 1 as ν → ∞)."""
    return sp.simplify(dsignsgd_tail_factor(nu) / sp.sqrt(sp.pi / 2))


# ============================================================================ stability
@dataclass
class StabilityCaps:
    """Mean-square stability caps on eta on a quadratic: ``sde`` (of the derived SDE) and
    ``discrete`` (of the algorithm), with the moment operators they come from."""

    sde: sp.Expr
    discrete: sp.Expr
    A_sde: sp.Matrix
    """d/dt vec(M) = A_sde vec(M) + c (SDE, exact)."""
    A_discrete: sp.Matrix
    """vec(M_{k+1}) = (I + eta A_discrete) vec(M_k) + c (algorithm, exact)."""
    eta: sp.Symbol
    unknowns: list[sp.Symbol]
    explanation: str

    def sde_rate(self, eta: float) -> float:
        """Largest real part of the SDE moment operator's eigenvalues (> 0: E f grows)."""
        import numpy as np

        A = np.array(self.A_sde.subs(self.eta, eta).evalf().tolist(), dtype=float)
        return float(np.linalg.eigvals(A).real.max())

    def discrete_factor(self, eta: float) -> float:
        """Spectral radius of the discrete second-moment recursion (> 1: E f grows)."""
        import numpy as np

        A = np.array(self.A_discrete.subs(self.eta, eta).evalf().tolist(), dtype=float)
        return float(np.abs(np.linalg.eigvals(np.eye(A.shape[0]) + eta * A)).max())


EXPLANATION = (
    "The discrete per-step factor of a coordinate's second moment is "
    "(1 - eta lam)^2 + eta^2 lam^2 omega/N = 1 - 2 eta lam + eta^2 lam^2 (1 + omega/N); the "
    "order-1 SDE keeps only its O(eta) generator -2 lam + eta lam^2 omega/N and drops GD's own "
    "overshoot term eta^2 lam^2 (the '1' in 1 + omega/N). Hence the SDE cap 2N/(lam omega) "
    "exceeds the discrete cap 2/(lam (1 + omega/N)) by (N + omega)/omega (infinite without "
    "compression, where GD still diverges at eta > 2/lam). Both are mean-square caps.")


def _operator(st: Any) -> tuple[sp.Matrix, list[sp.Symbol]]:
    eq = st.equation
    d = eq.shape[0]
    eqs = [eq[a, b] for a in range(d) for b in range(a, d)]
    unknowns = sorted({s for e in eqs for s in e.free_symbols if s.name.startswith("M_")},
                      key=lambda s: s.name)
    return sp.Matrix(eqs).jacobian(unknowns).applyfunc(sp.expand), unknowns


def _cap_from(eigs: list[sp.Expr], eta: sp.Symbol, discrete: bool) -> sp.Expr:
    roots: list[sp.Expr] = []
    for lam in eigs:
        targets = [1, -1] if discrete else [0]
        for tv in targets:
            e = (1 + eta * lam) if discrete else lam
            for r in sp.solve(sp.Eq(sp.re(e) if not discrete else e, tv), eta):
                r = sp.factor(r)
                if r.is_number and (not r.is_real or r <= 0):
                    continue
                if r != 0:
                    roots.append(r)
    if not roots:
        return sp.oo
    if all(r.is_number for r in roots):
        return min(roots, key=lambda r: float(r))
    return roots[0] if len(roots) == 1 else sp.Min(*roots)


def stability_caps(method: Any, noise: Any, hessian: Any, n_workers: Any, batch: Any,
                   compressors: Any = None) -> StabilityCaps:
    r"""Mean-square stability caps of ``method`` (a :class:`Method`; DCSGD) on the quadratic
    with ``hessian``: SDE (from the derived SDE's exact moment ODE) and discrete (from the
    algorithm's exact second-moment recursion), both via the Lyapunov operators of
    :mod:`theorykit.rules.stationary`. Works with numeric or symbolic Hessian/omega/N; for
    a diagonal Hessian the operator is diagonal and the caps are closed forms (module doc)."""
    from theorykit.rules.stationary import stationary_discrete, stationary_sde
    from theorykit.sde import derive

    eta = ETA
    sde = derive(method, compressors, noise,
                 int(sp.Matrix(hessian).shape[0]), n_workers=n_workers, batch=batch,
                 lr_symbol=eta)
    st_s = stationary_sde(sde, hessian)
    st_d = stationary_discrete(method, noise, hessian, n_workers, batch, eta,
                               compressors=compressors)
    A_s, unk = _operator(st_s)
    A_d, _ = _operator(st_d)
    if A_s.is_diagonal() and A_d.is_diagonal():
        e_s = [A_s[i, i] for i in range(A_s.shape[0])]
        e_d = [A_d[i, i] for i in range(A_d.shape[0])]
    else:
        e_s = list(A_s.eigenvals())
        e_d = list(A_d.eigenvals())
    return StabilityCaps(sde=_cap_from(e_s, eta, False), discrete=_cap_from(e_d, eta, True),
                         A_sde=A_s, A_discrete=A_d, eta=eta, unknowns=unk,
                         explanation=EXPLANATION)
