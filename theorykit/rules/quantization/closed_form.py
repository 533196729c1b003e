"""Closed forms of the optimal threshold of a density *family* (shape symbolic), derived
by SymPy where it finds one (cached in memory and on disk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from theorykit import diskcache
from theorykit.errors import DerivationError
from theorykit.rules.quantization.densities import _A, _Y, Density
from theorykit.rules.quantization.symbolic import _pieces, _tidy, cubic_tradeoff
from theorykit.symbols import C_Q as CQ
from theorykit.symbols import LEVELS as S


@dataclass(frozen=True)
class _ClosedForm:
    alpha_std: sp.Expr  # standardised threshold as an expression of S, CQ, shape symbols
    error_std: sp.Expr | None  # standardised optimal error, if derived in closed form
    y_of_a: sp.Expr | None  # nonuniform: y(a) (level positions in closed form)
    a_of_y: sp.Expr | None


_CLOSED: dict[tuple, _ClosedForm | None] = {}


def _closed_form(d: Density, scheme: str, mass: str) -> _ClosedForm | None:
    """The SymPy closed form of the optimum for the density *family* (shape symbolic), or
    None where SymPy finds none (cached)."""
    key = (d.name, sp.srepr(d.q), d.lower, scheme, mass)
    if key not in _CLOSED:
        cached = diskcache.load("quantization-closed-form", repr(key))
        if diskcache.missing(cached):
            cached = _derive_closed_form(d, scheme, mass)
            diskcache.store("quantization-closed-form", repr(key), cached)
        _CLOSED[key] = cached
    return _CLOSED[key]


def _derive_closed_form(d: Density, scheme: str, mass: str) -> _ClosedForm | None:
    if not d.symbolic:
        return None
    pc = _pieces(d)
    if scheme == "nonuniform":
        if pc.J_inf.has(sp.oo, sp.zoo, sp.nan):
            return None
        y = _tidy(1 - pc.J / pc.J_inf)
        ratio = _tidy(pc.bias / y**3)
        if ratio.has(_A):
            return None
        k_coef = CQ * pc.J_inf**3 / S**2
        y_star, e_star = cubic_tradeoff(ratio, k_coef)
        sols = sp.solve(sp.Eq(y, _Y), _A)
        if len(sols) != 1:
            return None
        a_of_y = sols[0]
        # y* = 1/(1 + sqrt(A/K)): write alpha* as a function of 1 + sqrt(A/K)
        t_ratio = sp.sqrt(ratio / k_coef)
        alpha_std = sp.powsimp(sp.expand_log(a_of_y.subs(_Y, 1 / (1 + t_ratio)), force=True),
                               force=True)
        _check_same(alpha_std, a_of_y.subs(_Y, y_star), d)
        return _ClosedForm(alpha_std, e_star, y, a_of_y)
    # uniform
    dens = pc.bias + CQ * (2 * _A / S) ** 2 * (1 if mass == "bound" else 1 - pc.tail)
    deriv = sp.diff(dens, _A)
    if deriv.has(sp.erf, sp.erfc, sp.hyper, sp.meijerg, sp.atan, sp.Integral):
        return None
    try:
        sols = sp.solve(deriv, _A)
    except (NotImplementedError, ValueError):
        return None
    test = {S: 7, CQ: sp.Rational(1, 4), **{k: v for k, v in _default_shape(d).items()}}
    good = []
    for sol in sols:
        v = sp.N(sol.subs(test))
        if v.is_real and float(v) > 0:
            good.append(sp.simplify(sol))
    if len(good) != 1:
        return None
    return _ClosedForm(good[0], None, None, None)


def _check_same(e1: sp.Expr, e2: sp.Expr, d: Density) -> None:
    """Two expressions agree at random admissible points (a cheap identity check used
    after ``force=True`` rewrites; the tests check the final forms with ``simplify``)."""
    rng = np.random.default_rng(0)
    syms = sorted((e1.free_symbols | e2.free_symbols) - {_A}, key=str)
    for _ in range(3):
        vals = {}
        for sy in syms:
            base = float(rng.uniform(0.5, 3.0))
            vals[sy] = sp.Float(base + (3.5 if sy.name == "rho" else 0), 30)
        v1, v2 = complex(sp.N(e1.subs(vals), 30)), complex(sp.N(e2.subs(vals), 30))
        if abs(v1 - v2) > 1e-12 * max(1.0, abs(v2)):
            raise DerivationError(f"{d.name}: rewritten closed form differs ({v1} vs {v2})")


def _default_shape(d: Density) -> dict[sp.Symbol, sp.Expr]:
    return d._shape_values()
