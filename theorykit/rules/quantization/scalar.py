"""Optimisation over the threshold alone (uniform and non-uniform schemes): the scalar
minimum, refined by a closed form or ``nsolve``, and the level positions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from theorykit.errors import InputError
from theorykit.rules.quantization.bits import bits_per_coordinate, check_levels
from theorykit.rules.quantization.closed_form import _closed_form, _ClosedForm
from theorykit.rules.quantization.codec import codec_mse
from theorykit.rules.quantization.densities import _A, _Y, Density
from theorykit.rules.quantization.numeric import _minimise_scalar, _objective_std, _upper_bracket
from theorykit.rules.quantization.result import QuantizerOptimum
from theorykit.rules.quantization.symbolic import _pieces, nonuniform_error, uniform_error
from theorykit.symbols import C_Q as CQ
from theorykit.symbols import LEVELS as S
from theorykit.validate import positive_float


def _optimize_scalar(d: Density, s: int, scheme: str, cq: sp.Expr, mass: str,
                     exact: bool, symbolic: bool = True) -> QuantizerOptimum:
    sc = d.scale
    low = float(d.lower)
    f = _objective_std(d, scheme, s, float(cq), mass)
    hi = _upper_bracket(d)
    a_num = _minimise_scalar(f, max(low, 1e-6) if scheme == "nonuniform" else 1e-6, hi)
    if scheme == "uniform" and low > 0:
        a_gap = _minimise_scalar(f, 1e-6, low)
        if f(a_gap) < f(a_num):
            a_num = a_gap
    cf = _closed_form(d, scheme, mass) if symbolic else None
    subs_num = {S: s, CQ: cq, **d._shape_values()}
    closed = False
    method = "bounded scalar minimisation (scipy) of the objective"
    a_star = a_num
    err_expr = None
    if cf is not None:
        a_cf = float(sp.N(cf.alpha_std.subs(subs_num), 30))
        if a_cf >= low and f(a_cf) <= f(a_num) * (1 + 1e-9) + 1e-300:
            a_star, closed = a_cf, True
            method = "closed form (SymPy)"
    if not closed and d.symbolic and symbolic:
        # refine with nsolve on dE/da = 0 (high precision), if it stays a minimum
        pc = _pieces(d)
        if scheme == "nonuniform":
            obj = pc.bias + CQ * pc.J**3 / S**2
        else:
            obj = pc.bias + CQ * (2 * _A / S) ** 2 * (1 if mass == "bound" else 1 - pc.tail)
        try:
            root = float(sp.nsolve(sp.diff(obj, _A).subs(subs_num), _A, a_num, tol=1e-25,
                                   prec=40))
            if root > low and abs(root - a_num) < 1e-3 * max(1.0, a_num) \
                    and f(root) <= f(a_num) * (1 + 1e-12):
                a_star = root
                method = "nsolve of dE/dalpha = 0 (SymPy), started at the scalar minimum"
        except (ValueError, ZeroDivisionError, TypeError):
            pass
    alpha = a_star * sc
    err = f(a_star) * sc**2
    expression, err_expr = _expressions(d, scheme, mass, cf if closed else None)
    levels = _levels(d, scheme, s, a_star, cf if closed else None, subs_num) * sc
    opt = QuantizerOptimum(d, scheme, s, cq, float(alpha), levels, float(err),
                           bits_per_coordinate(s), closed, expression, err_expr,
                           mass=mass, method=method)
    if exact:
        opt.exact_error = codec_mse(d, levels)
    return opt


def _expressions(d: Density, scheme: str, mass: str, cf: _ClosedForm | None
                 ) -> tuple[sp.Expr, sp.Expr | None]:
    """(α* or objective, E* or None) in the density's own units and symbols."""
    sc = d._scale_symbol()
    if cf is not None:
        alpha_e = sc * cf.alpha_std
        err_e = sc**2 * cf.error_std if cf.error_std is not None else None
        return alpha_e, err_e
    if scheme == "nonuniform":
        return nonuniform_error(d), None
    return uniform_error(d, mass), None


def _levels(d: Density, scheme: str, s: int, a: float, cf: _ClosedForm | None,
            subs_num: Mapping) -> np.ndarray:
    """Standardised level positions ℓ_j = F_λ^{-1}(j/s), j = 0..s (symmetric)."""
    if scheme == "uniform":
        return np.linspace(-a, a, s + 1)
    v = np.abs(2 * np.arange(s + 1) / s - 1)  # one-sided fraction of λ-mass
    if cf is not None and cf.a_of_y is not None:
        y_a = float(sp.N(cf.y_of_a.subs(subs_num).subs(_A, a)))
        f_pos = sp.lambdify(_Y, cf.a_of_y.subs(subs_num), modules=["scipy", "numpy"])
        with np.errstate(all="ignore"):
            pos = np.asarray(f_pos(1 - v * (1 - y_a)), dtype=float) * np.ones_like(v)
    else:
        pos = _invert_J(d, a, v)
    pos = np.where(v == 0, 0.0, pos)
    pos[0] = pos[-1] = a
    sign = np.sign(2 * np.arange(s + 1) / s - 1)
    return np.sort(sign * pos)


def nonuniform_levels(d: Density, alpha: float, s: int) -> np.ndarray:
    """The s+1 levels ℓ_j = F_λ^{-1}(j/s) of the optimal level density λ* ∝ p^{1/3} on
    [-α, α] for any threshold α (symmetric; the middle level is 0 when s is even)."""
    s = check_levels(s)
    a = positive_float("alpha", alpha) / d.scale
    if a <= d.lower:
        raise InputError(f"alpha must exceed the support gap {d.lower * d.scale:g} of "
                         f"{d.name} for a non-uniform grid, got {alpha!r}")
    return _levels(d, "nonuniform", s, a, None, {}) * d.scale


def _invert_J(d: Density, a: float, v: np.ndarray) -> np.ndarray:
    """Positions x in [lower, a] with J(x) = v·J(a), by a dense Simpson table."""
    from scipy.integrate import cumulative_simpson

    low = float(d.lower)
    grid = np.linspace(low, a, 20001)
    q13 = np.cbrt(d._q_num(np.maximum(grid, low)))
    cum = cumulative_simpson(q13, x=grid, initial=0.0)
    cum = np.maximum.accumulate(cum)
    return np.interp(v * cum[-1], cum, grid)
