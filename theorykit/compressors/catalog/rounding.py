r"""Rounding of each coordinate to a geometric grid: unbiased random rounding and biased
(deterministic) nearest rounding.

Grid: ``a_k = base^k`` for all integers ``k`` (``base > 1``); each ``|x_j|`` lies in a cell
``[a, base a]`` and is replaced by one of the cell's ends, keeping the sign.

* ``unbiased_rounding`` — ``base a`` with probability ``(|x_j| - a)/((base - 1) a)``, else
  ``a``: ``E C(x) = x``. The general unbiased rounding of Beznosikov, Horváth, Richtárik,
  Safaryan (*On Biased Compression for Distributed Learning*, JMLR 24(276), 2023, Table 1
  [recalled]); ``base = 2`` is natural compression.
* ``nearest_rounding`` — the nearest end in the arithmetic metric (``base a`` iff
  ``|x_j| >= (a + base a)/2``; ties round up). The "general biased rounding" of the same
  paper [recalled].

Constants [derived here, symbolically — :func:`derive_unbiased_omega`,
:func:`derive_nearest_constants`; tests check them against closed forms and numerically]:

* unbiased: cell variance ``(t - a)(b - t)`` over ``t^2`` is maximal at the harmonic mean
  ``t = 2ab/(a+b)`` with value ``(b-a)^2/(4ab)``; for ``b = base a``:
  ``omega = (base - 1)^2 / (4 base)`` (``1/8`` for base 2): ``U(omega)``.
* nearest: the ratio ``C_j/x_j`` lies in ``[r_min, r_max]`` with ``r_min = 2/(1+base)``
  (``a`` over the midpoint) and ``r_max = 2 base/(1+base)`` (``b`` over the midpoint), so
  ``B1(r_min^2, r_max)``, ``B2(r_min, r_max)``, and with
  ``|r - 1| <= (base-1)/(base+1)``: ``B3(delta)``, ``delta = (1+base)^2/(4 base)``
  (``9/8`` for base 2) — the digest's ``sup_k (a_k + a_{k+1})^2/(4 a_k a_{k+1})``.

Wire format: ``signs`` (1 bit per coordinate, ``1`` = negative) + ``codes`` (one exponent
code per coordinate): code ``0`` is zero, code ``c >= 1`` is ``a_{k_min + c - 1}``, where
``k_min..k_max`` are the exponents whose ``base^k`` is a float32 normal number
(``[2^-126, 2^128)``). Width ``w = bits_for(k_max - k_min + 2)``; for base 2 the code is
float32's biased exponent field (``1..254``), ``w = 8``: 9 bits per coordinate, like
natural compression. ``bits = d (1 + w)``.

Range (float32 arithmetic; the constants above are those of the infinite grid and hold for
inputs whose non-zero ``|x_j|`` lie in ``[a_{k_min}, a_{k_max}]``):

* ``|x_j| > a_{k_max}`` is clamped to ``a_{k_max}`` (``2^127`` for base 2): biased, only
  within a factor ``base`` of float32's max;
* ``|x_j| < a_{k_min}`` (float32 subnormals for base 2) is rounded between ``0`` and
  ``a_{k_min}`` (unbiasedly, or to the nearer of the two).

Codec: base 2 uses float32 bit arithmetic (exact: the rounding probability is the mantissa
field over ``2^23``, realised by the carry of ``bits + R23``, ``R23`` uniform on
``[0, 2^23)``); other bases find the
cell with ``log2`` and one correction step each way against a float32 table of the grid
(the grid actually used is the float32-rounded ``base^k``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.base import D, Param, diagonal_matrix
from theorykit.compressors.bitpack import bits_for
from theorykit.compressors.catalog.block_engine import _BlockQuantizer
from theorykit.compressors.catalog.fixed_point import _R_ONE, _round_fixed, _sign_plane
from theorykit.compressors.classes import B1, B2, B3, CompressorClass, Unbiased
from theorykit.compressors.registry import register
from theorykit.errors import InputError

__all__ = [
    "NearestRounding",
    "UnbiasedRounding",
    "derive_nearest_constants",
    "derive_unbiased_omega",
]

_BASE = Param("base", float, "grid ratio: levels base^k for all integers k", default=2.0,
              minimum=1.0, minimum_inclusive=False)
_MAX_CODES = 1 << 22


# =========================================================================== derivations
@functools.cache
def derive_unbiased_omega() -> sp.Expr:
    r"""``sup_{a <= t <= base a} (t - a)(base a - t)/t^2`` in terms of the ``base`` symbol
    [derived with SymPy]: the variance of unbiased rounding between ``a`` and ``base a``
    relative to ``t^2``. Zero at both ends, one interior critical point (the harmonic mean
    ``2 base a/(1 + base)``), value ``(base - 1)^2/(4 base)``."""
    base = _BASE.symbol()
    a, t = sp.symbols("a t", positive=True)
    f = (t - a) * (base * a - t) / t**2
    crit = sp.solve(sp.diff(f, t), t)
    if len(crit) != 1:
        raise RuntimeError(f"unexpected critical points {crit}")
    t_star = sp.simplify(crit[0])
    # t* lies inside the cell: a < t* < base a for base > 1
    assert sp.simplify(t_star - 2 * base * a / (1 + base)) == 0
    return sp.factor(sp.simplify(f.subs(t, t_star)))


@functools.cache
def derive_nearest_constants() -> dict[str, sp.Expr]:
    r"""``r_min, r_max, alpha, beta, gamma, delta`` of nearest rounding on the grid
    ``base^k`` [derived with SymPy].

    In the cell ``[a, b]``, ``b = base a``, with midpoint ``m = (a+b)/2``: ``t < m`` maps to
    ``a`` (ratio ``a/t in (a/m, 1]``), ``t >= m`` to ``b`` (ratio ``b/t in [1, b/m]``). So
    ``r_min = a/m``, ``r_max = b/m`` (cell-independent for a geometric grid), and per
    coordinate ``r_min^2 x^2 <= C^2``, ``C^2 <= r_max C x``, ``C x >= r_min x^2``,
    ``(C - x)^2 <= max((1-r_min)^2, (r_max-1)^2) x^2``; summing over coordinates gives
    ``B1(r_min^2, r_max)``, ``B2(r_min, r_max)``, ``B3(1/(1 - eps^2))``,
    ``eps = max(1 - r_min, r_max - 1)``."""
    base = _BASE.symbol()
    a = sp.Symbol("a", positive=True)
    b = base * a
    m = (a + b) / 2
    r_min = sp.simplify(a / m)
    r_max = sp.simplify(b / m)
    e_lo, e_hi = sp.simplify(1 - r_min), sp.simplify(r_max - 1)
    if sp.simplify(e_lo - e_hi) != 0:  # symmetric for a geometric grid: both (b-1)/(b+1)
        raise RuntimeError("nearest-rounding deviations are not symmetric")
    delta = sp.factor(sp.simplify(1 / (1 - e_lo**2)))
    return {"r_min": r_min, "r_max": r_max, "alpha": sp.simplify(r_min**2),
            "beta": r_max, "gamma": r_min, "delta": delta}


# =========================================================================== codec
_TABLE_1 = "Beznosikov, Horváth, Richtárik, Safaryan, JMLR 2023, Table 1 (recalled)"
"""Where both roundings are listed ("general unbiased / biased rounding")."""


class _GridRounding(_BlockQuantizer):
    """Shared codec: sign plane + exponent codes on the float32 grid ``base^k``."""

    params = (_BASE,)

    def _validate(self) -> None:
        base = float(self["base"])
        self._pow2 = base == 2.0
        if self._pow2:
            self._ncodes = 255
            self._table = None
            return
        lb = math.log2(base)
        kmin = math.ceil(-126.0 / lb) - 2
        kmax = math.floor(128.0 / lb) + 2
        if kmax - kmin + 2 > _MAX_CODES:
            raise InputError(f"{self.name}: base={base} is too close to 1 (more than "
                             f"{_MAX_CODES} float32 grid points)")
        ks = np.arange(kmin, kmax + 1, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore"):
            vals = np.power(base, ks).astype(np.float32)
        keep = np.isfinite(vals) & (vals >= np.float32(2.0**-126))
        vals = vals[keep]
        if vals.size < 2 or not np.all(np.diff(vals) > 0):
            raise InputError(f"{self.name}: base={base} gives no usable float32 grid")
        self._kmin = int(ks[keep][0])
        self._ncodes = int(vals.size) + 1
        # ext[c] = value of code c (0 -> 0); ext[ncodes] = inf closes the top cell
        ext = np.concatenate([[0.0], vals, [np.inf]]).astype(np.float32)
        self._table = torch.from_numpy(ext)
        self._mids = torch.from_numpy(((ext[:-1].astype(np.float64) + ext[1:]) / 2)
                                      .astype(np.float32))
        self._inv_lb = float(1.0 / lb)

    def bits(self) -> sp.Expr:
        return D * (1 + self._width())

    def _width(self) -> int:
        return bits_for(self._ncodes)

    @property
    def levels_tensor(self) -> torch.Tensor:
        """The magnitudes of all codes (float32; index = code, code 0 = 0)."""
        if self._pow2:
            c = torch.arange(255, dtype=torch.int32)
            return (c << 23).view(torch.float32).clone()
        return self._table[:-1].clone()

    # --------------------------------------------------------------- encode
    def _general_cells(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Code ``c`` of the lower end of the cell of ``t >= 0`` (int64, flat) and the table."""
        tab = self._table.to(t.device)
        est = torch.log2(t)
        est.mul_(self._inv_lb)
        est.floor_()
        est.sub_(self._kmin - 1)
        est.clamp_(0, self._ncodes - 1)          # log2(0) = -inf -> code 0
        c = est.to(torch.int64).reshape(-1)
        flat = t.reshape(-1)
        step = torch.empty_like(c)
        c.sub_(torch.gt(torch.index_select(tab, 0, c), flat, out=step))
        c.clamp_(min=0)
        c.add_(torch.le(torch.index_select(tab, 0, c + 1), flat, out=step))
        c.clamp_(max=self._ncodes - 1)
        return c, tab

    def _encode_block(self, xb, aux, rnd, codes, signs):
        _sign_plane(xb, signs)
        if self._pow2:
            bits = xb.view(torch.int32) & 0x7FFFFFFF     # |x| bits
            if self.randomized:  # unbiased random rounding, else nearest
                bits.add_(rnd.bitwise_right_shift_(1))  # carry iff R23 >= 2^23 - mantissa
            else:
                bits.add_(1 << 22)                      # carry iff mantissa >= 2^22
            bits.bitwise_right_shift_(23)
            bits.clamp_(max=254)
            codes.copy_(bits)
            return
        t = torch.abs(xb)
        c, tab = self._general_cells(t)
        flat = t.reshape(-1)
        if self.randomized:
            lo = torch.index_select(tab, 0, c)
            hi = torch.index_select(tab, 0, c + 1)
            p = flat - lo
            p.div_(hi.sub_(lo))                         # (t - lo)/(hi - lo); 0 in the top cell
            p.mul_(float(_R_ONE))
            c.add_(_round_fixed(p, rnd.reshape(-1), 1).to(torch.int64))
        else:
            mids = torch.index_select(self._mids.to(t.device), 0, c)
            c.add_(torch.ge(flat, mids, out=torch.empty_like(c)))
        c.clamp_(max=self._ncodes - 1)
        codes.copy_(c.view(codes.shape))

    # --------------------------------------------------------------- decode
    def _decode_block(self, codes, signs, aux, out):
        if self._pow2:
            v = codes.to(torch.int32)
            v.bitwise_left_shift_(23)
            v.bitwise_or_(signs.view(torch.int8).to(torch.int32).bitwise_left_shift_(31))
            out.view(torch.int32).copy_(v)
            return
        tab = self._table.to(out.device)
        torch.index_select(tab, 0, codes.reshape(-1).to(torch.int64), out=out.view(-1))
        sg = signs.view(torch.int8).to(torch.int32).bitwise_left_shift_(31)
        out.view(torch.int32).bitwise_or_(sg)


