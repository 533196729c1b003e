r"""Truncated quantizers: truncated uniform (TUQSGD) and truncated non-uniform (TNQSGD)
stochastic quantization.

Both map each coordinate to ``T_tau(x_j) = clamp(x_j, -tau, tau)`` and round it without
bias between its two neighbouring levels of a grid from ``-tau`` to ``tau``; no norm and no
sign plane travel, only the level codes (``d ceil(log2(s + 1))`` bits per vector, packed by
:mod:`~theorykit.compressors.bitpack`). The codec is the block engine
(:mod:`~theorykit.compressors.catalog.block_engine`); the wire format, float32 arithmetic
and randomness are described in :mod:`~theorykit.compressors.catalog.quantizers`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.base import D, Param
from theorykit.compressors.bitpack import bits_for
from theorykit.compressors.catalog.block_engine import _MAX_LEVELS, INTERVALS, _BlockQuantizer
from theorykit.compressors.catalog.fixed_point import (
    _R_BITS,
    _R_ONE,
    _round_fixed,
    _round_general,
)
from theorykit.compressors.classes import CompressorClass
from theorykit.compressors.registry import register
from theorykit.errors import InputError

__all__ = ["LevelGrid", "TruncatedNonuniform", "TruncatedUniform"]

_JTAB_MAX_BUCKETS = 1 << 16
"""Largest bucket table for which :class:`TruncatedNonuniform` builds its fast-kernel tables
(``2 (nb + 1)`` entries each, so they stay in cache)."""

def _float32_representable(value: float) -> str | None:
    """Why ``value`` has no finite non-zero float32 value (``None`` if it has one)."""
    with np.errstate(over="ignore"):
        v32 = float(np.float32(value))
    if not math.isfinite(v32) or v32 == 0.0:
        return f"is outside the float32 range, got {value}"
    return None


def _level_grid_problem(levels: tuple[float, ...]) -> str | None:
    """Why ``levels`` is not a usable grid: 2 to ``_MAX_LEVELS + 1`` finite values, strictly
    increasing in float32 (``None`` if it is)."""
    lv = list(levels)
    if len(lv) < 2:
        return f"needs at least 2 values, got {len(lv)}"
    if len(lv) - 1 > _MAX_LEVELS:
        return f"has at most {_MAX_LEVELS + 1} values, got {len(lv)}"
    if not all(math.isfinite(v) for v in lv):
        return f"must be finite, got {lv}"
    if not np.all(np.diff(np.asarray(lv, dtype=np.float32)) > 0):
        return f"must be strictly increasing (in float32), got {lv}"
    return None


class LevelGrid(tuple):
    """A tuple of floats from a sequence or a comma-separated string (``"-1,-0.3,0,0.3,1"``).

    Used as the ``kind`` of the ``levels`` parameter so the CLI's string values work; order
    and range are checked by the spec (:class:`TruncatedNonuniform`)."""

    def __new__(cls, value: Any = ()) -> LevelGrid:
        if isinstance(value, str):
            items = [v for v in value.replace(";", ",").split(",") if v.strip()]
        elif isinstance(value, torch.Tensor | np.ndarray):
            items = list(value.reshape(-1).tolist())
        else:
            items = list(value)
        return super().__new__(cls, (float(v) for v in items))


class _Truncated(_BlockQuantizer):
    """Common part of the truncated quantizers: no sign plane, no norm, codes index the
    level table :attr:`levels_tensor` (``s + 1`` float32 levels from ``-tau`` to ``tau``)."""

    _signed = False

    def classes(self) -> tuple[CompressorClass, ...]:
        return ()

    def bits(self) -> sp.Expr:
        return D * sp.Integer(self._width())

    def _width(self) -> int:
        return bits_for(self._s + 1)

    @property
    def levels_tensor(self) -> torch.Tensor:
        """The ``s + 1`` reconstruction levels (float32, CPU), indexed by code."""
        return self._lv.clone()

    def _bounds(self) -> tuple[float, float]:
        raise NotImplementedError

    def truncate(self, x: torch.Tensor) -> torch.Tensor:
        """``T_tau(x)``: ``x`` clamped to the truncation interval the codec uses (float32
        values of ``-tau`` and ``tau``) — the mean of ``C(x)`` up to float32 rounding."""
        lo, hi = self._bounds()
        return torch.clamp(x, lo, hi)


@register
class TruncatedUniform(_Truncated):
    r"""Truncated uniform stochastic quantization (TUQSGD; Yan, Li, Xiao, Hou, Song,
    *Improved Quantization Strategies for Managing Heavy-tailed Gradients in Distributed
    Learning*, arXiv 2402.01798 [read: abstract; T_tau as quoted by a review page]; the
    quantizer model of the theory digest §2.0 [derived]).

    ``C(x)_j = Q(T_tau(x_j))``: ``T_tau(t) = clamp(t, -tau, tau)``, then unbiased stochastic
    rounding on the ``s + 1`` levels ``l_i = -tau + 2 tau i/s``; ``E C(x) = T_tau(x)`` and the
    conditional variance per coordinate is ``(t - l_i)(l_{i+1} - t) <= tau^2/s^2``.

    Classes: none [derived]. No class U/B1/B2/B3 holds for all ``x``: as ``x -> 0`` the
    rounding variance stays of order ``|x| Delta`` (or ``Delta^2`` when 0 is not a level)
    while ``||x||^2 -> 0``, so ``E||C(x)||^2/||x||^2`` and ``E||C(x)-x||^2/||x||^2`` are
    unbounded; as ``||x|| -> inf`` truncation makes ``<E C(x), x>/||x||^2 -> 0``. The
    certifier must not be handed constants that fail; :meth:`classes` is empty. (For
    ``||x||_inf <= tau`` the quantizer is unbiased with the *absolute* variance bound
    ``sum_j (t_j - l_i)(l_{i+1} - t_j) <= d max_i (l_{i+1} - l_i)^2 / 4``.)

    Wire: ``codes`` only — ``i`` in ``ceil(log2(s+1))`` bits per coordinate; ``tau`` and
    ``s`` are parameters known to both ends, so no float is sent:
    ``bits = d ceil(log2(s+1))``. Levels are computed in float32 as
    ``float32(2 tau/s) * i - float32(tau)`` (:attr:`levels_tensor` holds exactly those).
    """

    name = "truncated_uniform"
    title = "Truncated uniform stochastic quantization (T_tau + s uniform intervals)"
    reference = ("Yan et al., arXiv 2402.01798 (TUQSGD; read: abstract); quantizer model "
                 "derived in the theory digest §2.0")
    params = (
        Param("tau", float, "truncation threshold (levels span [-tau, tau])",
              minimum=0.0, minimum_inclusive=False, check=_float32_representable),
        INTERVALS,
    )
    randomized = True

    def _validate(self) -> None:
        self.require("tau", "s")
        self._s = int(self["s"])
        tau = float(self["tau"])
        self._tau32 = float(np.float32(tau))
        self._delta32 = float(np.float32(2.0 * tau / self._s))
        self._inv32 = float(np.float32(self._s / (2.0 * tau)))
        self._fixed = self._s <= 127
        self._lv = self._levels_from_codes(torch.arange(self._s + 1, dtype=torch.float32))

    def _bounds(self) -> tuple[float, float]:
        return -self._tau32, self._tau32

    def _levels_from_codes(self, c: torch.Tensor) -> torch.Tensor:
        out = c.to(torch.float32)
        out.mul_(self._delta32)
        out.sub_(self._tau32)
        return out

    def _encode_block(self, xb, aux, rnd, codes, signs):
        # position (T_tau(x) + tau) s/(2 tau) in [0, s] (times 2^24 for the fixed-point path):
        # the affine map of x, then clamped — the same as truncating x first
        scale = self._inv32 * (_R_ONE if self._fixed else 1)
        y = torch.add(self._offset(xb.device, scale), xb, alpha=scale)
        y.clamp_(0.0, self._s * (_R_ONE if self._fixed else 1))
        if self._fixed:
            codes.copy_(_round_fixed(y, rnd, self._s))
        else:
            codes.copy_(_round_general(y, rnd, self._s))

    def _offset(self, device: torch.device, scale: float) -> torch.Tensor:
        return torch.tensor(self._tau32 * scale, dtype=torch.float32, device=device)

    def _decode_block(self, codes, signs, aux, out):
        out.copy_(codes)
        out.mul_(self._delta32)
        out.sub_(self._tau32)


@register
class TruncatedNonuniform(_Truncated):
    r"""Truncated non-uniform stochastic quantization (TNQSGD; Yan, Li, Xiao, Li, Song,
    *Truncated Non-Uniform Quantization for Distributed SGD*, arXiv 2402.01160 [read:
    abstract]; quantizer model of the theory digest §2.0 [derived]).

    ``C(x)_j = Q(T_tau(x_j))`` with an explicit sorted grid ``levels = (l_0 = -tau < l_1 <
    ... < l_s = tau)``: unbiased stochastic rounding between neighbouring levels, so
    ``E C(x) = T_tau(x)`` and the conditional variance is ``(t - l_i)(l_{i+1} - t)``.
    ``levels`` accepts a sequence or a comma-separated string (``"-1,-0.3,0,0.3,1"``);
    ``levels[0] = -tau`` and ``levels[-1] = tau`` are required (relative tolerance 1e-6);
    the grid's ends are then the truncation points.

    Classes: none [derived], for the reasons given in :class:`TruncatedUniform` (the
    argument holds for any grid with ends ``-tau``, ``tau``).

    Wire: ``codes`` only — the level index in ``ceil(log2(s+1))`` bits per coordinate (the
    grid is a parameter known to both ends): ``bits = d ceil(log2(s+1))``.

    Codec: the cell of ``t`` is found in O(1) by a uniform bucket table (bucket width at most
    a quarter of the smallest gap, at most 2^20 buckets) and one upward correction step,
    falling back to ``torch.searchsorted`` for extreme grids.
    """

    name = "truncated_nonuniform"
    title = "Truncated non-uniform stochastic quantization (explicit level grid)"
    reference = ("Yan et al., arXiv 2402.01160 (TNQSGD; read: abstract); quantizer model "
                 "derived in the theory digest §2.0")
    params = (
        Param("tau", float, "truncation threshold (levels[0] = -tau, levels[-1] = tau)",
              minimum=0.0, minimum_inclusive=False),
        Param("levels", LevelGrid, "sorted levels from -tau to tau (s + 1 values)",
              check=_level_grid_problem),
    )
    randomized = True

    def _validate(self) -> None:
        self.require("tau", "levels")
        lv = list(self["levels"])
        tau = float(self["tau"])
        lv32 = np.asarray(lv, dtype=np.float32)
        if not (math.isclose(lv[0], -tau, rel_tol=1e-6) and math.isclose(lv[-1], tau,
                                                                        rel_tol=1e-6)):
            raise InputError(f"{self.name}: levels must run from -tau to tau (tau={tau}), "
                             f"got {lv[0]} .. {lv[-1]}")
        self._s = len(lv) - 1
        self._lv = torch.from_numpy(lv32.copy())
        gaps = np.diff(lv32.astype(np.float64))
        # 2^24 / (l_{i+1} - l_i): the in-cell position comes out in 24-bit fixed point
        self._invw24 = torch.from_numpy((_R_ONE / gaps).astype(np.float32))
        self._next = torch.from_numpy(lv32[1:].copy())
        span = float(lv32[-1]) - float(lv32[0])
        nb = math.ceil(4.0 * span / float(gaps.min()))
        self._lut: torch.Tensor | None = None
        if nb <= (1 << 20):
            # lut[b] = cell of the start of bucket b-1: with buckets of width <= min gap / 4
            # and a computed bucket off by < 1, the cell of t is lut[b] or lut[b] + 1
            starts = float(lv32[0]) + span * (np.arange(nb + 1, dtype=np.float64) - 1) / nb
            cell = np.searchsorted(lv32[1:-1].astype(np.float64), starts, side="right")
            self._lut = torch.from_numpy(cell.astype(np.int64))
            self._nb = nb
            self._bscale = float(np.float32(nb / span))
        self._jtab: tuple[torch.Tensor, ...] | None = None
        if self._lut is not None and 1 < self._s <= 127 and self._nb < _JTAB_MAX_BUCKETS:
            self._jtab = self._bucket_tables()

    def _bucket_tables(self) -> tuple[torch.Tensor, ...]:
        """Tables of the fast encode kernel, indexed by ``j = 2 b + e`` (bucket ``b``, ``e = 1``
        iff ``t >= l_{lut[b] + 1}``): that threshold (at ``j = 2 b``), and per ``j`` the cell's
        level, ``2^24 / gap`` and ``cell << 24`` — the cell being ``min(lut[b] + e, s - 1)``,
        exactly the cell :meth:`_cells` returns (so the kernels agree bit for bit)."""
        assert self._lut is not None
        lut = self._lut
        thr2 = self._next[lut].repeat_interleave(2)        # at j = 2 b (and 2 b + 1)
        cell = torch.stack([lut, (lut + 1).clamp_(max=self._s - 1)], 1).reshape(-1)
        off = torch.tensor(-float(self._lv[0]) * self._bscale, dtype=torch.float32)
        return (thr2, self._lv[cell].contiguous(), self._invw24[cell].contiguous(),
                (cell.to(torch.int32) << _R_BITS).contiguous(), off)

    def _bounds(self) -> tuple[float, float]:
        return float(self._lv[0]), float(self._lv[-1])

    def _cells(self, y: torch.Tensor) -> torch.Tensor:
        """Cell index ``i`` in ``[0, s-1]`` with ``l_i <= y < l_{i+1}`` (``y = tau`` in the
        last cell) for ``y`` in ``[l_0, l_s]``; int64, flat."""
        flat = y.reshape(-1)
        dev = flat.device
        if self._lut is None or self._s == 1:
            inner = self._lv[1:-1].to(dev).contiguous()
            return torch.searchsorted(inner, flat, right=True)
        b = flat - float(self._lv[0])
        b.mul_(self._bscale)
        bi = b.to(torch.int64)
        bi.clamp_(0, self._nb)
        idx = torch.index_select(self._lut.to(dev), 0, bi)
        idx.add_(torch.ge(flat, torch.index_select(self._next.to(dev), 0, idx), out=bi))
        idx.clamp_(max=self._s - 1)
        return idx

    def _encode_block(self, xb, aux, rnd, codes, signs):
        if self._jtab is not None and xb.device.type == "cpu":
            self._encode_block_fast(xb, rnd, codes)
            return
        self._encode_block_general(xb, rnd, codes)

    def _encode_block_fast(self, xb, rnd, codes):
        """:meth:`_encode_block_general` with fewer passes (for ``s <= 127`` and a bucket
        table): the cell's level, ``2^24/gap`` and code come from tables indexed by ``j = 2 b
        + e`` (one gather each, no int64 cell arithmetic), and the Bernoulli draw and the
        code are added in one int32 fixed-point sum ``(floor(p 2^24) + R + cell 2^24) >>
        24``. Same float32 operations on the same operands, hence the same codes."""
        thr2, base, inv, csh, off = self._jtab
        lo_end, hi_end = self._bounds()
        y = torch.clamp(xb, lo_end, hi_end).view(-1)
        # bucket b = trunc((y - l_0) nb / span), as y nb/span - l_0 nb/span: off from the
        # general kernel's b by < 2^-7 bucket (|l_0| nb/span = nb/2 <= 2^15), which the
        # table tolerates; in [0, nb] since y is clamped. j = 2 b from here on.
        b = torch.add(off, y, alpha=self._bscale)
        b.trunc_()
        b.mul_(2.0)
        j = b.to(torch.int64)
        e = torch.ge(y, torch.index_select(thr2, 0, j), out=torch.empty_like(j))
        j.add_(e)
        y.sub_(torch.index_select(base, 0, j))
        y.mul_(torch.index_select(inv, 0, j))      # p 2^24, p in [0, 1]
        y.clamp_(max=float(_R_ONE))                # as _round_fixed's clamp to 1
        z = y.to(torch.int32)
        z.add_(rnd.reshape(-1))
        z.add_(torch.index_select(csh, 0, j))
        z.bitwise_right_shift_(_R_BITS)            # cell + Bernoulli(p)
        codes.copy_(z.view(codes.shape))

    def _encode_block_general(self, xb, rnd, codes):
        lo_end, hi_end = self._bounds()
        y = torch.clamp(xb, lo_end, hi_end)
        idx = self._cells(y)
        dev = y.device
        yf = y.view(-1)
        yf.sub_(torch.index_select(self._lv.to(dev), 0, idx))
        yf.mul_(torch.index_select(self._invw24.to(dev), 0, idx))   # p 2^24, p in [0, 1]
        idx.add_(_round_fixed(yf, rnd.reshape(-1), 1))              # + Bernoulli(p)
        codes.copy_(idx.view(codes.shape))

    def _decode_block(self, codes, signs, aux, out):
        torch.index_select(self._lv.to(out.device), 0, codes.reshape(-1).to(torch.int64),
                           out=out.view(-1))
