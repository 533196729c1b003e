"""Numeric (standardised) bias, p^{1/3} integral and tail of a density, the scalar
objective of the optimiser and its bounded minimisation."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from theorykit.errors import InputError
from theorykit.rules.quantization.densities import _A, Density
from theorykit.rules.quantization.symbolic import _pieces


def _upper_bracket(d: Density) -> float:
    """A standardised |u| beyond which the mass is negligible for optimisation (1e-14)."""
    return d.law.bracket()


@dataclass
class _NumericPieces:
    """Standardised numeric functions (vectorised where cheap)."""

    bias: Callable[[float], float]
    J: Callable[[float], float]
    tail: Callable[[float], float]
    J_inf: float


_NUMERIC: dict[tuple, _NumericPieces] = {}


def _numeric_pieces(d: Density) -> _NumericPieces:
    """Standardised numeric B, J, tail of ``d`` (cached per density and parameters)."""
    if d.key not in _NUMERIC:
        _NUMERIC[d.key] = _make_numeric_pieces(d)
    return _NUMERIC[d.key]


def _make_numeric_pieces(d: Density) -> _NumericPieces:
    low = float(d.lower)
    if d.symbolic:
        pc = _pieces(d)
        sub = d._shape_values()
        fb = sp.lambdify(_A, pc.bias.subs(sub), modules=["scipy", "numpy"])
        fj = sp.lambdify(_A, pc.J.subs(sub), modules=["scipy", "numpy"])
        ft = sp.lambdify(_A, pc.tail.subs(sub), modules=["scipy", "numpy"])
        fg = (sp.lambdify(_A, pc.bias_gap.subs(sub), modules=["scipy", "numpy"])
              if pc.bias_gap is not None else None)
        j_inf = float(pc.J_inf.subs(sub))

        def bias(a: float) -> float:
            if a < low and fg is not None:
                return float(fg(a))
            return float(fb(a))

        def J(a: float) -> float:
            return 0.0 if a <= low else float(fj(a))

        def tail(a: float) -> float:
            return 1.0 if a < low else float(ft(a))

        return _NumericPieces(bias, J, tail, j_inf)

    from scipy.integrate import quad

    q = d._q_num
    hi = _upper_bracket(d)

    def q1(u: float) -> float:
        return float(q(np.array([u]))[0])

    if d.name == "student_t":
        return _student_t_pieces(d.params["nu"])

    def tail(a: float) -> float:
        return float(2 * quad(q1, a, np.inf, limit=400)[0])

    def bias(a: float) -> float:
        return float(2 * quad(lambda u: (u - a) ** 2 * q1(u), a, np.inf, limit=400)[0])

    def J(a: float) -> float:
        if a <= low:
            return 0.0
        return float(2 * quad(lambda u: q1(u) ** (1 / 3), low, a, limit=400)[0])

    j_inf = float(2 * quad(lambda u: q1(u) ** (1 / 3), low, np.inf, limit=400)[0])
    if not math.isfinite(j_inf) or j_inf > 1e12:
        raise InputError(f"density {d.name}: ∫ p^(1/3) diverges; the non-uniform error "
                         "is infinite")
    _ = hi
    return _NumericPieces(bias, J, tail, j_inf)


def _student_t_pieces(nu: float) -> _NumericPieces:
    r"""Student-t(ν) pieces through special functions (*derived*, tested against quad):
    with :math:`f_\nu` the t density and :math:`c_\nu = f_\nu(0)`,

    * :math:`\int_a^\infty u f_\nu = \frac{\nu + a^2}{\nu - 1} f_\nu(a)`;
    * :math:`\int_a^\infty u^2 f_\nu = \nu\frac{c_\nu}{c_{\nu-2}}
      \sqrt{\tfrac{\nu}{\nu-2}}\,\bar F_{\nu-2}\big(a\sqrt{\tfrac{\nu-2}{\nu}}\big)
      - \nu \bar F_\nu(a)` (from :math:`u^2 = \nu[(1+u^2/\nu) - 1]`);
    * :math:`\int_0^a f_\nu^{1/3} = c_\nu^{1/3} a\,
      {}_2F_1(\tfrac12, \tfrac{\nu+1}{6}; \tfrac32; -a^2/\nu)`, and
      :math:`\int_0^\infty f_\nu^{1/3} = c_\nu^{1/3}\tfrac{\sqrt{\nu\pi}}{2}
      \Gamma(\tfrac{\nu-2}{6})/\Gamma(\tfrac{\nu+1}{6})` (finite iff ν > 2)."""
    from scipy import special, stats

    c_nu = math.exp(special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)) / math.sqrt(
        nu * math.pi)
    c_nm2 = math.exp(special.gammaln((nu - 1) / 2) - special.gammaln((nu - 2) / 2)) / \
        math.sqrt((nu - 2) * math.pi)
    k = (nu + 1) / 6
    r = math.sqrt((nu - 2) / nu)

    def tail(a: float) -> float:
        return float(2 * stats.t.sf(a, nu))

    def bias(a: float) -> float:
        m1 = (nu + a * a) / (nu - 1) * stats.t.pdf(a, nu)
        m2 = nu * c_nu / c_nm2 / r * stats.t.sf(a * r, nu - 2) - nu * stats.t.sf(a, nu)
        return float(2 * (m2 - 2 * a * m1 + a * a * stats.t.sf(a, nu)))

    def J(a: float) -> float:
        return float(2 * c_nu ** (1 / 3) * a * special.hyp2f1(0.5, k, 1.5, -a * a / nu))

    j_inf = 2 * c_nu ** (1 / 3) * math.sqrt(nu * math.pi) / 2 * math.exp(
        special.gammaln((nu - 2) / 6) - special.gammaln(k))
    return _NumericPieces(bias, J, tail, float(j_inf))


def _objective_std(d: Density, scheme: str, s: int, cq: float, mass: str
                   ) -> Callable[[float], float]:
    npc = _numeric_pieces(d)
    if scheme == "nonuniform":
        return lambda a: npc.bias(a) + cq * npc.J(a) ** 3 / s**2
    if mass == "bound":
        return lambda a: npc.bias(a) + cq * (2 * a / s) ** 2
    return lambda a: npc.bias(a) + cq * (2 * a / s) ** 2 * (1 - npc.tail(a))


def _minimise_scalar(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Global-ish bounded minimisation: a log-spaced scan, then Brent in the best bracket."""
    from scipy.optimize import minimize_scalar

    lo = max(lo, 1e-9)
    grid = np.geomspace(lo, hi, 241)
    vals = np.array([f(x) for x in grid])
    i = int(np.nanargmin(vals))
    a_lo = grid[max(i - 1, 0)]
    a_hi = grid[min(i + 1, grid.size - 1)]
    if a_lo == a_hi:
        return float(grid[i])
    res = minimize_scalar(f, bounds=(a_lo, a_hi), method="bounded",
                          options={"xatol": 1e-12 * max(1.0, a_hi)})
    return float(res.x) if res.fun <= vals[i] else float(grid[i])
