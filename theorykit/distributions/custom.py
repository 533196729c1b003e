"""A user law given by its density formula, e.g. ``-p 'pdf=exp(-g**2/2)/sqrt(2*pi)'``.

The text is parsed ONLY by :func:`theorykit.expr.parse_expr` (never ``sympify``) with one
variable, ``g`` (or ``x``). The density is validated on a grid and by quadrature: finite,
non-negative, symmetric, integrating to 1. Its moments, CDF and quantile are numeric
(SciPy ``quad`` and a tabulated CDF); sampling is by inverse transform.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import sympy as sp

from theorykit.compressors.base import Param
from theorykit.distributions.base import SymmetricLaw, U
from theorykit.distributions.registry import register
from theorykit.errors import InputError
from theorykit.expr import parse_expr

G = sp.Symbol("g", real=True)
"""The variable of a user formula."""


def parse_pdf(pdf: Any, what: str = "density custom") -> sp.Expr:
    """A density formula in ``g`` (text through the safe parser, or a SymPy expression)."""
    if pdf is None:
        raise InputError(f"{what}: give the density as pdf=EXPR in g, "
                         "e.g. -p 'pdf=exp(-g**2/2)/sqrt(2*pi)'")
    if isinstance(pdf, str):  # user text: the safe parser, never sympify
        expr = parse_expr(pdf, {"g": G, "x": G}, what=f"{what}: pdf")
    elif isinstance(pdf, sp.Expr):
        expr = pdf
    else:
        raise InputError(f"{what}: pdf must be a formula in g, got {type(pdf).__name__}")
    expr = expr.subs({s: G for s in expr.free_symbols if s.name in ("g", "x")})
    extra = sorted(s.name for s in expr.free_symbols if s != G)
    if extra:
        raise InputError(f"{what}: pdf may depend on g only; free symbols {extra}")
    return expr


def validate_pdf(expr: sp.Expr, what: str = "density custom") -> None:
    """Check a density on a grid and by quadrature: finite, >= 0, symmetric, mass 1."""
    from scipy.integrate import IntegrationWarning, quad

    f = sp.lambdify(G, expr, modules=["scipy", "numpy"])
    xs = np.concatenate([np.linspace(-10, 10, 401), np.geomspace(1e-6, 1e6, 200),
                         -np.geomspace(1e-6, 1e6, 200)])
    with np.errstate(all="ignore"):
        vals = np.asarray(np.broadcast_to(f(xs), xs.shape), dtype=float)
        mirror = np.asarray(np.broadcast_to(f(-xs), xs.shape), dtype=float)
    if not np.all(np.isfinite(vals)):
        raise InputError(f"{what}: pdf is not finite everywhere (checked on a grid)")
    if vals.min() < -1e-12:
        bad = xs[np.argmin(vals)]
        raise InputError(f"{what}: pdf is negative (p({bad:g}) = {vals.min():.3g})")
    if not np.allclose(vals, mirror, rtol=1e-9, atol=1e-14):
        bad = xs[np.argmax(np.abs(vals - mirror))]
        raise InputError(f"{what}: pdf is not symmetric (p({bad:g}) != p({-bad:g}))")
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        try:
            total = 2 * quad(lambda x: float(f(x)), 0, np.inf, limit=400)[0]
        except (IntegrationWarning, ValueError, ZeroDivisionError):
            raise InputError(f"{what}: the integral of pdf does not converge") from None
    if not abs(total - 1) < 1e-6:
        raise InputError(f"{what}: pdf integrates to {total:.8g}, not 1")


@register
class Custom(SymmetricLaw):
    """A user density formula in ``g`` (unit scale; no scale parameter)."""

    name = "custom"
    title = "user density"
    reference = "user formula"
    params = (Param("pdf", str, "density formula in g (safe parser)", None),)
    scale_param = None

    def __init__(self, pdf: Any = None) -> None:
        expr = parse_pdf(pdf)
        validate_pdf(expr)
        self.values = {"pdf": sp.sstr(expr)}
        self.expr = expr

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return self.expr.subs(G, u)

    def variance_factor(self) -> sp.Expr:
        """2∫_0^∞ g² p(g) dg by quadrature (``sp.oo`` when it diverges)."""
        from scipy.integrate import IntegrationWarning, quad

        f = self._pdf_num
        with warnings.catch_warnings():
            warnings.simplefilter("error", IntegrationWarning)
            try:
                m2 = 2 * quad(lambda x: x * x * float(f(np.array([x]))[0]), 0, np.inf,
                              limit=400)[0]
            except (IntegrationWarning, ValueError, ZeroDivisionError):
                m2 = math.inf
        return sp.oo if not math.isfinite(m2) else sp.Float(m2)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        """2∫_0^z p (an unevaluated integral when SymPy finds no closed form)."""
        return 2 * sp.integrate(self.std_pdf(U), (U, 0, z))
