r"""Quantizers: QSGD (standard dithering) and natural dithering, plus the truncated uniform
and truncated non-uniform quantizers (defined in
:mod:`~theorykit.compressors.catalog.truncated`, re-exported here).

All four are *level quantizers*: each coordinate is mapped to one of finitely many levels by
unbiased stochastic rounding between its two neighbouring levels (for a value ``t`` in the
cell ``[a, b]``: ``b`` with probability ``(t - a)/(b - a)``, else ``a``; conditional
variance ``(t - a)(b - t)``). They differ in the level grid and the normalisation:

============================  ==========================================  ==================
spec                          levels of                                   wire (per vector)
============================  ==========================================  ==================
``qsgd``                      ``|x_j| / ||x||_2`` on ``{0, 1/s, .., 1}``  32 + d (1 + w)
``natural_dithering``         ``|x_j| / ||x||_r`` on ``{0, 2^(1-s),..,1}``  32 + d (1 + w)
``truncated_uniform``         ``T_tau(x_j)`` on ``s+1`` uniform levels      d w
``truncated_nonuniform``      ``T_tau(x_j)`` on a given sorted grid        d w
============================  ==========================================  ==================

with ``w = bits_for(number of levels) = ceil(log2(s + 1))``.

Wire format (exact; every payload field is really packed; ``B`` vectors of dimension ``d``
give ``B * bits(d)`` bits):

* ``norm``: one float32 per vector (32 bits) — only for the norm-scaled quantizers;
* ``signs``: one bit per coordinate, ``1`` = sign bit set (so ``-0.0`` counts as negative),
  packed MSB first, row-major (the layout of :func:`theorykit.compressors.bitpack.pack_bits`);
* ``codes``: one level code per coordinate in exactly ``w`` bits, MSB first, contiguous —
  byte for byte the layout of :func:`theorykit.compressors.bitpack.pack_uint` (faster
  packers are used here and tested against it).

Arithmetic is float32 throughout (float64/float16 input is cast; the output has the input's
dtype). Stochastic rounding with probability ``p`` uses one uniform 24-bit integer ``R`` per
coordinate in fixed point: ``(floor(p 2^24) + R) >> 24`` is 1 with probability
``floor(p 2^24)/2^24``, i.e. within ``2^-24`` below ``p`` (exact for dyadic ``p``, e.g. the
power-of-two grids); levels and probabilities carry float32 relative error ``~6e-8``.
"Unbiased" below means unbiased up to these float32 effects.
Segments, blocks, randomness and threads are the block engine's
(:mod:`~theorykit.compressors.catalog.block_engine`); packing is
:mod:`~theorykit.compressors.bitpack`'s; the fixed-point rounding kernels are in
:mod:`~theorykit.compressors.catalog.fixed_point`.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from theorykit.compressors.base import D, Param, diagonal_matrix
from theorykit.compressors.bitpack import bits_for
from theorykit.compressors.catalog.block_engine import INTERVALS, _BlockQuantizer
from theorykit.compressors.catalog.fixed_point import (
    _R_ONE,
    _round_fixed,
    _round_general,
    _sign_plane,
    _signed_codes,
)
from theorykit.compressors.catalog.truncated import (
    LevelGrid,
    TruncatedNonuniform,
    TruncatedUniform,
)
from theorykit.compressors.classes import CompressorClass, Unbiased
from theorykit.compressors.registry import register

__all__ = [
    "QSGD",
    "LevelGrid",
    "NaturalDithering",
    "TruncatedNonuniform",
    "TruncatedUniform",
    "natural_dithering_omega_sharp",
    "qsgd_omega_sharp",
]


def _norm_bits(s: sp.Expr) -> sp.Expr:
    """``32 + d (1 + ceil(log2(s + 1)))``: float32 norm, sign plane, ``s + 1`` level codes."""
    return 32 + D * (1 + sp.ceiling(sp.log(s + 1, 2)))


# =========================================================================== QSGD
def qsgd_omega_sharp(s: Any = None, d: Any = None) -> sp.Expr:
    r"""The sharper variance bound ``min(d/(4 s^2), sqrt(d)/s)`` of QSGD [derived].

    Per coordinate ``Var = (||x||/s)^2 f(1-f)`` with ``f = frac(r_j)``, ``r_j = s|x_j|/||x||``;
    ``f(1-f) <= min(1/4, f) <= min(1/4, r_j)`` and ``sum_j r_j = s ||x||_1/||x||_2 <= s sqrt(d)``,
    so ``E||C(x)-x||^2 <= ||x||^2 min(d/(4 s^2), sqrt(d)/s)`` — a factor 4 below the paper's
    ``d/s^2`` branch. Symbols default to the spec's ``s`` and ``d``."""
    s = sp.Symbol("s", integer=True, positive=True) if s is None else sp.sympify(s)
    d = D if d is None else sp.sympify(d)
    return sp.Min(d / (4 * s**2), sp.sqrt(d) / s)


