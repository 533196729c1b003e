"""Stochastic rounding in 24-bit fixed point: the arithmetic kernels of the block engine.

Every randomized block codec (:mod:`theorykit.compressors.catalog.block_engine`) draws one
uniform integer ``R`` in ``[0, 2^24)`` per coordinate (:class:`_RandomBits`) and rounds in
int32 fixed point (:func:`_round_fixed`, :func:`_round_general`): no float comparisons, no
full-size boolean temporaries. Sign planes are uint8 with 255 for negative (int8 ``-1``).

Provenance: unbiased stochastic rounding (Alistarh et al., QSGD, NeurIPS 2017, Sec. 3.1
[recalled]); the fixed-point realisation is theorykit's [derived].
"""

from __future__ import annotations

import numpy as np
import torch

_R_BITS = 24
_R_ONE = 1 << _R_BITS
"""Randomness per coordinate: one uniform integer ``R`` in ``[0, 2^24)``. Stochastic rounding
with probability ``p`` is done in fixed point: ``(floor(p 2^24) + R) >> 24`` is 1 with
probability ``floor(p 2^24)/2^24`` (within ``2^-24`` below ``p``; exact for dyadic ``p``)."""


class _RandomBits:
    """I.i.d. uniform int32 integers in ``[0, 2^24)`` for one segment, drawn block by block in
    row-major order.

    On CPU the segment's stream is a NumPy PCG64 seeded by ``SeedSequence(seed, spawn_key=
    (segment,))``, where ``seed`` is one 62-bit draw from the torch generator per message
    (the seeding convention of :func:`theorykit.compressors.codec_utils.uniform`); its raw
    64-bit outputs give two 32-bit words each, masked to 24 bits (about 0.6 ns per
    coordinate). Elsewhere ``torch.randint`` on the device."""

    def __init__(self, seed: int | None, segment: int, generator: torch.Generator | None,
                 device: torch.device) -> None:
        self.device = device
        self.generator = generator
        self._bg: np.random.PCG64 | None = None
        if device.type == "cpu":
            self._bg = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(segment,)))

    def __call__(self, rows: int, cols: int) -> torch.Tensor:
        m = rows * cols
        if self._bg is not None:
            raw = self._bg.random_raw((m + 1) // 2).view(np.int32)[:m]
            return torch.from_numpy(raw).bitwise_and_(_R_ONE - 1).view(rows, cols)
        return torch.randint(0, _R_ONE, (rows, cols), generator=self.generator,
                             device=self.device, dtype=torch.int32)


def _sign_plane(xb: torch.Tensor, out: torch.Tensor) -> None:
    """``out`` (uint8) = 255 where the sign bit of float32 ``xb`` is set, else 0."""
    torch.bitwise_right_shift(xb.view(torch.int32), 31, out=out)


def _signed_codes(codes: torch.Tensor, signs: torch.Tensor, small: bool) -> torch.Tensor:
    """``codes`` with the sign plane applied, as int8 (``small``: codes <= 127) or int32:
    ``(c xor m) - m`` with ``m = 0`` or ``-1``."""
    m = signs.view(torch.int8)
    if small:
        v = codes.view(torch.int8) ^ m
    else:
        m = m.to(torch.int32)
        v = codes.to(torch.int32) ^ m
    v.sub_(m)
    return v


def _round_fixed(y: torch.Tensor, rnd: torch.Tensor, top: int) -> torch.Tensor:
    """Stochastic rounding of ``y / 2^24 >= 0`` (``y`` float32 already scaled by ``2^24``,
    ``y < 2^31``): ``floor(y/2^24)`` plus 1 with probability ``frac`` (fixed point with the
    24-bit integers ``rnd``), clamped to ``top``; int32."""
    z = y.to(torch.int32)
    z.add_(rnd)
    z.bitwise_right_shift_(_R_BITS)
    z.clamp_(max=top)
    return z


def _round_general(y: torch.Tensor, rnd: torch.Tensor, top: int) -> torch.Tensor:
    """As :func:`_round_fixed` for unscaled ``y >= 0`` of any size below ``2^31``: the
    integer part and the fraction are separated first (exact), then the fraction is rounded
    in fixed point."""
    lo = y.to(torch.int32)
    f = y - lo
    f.mul_(float(_R_ONE))
    z = f.to(torch.int32)
    z.clamp_(max=_R_ONE)
    z.add_(rnd)
    z.bitwise_right_shift_(_R_BITS)
    z.add_(lo)
    z.clamp_(max=top)
    return z

