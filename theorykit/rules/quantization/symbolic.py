"""The symbolic pieces of the error model (*derived* by SymPy): truncation bias, the
p^{1/3} integral, the optimal level density, the cubic tradeoff and the error objectives."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import sympy as sp

from theorykit import diskcache
from theorykit.errors import DerivationError
from theorykit.rules.quantization.densities import _A, _R, _U, _Y, Density
from theorykit.symbols import C_Q as CQ
from theorykit.symbols import GRAD_COORD as G
from theorykit.symbols import LEVELS as S
from theorykit.symbols import TRUNCATION as ALPHA

C_Q_WORST = sp.Rational(1, 4)
"""c_Q of the worst case of one cell (the constant of the published TNQSGD result)."""
C_Q_HIGH_RES = sp.Rational(1, 6)
"""c_Q averaged over a cell where the density is locally flat (high resolution)."""


@dataclass(frozen=True)
class _StdPieces:
    """Standardised (scale 1) closed forms: bias B(a), J(a) = ∫_{-a}^{a} p^{1/3},
    tail T(a) = P(|u| > a), valid for a >= lower; J_inf = J(∞)."""

    bias: sp.Expr
    bias_gap: sp.Expr | None
    J: sp.Expr
    tail: sp.Expr
    J_inf: sp.Expr


_PIECES: dict[tuple, _StdPieces] = {}


def _pieces(d: Density) -> _StdPieces:
    """Standardised closed forms of ``d`` (SymPy integrals; cached per density family)."""
    if not d.symbolic:
        raise DerivationError(f"density {d.name}: no closed-form integrals (numeric path)")
    key = (d.name, sp.srepr(d.q), d.lower, sp.srepr(d.shape_subs))
    if key not in _PIECES:
        cached = diskcache.load("quantization-pieces", repr(key))
        if diskcache.missing(cached):
            cached = _derive_pieces(d)
            diskcache.store("quantization-pieces", repr(key), cached)
        _PIECES[key] = cached
    return _PIECES[key]


def _derive_pieces(d: Density) -> _StdPieces:
    shape_subs = dict(d.shape_subs)
    back = {_R: next(iter(shape_subs)) - 3} if shape_subs else {}
    qq = d.q.subs(shape_subs)
    low = sp.Integer(d.lower)

    def integ(expr: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        out = sp.integrate(expr, (_U, lo, hi), conds="none")
        if out.has(sp.Integral):
            raise DerivationError(f"{d.name}: SymPy left an integral unevaluated")
        return _tidy(out.subs(back))

    bias = integ(2 * (_U - _A) ** 2 * qq, _A, sp.oo)
    bias_gap = integ(2 * (_U - _A) ** 2 * qq, low, sp.oo) if d.lower else None
    J = integ(2 * qq ** sp.Rational(1, 3), low, _A)
    tail = integ(2 * qq, _A, sp.oo)
    J_inf = integ(2 * qq ** sp.Rational(1, 3), low, sp.oo)
    return _StdPieces(bias, bias_gap, J, tail, J_inf)


def _tidy(e: sp.Expr) -> sp.Expr:
    """Cheap canonical form (cancel + powsimp; ``simplify`` is 100x slower)."""
    return sp.powsimp(sp.cancel(sp.together(e)), force=True)


def _to_units(d: Density, std_expr: sp.Expr, power: int) -> sp.Expr:
    """scale^power * f(alpha/scale)."""
    sc = d._scale_symbol()
    return sc**power * std_expr.subs(_A, ALPHA / sc)


def truncation_bias(d: Density, *, numeric_params: bool = False) -> sp.Expr:
    """B(α) = E[(|g|-α)² 1{|g|>α}] = 2∫_α^∞ (g-α)² p(g) dg as an expression of α
    (*derived*; Laplace: 2γ²e^{-α/γ}; Pareto, α >= g_m: 2 g_m^{ρ-1} α^{3-ρ}/((ρ-2)(ρ-3))).
    For a non-symbolic density the unevaluated integral is returned."""
    if d.symbolic:
        e = _to_units(d, _pieces(d).bias, 2)
    else:
        e = 2 * sp.Integral((G - ALPHA) ** 2 * d.pdf(), (G, ALPHA, sp.oo))
    return e.subs(d.numeric_subs()) if numeric_params else e


def p13_integral(d: Density) -> sp.Expr:
    """J(α) = ∫_{-α}^{α} p^{1/3} (*derived*)."""
    if d.symbolic:
        return _to_units(d, _pieces(d).J, sp.Rational(2, 3))
    return 2 * sp.Integral(d.pdf() ** sp.Rational(1, 3), (G, 0, ALPHA))


def optimal_level_density() -> tuple[sp.Expr, sp.Expr]:
    r"""Derive the optimal level density by a pointwise Lagrangian (*derived*).

    Minimise :math:`c_Q\int p/\lambda^2` subject to :math:`\int\lambda = s`: the
    Lagrangian's integrand :math:`c_Q p\lambda^{-2} + \mu\lambda` is stationary in λ at
    :math:`\lambda = (2c_Q p/\mu)^{1/3}`; the constraint fixes μ. Returns
    ``(lambda_star, min_variance)`` in terms of the symbols ``p`` (density value), ``J``
    (:math:`\int_{-\alpha}^{\alpha} p^{1/3}`), :data:`S` and :data:`CQ`:
    :math:`\lambda^* = s p^{1/3}/J`, minimum :math:`c_Q J^3/s^2`."""
    p, lam, mu, J = sp.symbols("p lambda mu J", positive=True)
    lagr = CQ * p / lam**2 + mu * lam
    sol = [r for r in sp.solve(sp.diff(lagr, lam), lam) if r.is_positive is not False]
    if len(sol) != 1:
        raise DerivationError(f"level density: expected one positive stationary point, {sol}")
    lam_mu = sol[0]  # (2 c_Q p / mu)^{1/3} = K p^{1/3}
    k = sp.simplify(lam_mu / p ** sp.Rational(1, 3))
    mu_sol = sp.solve(sp.Eq(k * J, S), mu)
    mu_star = next(m for m in mu_sol if m.is_positive is not False)
    lam_star = sp.simplify(lam_mu.subs(mu, mu_star))
    # minimum: c_Q ∫ p / λ*² = c_Q ∫ p^{1/3} J²/s² = c_Q J³/s²
    integrand = sp.simplify(CQ * p / lam_star**2)
    per_p13 = sp.simplify(integrand / p ** sp.Rational(1, 3))
    if per_p13.has(p):
        raise DerivationError("level density: c_Q p/λ*² is not proportional to p^{1/3}")
    return lam_star, sp.simplify(per_p13 * J)


def cubic_tradeoff(A: sp.Expr | None = None, K: sp.Expr | None = None
                   ) -> tuple[sp.Expr, sp.Expr]:
    """Minimise E(y) = A y³ + K (1-y)³ over y ∈ (0, 1] (A, K > 0) by ``solve(E'(y) = 0)``
    (*derived*): y* = √K/(√A + √K), E* = AK/(√A + √K)². With no arguments, A and K are
    positive symbols."""
    y_nice, e_nice, a_s, k_s = _cubic_generic()
    a_ = sp.Symbol("A", positive=True) if A is None else A
    k_ = sp.Symbol("K", positive=True) if K is None else K
    return y_nice.subs({a_s: a_, k_s: k_}), e_nice.subs({a_s: a_, k_s: k_})


@functools.lru_cache(maxsize=1)
def _cubic_generic() -> tuple[sp.Expr, sp.Expr, sp.Symbol, sp.Symbol]:
    a_s, k_s = sp.symbols("A_ K_", positive=True)
    e = a_s * _Y**3 + k_s * (1 - _Y) ** 3
    roots = sp.solve(sp.diff(e, _Y), _Y)
    good = []
    for r in roots:
        val = r.subs({a_s: 2, k_s: 3})
        if val.is_real and 0 < float(val) <= 1:
            good.append(r)
    if len(good) != 1:
        raise DerivationError(f"cubic tradeoff: expected one root in (0, 1], got {roots}")
    y_star = sp.simplify(sp.radsimp(good[0]))
    y_nice = sp.sqrt(k_s) / (sp.sqrt(a_s) + sp.sqrt(k_s))
    if sp.simplify(y_star - y_nice) != 0:
        raise DerivationError(f"cubic tradeoff: unexpected minimiser {y_star}")
    if not sp.simplify(sp.diff(e, _Y, 2).subs(_Y, y_nice)).is_positive:
        raise DerivationError("cubic tradeoff: the stationary point is not a minimum")
    e_derived = e.subs(_Y, y_nice)
    e_nice = a_s * k_s / (sp.sqrt(a_s) + sp.sqrt(k_s)) ** 2
    if sp.simplify(e_derived - e_nice) != 0:
        raise DerivationError(f"cubic tradeoff: unexpected minimum {e_derived}")
    return y_nice, e_nice, a_s, k_s


def quantization_variance(d: Density, *, scheme: Literal["uniform", "nonuniform"] = "uniform",
                          mass: Literal["bound", "exact"] = "exact") -> sp.Expr:
    """High-resolution quantization variance as an expression of α, s, c_Q (*derived*):
    uniform ``c_Q (2α/s)² P(|g|<=α)`` (``mass="bound"`` drops the probability, <= 1);
    non-uniform at the optimal density ``c_Q J(α)³/s²``."""
    if scheme == "nonuniform":
        return CQ * p13_integral(d) ** 3 / S**2
    if mass == "bound":
        return CQ * (2 * ALPHA / S) ** 2
    if d.symbolic:
        inside = 1 - _to_units(d, _pieces(d).tail, 0)
    else:
        inside = 1 - 2 * sp.Integral(d.pdf(), (G, ALPHA, sp.oo))
    return CQ * (2 * ALPHA / S) ** 2 * inside


def nonuniform_error(d: Density) -> sp.Expr:
    """E_N(α) = B(α) + c_Q J(α)³/s² (valid for α >= the support gap)."""
    return truncation_bias(d) + quantization_variance(d, scheme="nonuniform")


def uniform_error(d: Density, mass: Literal["bound", "exact"] = "bound") -> sp.Expr:
    """E_U(α) = B(α) + c_Q (2α/s)² [P(|g|<=α)]."""
    return truncation_bias(d) + quantization_variance(d, scheme="uniform", mass=mass)