@register
class QSGD(_BlockQuantizer):
    r"""QSGD / standard dithering with ``s`` levels (Alistarh, Grubic, Li, Tomioka, Vojnovic,
    *QSGD: Communication-Efficient SGD via Gradient Quantization and Encoding*, NeurIPS 2017,
    Sec. 3.1 and Lemma 3.1 [recalled]).

    .. math:: C(x)_j = \|x\|_2\,\mathrm{sign}(x_j)\,\xi_j/s,\qquad
              \xi_j = \lfloor r_j\rfloor + \mathrm{Bernoulli}(r_j - \lfloor r_j\rfloor),\quad
              r_j = s|x_j|/\|x\|_2 \in [0, s].

    Classes: ``U(omega)`` with ``omega = min(d/s^2, sqrt(d)/s)`` — Lemma 3.1's bound
    ``E||C(x)||^2 <= (1 + min(d/s^2, sqrt(d)/s)) ||x||^2`` [recalled]. It holds: with
    ``f_j = frac(r_j)``,

    .. math:: E\|C(x)-x\|^2 = \frac{\|x\|^2}{s^2}\sum_j f_j(1-f_j)
              \le \frac{\|x\|^2}{s^2}\min\Big(\frac d4, \sum_j r_j\Big)
              \le \|x\|^2 \min\Big(\frac{d}{4s^2}, \frac{\sqrt d}{s}\Big)

    [derived]; :func:`qsgd_omega_sharp` is the sharper right-hand side.

    Covariance (:meth:`covariance`) [derived]: coordinates are rounded independently given
    ``x``, so ``Cov[C(x)|x]`` is diagonal with ``Var C_j = (||x||/s)^2 f_j (1 - f_j)``
    (a Bernoulli(``f_j``) times the level spacing ``||x||/s``).

    Wire: ``norm`` (float32) + ``signs`` (1 bit/coord) + ``codes`` (``xi_j`` in
    ``ceil(log2(s+1))`` bits/coord): ``bits = 32 + d (1 + ceil(log2(s+1)))``.
    """

    name = "qsgd"
    title = "QSGD (standard dithering, s levels, l2 norm)"
    reference = ("Alistarh et al., QSGD, NeurIPS 2017, Lemma 3.1 (omega recalled); "
                 "covariance and sharper bound derived by theorykit")
    params = (INTERVALS,)
    randomized = True
    _norm_order = 2.0

    def _validate(self) -> None:
        self.require("s")

    # ------------------------------------------------------------- symbolic face
    def classes(self) -> tuple[CompressorClass, ...]:
        s = self.sym("s")
        return (Unbiased(sp.Min(D / s**2, sp.sqrt(D) / s)),)

    def bits(self) -> sp.Expr:
        return _norm_bits(self.sym("s"))

    def omega_sharp(self) -> sp.Expr:
        """:func:`qsgd_omega_sharp` in this spec's symbols."""
        return qsgd_omega_sharp(self.sym("s"), D)

    def covariance(self, v: Any) -> sp.Matrix:
        r"""``Cov[C(v) | v] = diag((||v||/s)^2 frac(r_j)(1 - frac(r_j)))``,
        ``r_j = s|v_j|/||v||`` [derived; see the class docstring]. ``v``: a SymPy Matrix or
        sequence of expressions (symbols or numbers); ``s`` stays the symbol ``s``."""
        vec = list(sp.Matrix(v))
        s = self.sym("s")
        norm = sp.sqrt(sum(vj**2 for vj in vec))
        entries = []
        for vj in vec:
            f = sp.frac(s * sp.Abs(vj) / norm)
            entries.append((norm / s) ** 2 * f * (1 - f))
        return diagonal_matrix(entries)

    # ------------------------------------------------------------- codec
    def _width(self) -> int:
        return bits_for(self["s"] + 1)

    def _encode_aux(self, row):
        s = self["s"]
        k = torch.where(row > 0, s / row, torch.zeros_like(row))
        if s <= 127:  # the kernel then works on r 2^24 < 2^31 in fixed point (exact scaling)
            k = k * float(_R_ONE)
        return (k.unsqueeze(-1),)

    def _decode_aux(self, row):
        return ((row / float(self["s"])).unsqueeze(-1),)

    def _encode_block(self, xb, aux, rnd, codes, signs):
        (k,) = aux
        s = self["s"]
        y = torch.abs(xb)
        y.mul_(k)                 # r 2^24 (s <= 127) or r, r = s |x| / ||x|| in [0, s]
        z = _round_fixed(y, rnd, s) if s <= 127 else _round_general(y, rnd, s)
        codes.copy_(z)            # level xi in [0, s] (clamped: float32 r may exceed s)
        _sign_plane(xb, signs)

    def _decode_block(self, codes, signs, aux, out):
        (sc,) = aux
        out.copy_(_signed_codes(codes, signs, self["s"] <= 127))
        out.mul_(sc)


