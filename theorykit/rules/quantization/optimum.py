"""The entry point :func:`optimize` (scheme dispatch and input checks) and the threshold
that minimises the codec's exact MSE, :func:`exact_optimal_threshold`."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import sympy as sp

from theorykit.errors import InputError
from theorykit.rules.quantization.biscaled import _optimize_biscaled
from theorykit.rules.quantization.bits import check_levels, levels_for_bits
from theorykit.rules.quantization.codec import codec_mse
from theorykit.rules.quantization.densities import Density
from theorykit.rules.quantization.result import QuantizerOptimum
from theorykit.rules.quantization.scalar import _optimize_scalar, nonuniform_levels
from theorykit.rules.quantization.symbolic import C_Q_HIGH_RES, C_Q_WORST


def _resolve_s(s: Any, bits: Any) -> int:
    if s is not None and bits is not None:
        raise InputError("give either s (levels) or bits, not both")
    if s is None and bits is None:
        raise InputError("give s (number of intervals) or bits per coordinate")
    return levels_for_bits(bits) if bits is not None else check_levels(s)


def optimize(d: Density, s: int | None = None, *, bits: int | None = None,
             scheme: Literal["uniform", "nonuniform", "biscaled"] = "nonuniform",
             c_q: Any = C_Q_WORST, mass: Literal["bound", "exact"] = "bound",
             exact: bool = True) -> QuantizerOptimum:
    """Optimal threshold, levels and error of truncated quantization of ``d``.

    ``scheme``: ``"nonuniform"`` (λ* ∝ p^{1/3}, TNQSGD), ``"uniform"`` (TUQSGD; objective
    per ``mass``), ``"biscaled"`` (TBQSGD: two uniform spacings, fine on |g|<=β, coarse on
    β<|g|<=α, optimised over (α, β, split) with SciPy; objective with the exact masses).
    ``c_q`` is 1/4 (default, worst case; the published constant) or 1/6 (high-resolution
    average). ``exact`` also computes the codec's exact MSE (:func:`codec_mse`)."""
    if not isinstance(d, Density):
        raise InputError(f"optimize needs a Density (theorykit.rules.quantization.density), "
                         f"got {type(d).__name__}")
    s_int = _resolve_s(s, bits)
    if scheme not in ("uniform", "nonuniform", "biscaled"):
        raise InputError(f"scheme must be uniform, nonuniform or biscaled, got {scheme!r}")
    if mass not in ("bound", "exact"):
        raise InputError(f"mass must be 'bound' or 'exact', got {mass!r}")
    cq = sp.nsimplify(c_q)
    if not (cq.is_number and cq > 0):
        raise InputError(f"c_q must be a positive number (1/4 or 1/6), got {c_q!r}")
    if scheme == "biscaled":
        return _optimize_biscaled(d, s_int, cq, exact)
    return _optimize_scalar(d, s_int, scheme, cq, mass, exact)


def exact_optimal_threshold(d: Density, s: int,
                            scheme: Literal["uniform", "nonuniform"] = "nonuniform",
                            bracket: tuple[float, float] | None = None) -> tuple[float, float]:
    """The threshold minimising the codec's *exact* MSE (:func:`codec_mse`, no
    high-resolution approximation) for uniform levels or the λ*-levels at each α; returns
    ``(alpha, mse)``. Bounded scalar minimisation on ``bracket`` (default: between half the
    c_Q = 1/4 optimum and twice the c_Q = 1/6 optimum)."""
    s = check_levels(s)
    if scheme not in ("uniform", "nonuniform"):
        raise InputError(f"scheme must be uniform or nonuniform, got {scheme!r}")
    from scipy.optimize import minimize_scalar

    def f(a: float) -> float:
        lv = (np.linspace(-a, a, s + 1) if scheme == "uniform"
              else nonuniform_levels(d, a, s))
        return codec_mse(d, lv)

    if bracket is None:
        lo = 0.5 * optimize(d, s, scheme=scheme, c_q=C_Q_WORST, exact=False).alpha
        hi = 2.0 * optimize(d, s, scheme=scheme, c_q=C_Q_HIGH_RES, exact=False).alpha
        lo = max(lo, d.lower * d.scale * (1 + 1e-9))
    else:
        lo, hi = bracket
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7 * hi})
    return float(res.x), float(res.fun)
