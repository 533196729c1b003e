"""The exact per-coordinate MSE of the real codec for given levels (no high-resolution
approximation): :func:`codec_mse`."""

from __future__ import annotations

import itertools

import numpy as np

from theorykit.errors import InputError
from theorykit.rules.quantization.densities import Density
from theorykit.rules.quantization.numeric import _numeric_pieces

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def codec_mse(d: Density, levels: np.ndarray | list[float]) -> float:
    """The exact per-coordinate MSE of truncation at α = max(levels) followed by unbiased
    stochastic rounding to ``levels`` (*derived*):
    ``B(α) + Σ_j ∫_{ℓ_j}^{ℓ_{j+1}} (g-ℓ_j)(ℓ_{j+1}-g) p(g) dg`` (the clipped mass sits on
    ±α and has no rounding variance; the cross term vanishes by unbiasedness). Cells are
    integrated by 48-point Gauss-Legendre after splitting at the density's kinks."""
    lv = np.sort(np.asarray(levels, dtype=float))
    if lv.ndim != 1 or lv.size < 2 or not np.all(np.isfinite(lv)):
        raise InputError("levels must be a finite 1-d array with at least 2 entries")
    if not np.allclose(lv[0], -lv[-1]):
        raise InputError("levels must be symmetric: min(levels) = -max(levels)")
    alpha = float(lv[-1])
    sc = d.scale
    bias = _numeric_pieces(d).bias(alpha / sc) * sc**2
    kinks = np.array([0.0] + ([d.lower * sc, -d.lower * sc] if d.lower else []))
    lo, hi = lv[:-1], lv[1:]
    # split cells at kinks
    pieces_lo, pieces_hi, cell_a, cell_b = [], [], [], []
    for a_, b_ in zip(lo, hi, strict=True):
        cuts = np.sort(np.concatenate([[a_, b_], kinks[(kinks > a_) & (kinks < b_)]]))
        for x0, x1 in itertools.pairwise(cuts):
            pieces_lo.append(x0)
            pieces_hi.append(x1)
            cell_a.append(a_)
            cell_b.append(b_)
    x0 = np.array(pieces_lo)[:, None]
    x1 = np.array(pieces_hi)[:, None]
    ca = np.array(cell_a)[:, None]
    cb = np.array(cell_b)[:, None]
    mid, half = (x0 + x1) / 2, (x1 - x0) / 2
    x = mid + half * _GL_X[None, :]
    vals = (x - ca) * (cb - x) * d.pdf_numeric(x)
    var = float(np.sum(half[:, 0] * (vals @ _GL_W)))
    return bias + var