# =========================================================================== natural dithering
def natural_dithering_omega_sharp(s: Any = None, r: Any = None, d: Any = None) -> sp.Expr:
    r"""A sharper variance bound of natural dithering [derived]:
    ``1/8 + d^{1/rho} 2^{1-s} min(1, d^{1/rho} 2^{1-s}/4)``, ``rho = min(r, 2)`` (see
    :class:`NaturalDithering`). Symbols default to the spec's."""
    s = sp.Symbol("s", integer=True, positive=True) if s is None else sp.sympify(s)
    r = sp.Symbol("r", real=True, positive=True) if r is None else sp.sympify(r)
    d = D if d is None else sp.sympify(d)
    a = d ** (1 / sp.Min(r, 2)) * 2 ** (1 - s)
    return sp.Rational(1, 8) + a * sp.Min(1, a / 4)


@register
class NaturalDithering(_BlockQuantizer):
    r"""Natural dithering (Horváth, Ho, Horváth, Sahu, Canini, Richtárik, *Natural
    Compression for Distributed Deep Learning*, 2019, Sec. on natural dithering [recalled]).

    Levels on ``t_j = |x_j| / ||x||_r``: ``{0} ∪ {2^{-j}: j = 0..s-1}``, i.e. ``0 < 2^{1-s} <
    ... < 1/2 < 1``, with unbiased random rounding between neighbours:
    ``C(x)_j = ||x||_r sign(x_j) level_j``.

    Variance [derived]. In a dyadic cell ``[a, 2a]`` the conditional variance
    ``(t-a)(2a-t) <= t^2/8`` (maximum at the harmonic mean ``t = 4a/3``); in the bottom cell
    ``[0, l]``, ``l = 2^{1-s}``: ``t(l-t) <= min(l^2/4, l t)``. Summing, with
    ``rho = min(r, 2)`` and ``||x||_r <= d^{1/rho - 1/2} ||x||_2``,

    .. math:: E\|C(x)-x\|^2 \le \|x\|_2^2\Big(\tfrac18 +
              d^{1/\rho} l \min\big(1, d^{1/\rho} l/4\big)\Big).

    Claimed class: ``U(omega)``, ``omega = 1/8 + d^{1/rho} 2^{1-s} min(1, d^{1/rho} 2^{1-s})``
    with ``rho = min(r, 2)`` — the paper's Theorem as recalled (it is implied by the bound
    above). **Note:** the theory digest (``docs/theory/compression_papers.md`` §1.2) recalls
    the exponent
    as ``d^{1/r}``; for ``r > 2`` that version is false: with ``x = (1, e, ..., e)``,
    ``e = 2^{-s}`` (so ``t_j < l`` for ``j >= 2``), the error ratio is about
    ``(d-1) l^2/4 / (1 + (d-1) l^2/4)`` — e.g. 0.80 at ``d = 1000, s = 4, r = 8`` against
    ``0.213`` from ``d^{1/r}``; ``tests/test_compressors_quantizers.py`` measures it.

    Wire: ``norm`` (float32 ``||x||_r``) + ``signs`` + ``codes`` (``0`` for zero, ``k`` for
    ``2^{k-s}``) in ``ceil(log2(s+1))`` bits: ``bits = 32 + d (1 + ceil(log2(s+1)))``.
    ``s <= 127`` keeps ``2^{1-s}`` a float32 normal number.

    Codec [derived]: for ``t >= l`` with float32 exponent ``e`` and mantissa field ``m``, the
    rounding probability ``t/2^e - 1 = m/2^23`` is realised exactly by a carry
    (``(bits + R23) >> 23`` with ``R23`` uniform on ``[0, 2^23)``);
    the bottom cell is mapped onto ``[l, 2l)`` by adding ``l`` (probability ``t/l`` up to one
    float32 rounding of ``t + l``).
    """

    name = "natural_dithering"
    title = "Natural dithering (levels 2^-j on |x_j| / ||x||_r)"
    reference = ("Horváth et al., Natural Compression for Distributed Deep Learning, 2019 "
                 "(omega recalled, with d^(1/min(r,2))); bound re-derived by theorykit")
    params = (
        Param("s", int, "number of non-zero levels 2^0, ..., 2^(1-s)", minimum=1, maximum=127),
        Param("r", float, "order of the normalising norm ||x||_r", default=2.0, minimum=1.0),
    )
    randomized = True

    def _validate(self) -> None:
        self.require("s")
        self._norm_order = float(self["r"])
        s = self["s"]
        self._levels = torch.tensor([0.0] + [2.0 ** (k - s) for k in range(1, s + 1)],
                                    dtype=torch.float32)

    # ------------------------------------------------------------- symbolic face
    def classes(self) -> tuple[CompressorClass, ...]:
        s, r = self.sym("s"), self.sym("r")
        a = D ** (1 / sp.Min(r, 2)) * 2 ** (1 - s)
        return (Unbiased(sp.Rational(1, 8) + a * sp.Min(1, a)),)

    def omega_digest(self) -> sp.Expr:
        """The digest's recalled ``1/8 + d^{1/r} 2^{1-s} min(1, d^{1/r} 2^{1-s})`` (false for
        ``r > 2``; kept so tests and the book can show the counterexample)."""
        s, r = self.sym("s"), self.sym("r")
        a = D ** (1 / r) * 2 ** (1 - s)
        return sp.Rational(1, 8) + a * sp.Min(1, a)

    def omega_sharp(self) -> sp.Expr:
        """:func:`natural_dithering_omega_sharp` in this spec's symbols."""
        return natural_dithering_omega_sharp(self.sym("s"), self.sym("r"), D)

    def bits(self) -> sp.Expr:
        return _norm_bits(self.sym("s"))

    def covariance(self, v: Any) -> sp.Matrix:
        r"""Diagonal ``Cov[C(v)|v]`` [derived]: with ``n = ||v||_r``, ``t_j = |v_j|/n``,
        ``l = 2^{1-s}``: ``n^2 t_j (l - t_j)`` if ``t_j < l`` else ``n^2 (t_j - a)(2a - t_j)``
        with ``a = 2^{floor(log2 t_j)}``."""
        vec = list(sp.Matrix(v))
        s, r = self.sym("s"), self.sym("r")
        n = sum(sp.Abs(vj) ** r for vj in vec) ** (1 / r)
        low = 2 ** (1 - s)
        entries = []
        for vj in vec:
            t = sp.Abs(vj) / n
            a = 2 ** sp.floor(sp.log(t, 2))
            entries.append(sp.Piecewise((n**2 * t * (low - t), t < low),
                                        (n**2 * (t - a) * (2 * a - t), True)))
        return diagonal_matrix(entries)

    # ------------------------------------------------------------- codec
    @property
    def levels_tensor(self) -> torch.Tensor:
        """The ``s + 1`` normalised levels ``[0, 2^{1-s}, ..., 1]`` (float32), indexed by code."""
        return self._levels.clone()

    def _width(self) -> int:
        return bits_for(self["s"] + 1)

    def _encode_aux(self, row):
        k = torch.where(row > 0, 1.0 / row, torch.zeros_like(row))
        return (k.unsqueeze(-1),)

    def _decode_aux(self, row):
        return (row.unsqueeze(-1),)

    def _encode_block(self, xb, aux, rnd, codes, signs):
        (k,) = aux
        s = self["s"]
        low = 2.0 ** (1 - s)
        t = torch.abs(xb)
        t.mul_(k)
        t.clamp_(max=1.0)
        bottom = torch.lt(t, low, out=torch.empty_like(t))   # 1.0 in the bottom cell
        t.add_(bottom, alpha=low)          # bottom cell [0, l) -> [l, 2l)
        # carry into the exponent iff R23 >= 2^23 - mantissa (R23 = R >> 1): probability
        # mantissa / 2^23, the same event as the fixed-point rule (floor(p 2^24) + R) >> 24
        w = t.view(torch.int32) + rnd.bitwise_right_shift_(1)
        w.bitwise_right_shift_(23)         # biased exponent after rounding
        w.sub_(127 - s)
        w.sub_(bottom.to(torch.int32))
        codes.copy_(w)
        _sign_plane(xb, signs)

    def _decode_block(self, codes, signs, aux, out):
        (n,) = aux
        s = self["s"]
        v = codes.to(torch.int32)
        nz = v.clamp(max=1)                # 0 for code 0, else 1
        v.add_(127 - s)
        v.mul_(nz)
        v.bitwise_left_shift_(23)          # float32 bits of 2^(c - s) (0 for c = 0)
        v.bitwise_or_(signs.view(torch.int8).to(torch.int32).bitwise_left_shift_(31))
        out.view(torch.int32).copy_(v)
        out.mul_(n)                        # times ||x||_r: exact (power-of-two levels)
