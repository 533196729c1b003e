"""The bi-scaled scheme (TBQSGD-style): two uniform spacings, optimised numerically."""

from __future__ import annotations

import numpy as np
import sympy as sp

from theorykit.rules.quantization.bits import bits_per_coordinate
from theorykit.rules.quantization.codec import codec_mse
from theorykit.rules.quantization.densities import Density
from theorykit.rules.quantization.numeric import _numeric_pieces, _upper_bracket
from theorykit.rules.quantization.result import QuantizerOptimum
from theorykit.rules.quantization.scalar import _optimize_scalar
from theorykit.rules.quantization.symbolic import truncation_bias
from theorykit.symbols import C_Q as CQ
from theorykit.symbols import LEVELS as S
from theorykit.symbols import TRUNCATION as ALPHA


def _optimize_biscaled(d: Density, s: int, cq: sp.Expr, exact: bool) -> QuantizerOptimum:
    """TBQSGD-style: s_in intervals on [-β, β] and (s - s_in)/2 on each of [β, α], [-α, -β]
    (s_in ≡ s mod 2, s_in >= 1; s_in = s is the uniform scheme). Objective
    B(α) + c_Q[(2β/s_in)² P(|g|<=β) + ((α-β)/s_out)² P(β<|g|<=α)] minimised over (α, β)
    by L-BFGS-B for every admissible split (digest §2.2, *derived*; the paper's closed
    form was not retrieved)."""
    from scipy.optimize import minimize

    npc = _numeric_pieces(d)
    c = float(cq)
    sc = d.scale
    hi = _upper_bracket(d)
    uni = _optimize_scalar(d, s, "uniform", cq, "exact", exact=False, symbolic=False)
    best = (uni.predicted_error / sc**2, uni.alpha / sc, uni.alpha / sc, s)
    for s_in in range(s - 2, 0, -2):
        s_out = (s - s_in) // 2

        def obj(x: np.ndarray, s_in: int = s_in, s_out: int = s_out) -> float:
            a, frac = float(x[0]), float(x[1])
            b = frac * a
            p_in = 1 - npc.tail(b)
            p_out = npc.tail(b) - npc.tail(a)
            return (npc.bias(a) + c * (2 * b / s_in) ** 2 * p_in
                    + c * ((a - b) / s_out) ** 2 * p_out)

        starts = [(best[1], 0.5), (best[1] * 1.5, 0.3), (best[1], 0.8)]
        for a0, f0 in starts:
            res = minimize(obj, x0=np.array([min(a0, hi), f0]), method="L-BFGS-B",
                           bounds=[(max(1e-6, float(d.lower)), hi), (1e-6, 1 - 1e-9)])
            if res.fun < best[0]:
                best = (float(res.fun), float(res.x[0]), float(res.x[0] * res.x[1]), s_in)
    err, a, b, s_in = best
    s_out = (s - s_in) // 2
    if s_in == s:
        levels = np.linspace(-a, a, s + 1)
    else:
        inner = np.linspace(-b, b, s_in + 1)
        outer = np.linspace(b, a, s_out + 1)[1:]
        levels = np.concatenate([-outer[::-1], inner, outer])
    levels = levels * sc
    objective = (truncation_bias(d) + CQ * (2 * sp.Symbol("beta", positive=True) / S) ** 2)
    opt = QuantizerOptimum(d, "biscaled", s, cq, a * sc, levels, err * sc**2,
                           bits_per_coordinate(s), False, objective, None, mass="exact",
                           method="L-BFGS-B over (alpha, beta/alpha) for each split",
                           extra={"beta": b * sc, "s_inner": s_in, "s_outer": s_out})
    opt.expression = sp.Symbol("B(alpha)") + CQ * (
        (2 * sp.Symbol("beta") / sp.Symbol("s_in")) ** 2 * sp.Symbol("P_in")
        + ((ALPHA - sp.Symbol("beta")) / sp.Symbol("s_out")) ** 2 * sp.Symbol("P_out"))
    if exact:
        opt.exact_error = codec_mse(d, levels)
    return opt