@register
class UnbiasedRounding(_GridRounding):
    r"""Unbiased random rounding of ``|x_j|`` to the grid ``base^k`` (Beznosikov et al.,
    JMLR 2023, Table 1, "general unbiased rounding" [recalled]; natural compression for
    base 2).

    Classes: ``U(omega)``, ``omega = (base - 1)^2/(4 base)`` [derived:
    :func:`derive_unbiased_omega`]; ``1/8`` for base 2. Covariance: diagonal,
    :meth:`covariance`. Wire: ``d (1 + w)`` bits (see the module docstring; 9 d for base 2).
    """

    name = "unbiased_rounding"
    title = "Unbiased random rounding to the grid base^k"
    reference = f"{_TABLE_1}; omega(base) derived by theorykit"
    randomized = True

    def classes(self) -> tuple[CompressorClass, ...]:
        return (Unbiased(derive_unbiased_omega()),)

    def covariance(self, v) -> sp.Matrix:
        r"""``diag((|v_j| - a_j)(base a_j - |v_j|))``, ``a_j = base^{floor(log_base |v_j|)}``
        (0 for ``v_j = 0``) [derived: one Bernoulli per coordinate, spacing
        ``(base - 1) a_j``]."""
        base = self.sym("base")
        entries = []
        for vj in list(sp.Matrix(v)):
            t = sp.Abs(vj)
            a = base ** sp.floor(sp.log(t) / sp.log(base))
            entries.append(sp.Piecewise((0, sp.Eq(vj, 0)), ((t - a) * (base * a - t), True)))
        return diagonal_matrix(entries)


@register
class NearestRounding(_GridRounding):
    r"""Deterministic rounding of ``|x_j|`` to the nearest grid point ``base^k`` in the
    arithmetic metric (ties up) — the "general biased rounding" of Beznosikov et al., JMLR
    2023, Table 1 [recalled].

    Classes [derived: :func:`derive_nearest_constants`]: ``B1(r_min^2, r_max)``,
    ``B2(r_min, r_max)``, ``B3((1+base)^2/(4 base))`` with ``r_min = 2/(1+base)``,
    ``r_max = 2 base/(1+base)`` (base 2: ``B1(4/9, 4/3)``, ``B2(2/3, 4/3)``, ``B3(9/8)``).
    Not unbiased. Wire: ``d (1 + w)`` bits (module docstring; 9 d for base 2).
    """

    name = "nearest_rounding"
    title = "Nearest (deterministic) rounding to the grid base^k"
    reference = f"{_TABLE_1}; constants derived by theorykit"
    randomized = False

    def classes(self) -> tuple[CompressorClass, ...]:
        c = derive_nearest_constants()
        return (B1(c["alpha"], c["beta"]), B2(c["gamma"], c["beta"]), B3(c["delta"]))
