"""Shared torch helpers for catalog codecs: rows, randomness, and packed fields.

Every catalog codec in :mod:`theorykit.compressors.catalog` follows one pattern (so that
``decode(encode(x, g1)) == apply(x, g2)`` bit for bit when ``g1`` and ``g2`` are in the same
state):

1. ``x2 = rows(spec._prepare(x))`` flattens the leading dimensions to a ``(B, d)`` view;
2. a private *sampler* computes the message content (masks, codes, indices, float32
   values) from ``x2``, drawing its randomness only through :func:`uniform` (or one other
   documented ``torch`` draw);
3. ``encode`` packs that content into :class:`~theorykit.compressors.base.PackedField`\\ s
   with the helpers below; ``decode`` unpacks it;
4. a private *reconstruct* builds the tensor from the content; ``decode`` and ``apply``
   both call it, so the arithmetic is the same op on the same inputs.

Wire conventions (all packed MSB first, compatible with :mod:`theorykit.compressors.bitpack`):

* masks / sign planes: 1 bit per entry (:func:`mask_field`);
* unsigned codes of ``width`` bits: exactly ``width`` bits each, contiguous
  (:func:`code_field`; the same layout as :func:`bitpack.pack_uint`, but fast);
* indices in ``[0, d)``: ``bits_for(d)`` bits each (:func:`index_field`);
* real values and norms: float32, 32 bits each (:func:`float_field`).

Provenance: engineering conventions of theorykit (derived); no paper formula here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from theorykit.compressors.base import PackedField
from theorykit.compressors.bitpack import (
    bits_for,
    pack_bits,
    pack_uint,
    unpack_bits,
    unpack_uint,
)
from theorykit.errors import InputError

__all__ = [
    "all_finite",
    "code_field",
    "float_field",
    "index_field",
    "index_width",
    "lookup_codes",
    "mask_field",
    "pack_codes",
    "pack_negative",
    "random_bits",
    "read_codes",
    "read_floats",
    "read_indices",
    "read_mask",
    "require_float",
    "rows",
    "uniform",
    "unpack_codes",
]


# --------------------------------------------------------------------------- inputs
def require_float(name: str, x: torch.Tensor) -> None:
    """Raise :class:`InputError` unless ``x`` is a floating-point tensor."""
    if not x.is_floating_point():
        raise InputError(f"{name}: input must be a floating-point tensor, got {x.dtype}")


_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def all_finite(x: torch.Tensor) -> bool:
    """Whether the floating-point tensor ``x`` has no NaN/inf (non-float tensors: True).

    One min and one max reduction (NaN propagates, +-inf shows): on CPU for float16/32/64
    NumPy's single-threaded SIMD reductions (at d = 1e6 about 40x faster than
    ``torch.aminmax``, which hands work to torch's intra-op threads), otherwise
    ``torch.aminmax``."""
    if x.numel() == 0 or not x.is_floating_point():
        return True
    if x.device.type == "cpu" and x.dtype in _NUMPY_FLOATS:
        a = x.detach().reshape(-1).numpy()
        with np.errstate(invalid="ignore"):
            lo, hi = a.min(), a.max()
        return math.isfinite(float(lo)) and math.isfinite(float(hi))
    lo, hi = torch.aminmax(x.detach())
    return math.isfinite(float(lo)) and math.isfinite(float(hi))


def rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` of shape ``(..., d)`` as a ``(B, d)`` tensor (a view when ``x`` is contiguous)."""
    return x.reshape(-1, x.shape[-1])


def _check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is not None and generator.device.type != torch.device(device).type:
        raise InputError(
            f"generator is on {generator.device.type} but the input is on "
            f"{torch.device(device).type}"
        )


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A NumPy PCG64 stream seeded by one 62-bit draw from the torch generator."""
    seed = int(torch.randint(0, 1 << 62, (), generator=generator, dtype=torch.int64))
    return np.random.default_rng(seed)


def uniform(
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The canonical random draw of the catalog codecs: i.i.d. U[0, 1) of ``shape``.

    On CPU, one 62-bit integer is drawn from ``generator`` (or torch's global generator)
    and seeds a NumPy PCG64 stream that fills the tensor (about 2.5x faster than
    ``torch.rand`` at d = 1e7); elsewhere ``torch.rand`` on the device. Either way the
    torch generator is consumed the same for equal shapes, so encode and apply agree.
    float32 draws are multiples of ``2**-24`` (both backends), so ``u < p`` has probability
    ``ceil(p 2**24) / 2**24`` (exact for dyadic ``p``). Raises :class:`InputError` when the
    generator lives on another device type than the data.
    """
    _check_generator(generator, device)
    if torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64):
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        return torch.from_numpy(_numpy_rng(generator).random(shape, dtype=np_dtype))
    return torch.rand(shape, generator=generator, device=device, dtype=dtype)


def random_bits(
    shape: tuple[int, ...],
    nbits: int,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """I.i.d. uniform int32 integers in ``[0, 2**nbits)`` (``1 <= nbits <= 31``), drawn like
    :func:`uniform` (NumPy PCG64 seeded from ``generator`` on CPU, ``torch.randint``
    elsewhere). Used for exact stochastic rounding by carry (see ``catalog/natural.py``)."""
    if not 1 <= nbits <= 31:
        raise ValueError("nbits must be in [1, 31]")
    _check_generator(generator, device)
    if torch.device(device).type == "cpu":
        n = math.prod(shape)
        raw = _numpy_rng(generator).bit_generator.random_raw((n + 1) // 2)
        # each 64-bit PCG64 output gives two 32-bit words; keep the top nbits of each
        words = np.right_shift(raw.view(np.uint32)[:n], np.uint32(32 - nbits))
        return torch.from_numpy(words.view(np.int32).reshape(shape))
    return torch.randint(0, 1 << nbits, shape, generator=generator, device=device,
                         dtype=torch.int32)


# --------------------------------------------------------------------------- floats
def float_field(values: torch.Tensor) -> PackedField:
    """Values as float32 (no copy when already contiguous float32); 32 bits each."""
    v = values.reshape(-1)
    if v.dtype != torch.float32:
        v = v.to(torch.float32)
    return PackedField(v.contiguous(), 32 * v.numel())


def read_floats(field: PackedField) -> torch.Tensor:
    """The float32 values of a :func:`float_field` (flat)."""
    return field.data.reshape(-1)


# --------------------------------------------------------------------------- masks
def pack_negative(x: torch.Tensor) -> torch.Tensor:
    """``pack_bits(x < 0)`` (1 bit per entry, row-major, MSB first; ``-0.0`` and NaN give
    0). On CPU for float16/32/64 a single-threaded NumPy ``less`` + ``packbits`` (no torch
    intra-op thread hand-offs); otherwise torch."""
    if x.device.type == "cpu" and x.dtype in _NUMPY_FLOATS:
        a = x.detach().reshape(-1).numpy()
        return torch.from_numpy(np.packbits(np.less(a, 0)))
    return pack_bits(x < 0)


def mask_field(mask: torch.Tensor) -> PackedField:
    """A boolean tensor packed to 1 bit per entry (row-major)."""
    return PackedField(pack_bits(mask), mask.numel())


def read_mask(field: PackedField, count: int | None = None) -> torch.Tensor:
    """The flat boolean tensor of a :func:`mask_field` (``count`` defaults to its nbits)."""
    return unpack_bits(field.data, field.nbits if count is None else count)


# --------------------------------------------------------------------------- codes
_FAST_WIDTHS = (1, 2, 4, 8)


def _check_codes(codes: torch.Tensor, width: int) -> None:
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= (1 << width)):
        raise ValueError(f"codes do not fit in {width} bits")


def pack_codes(codes: torch.Tensor, width: int) -> torch.Tensor:
    """Pack non-negative integer codes ``< 2**width`` into exactly ``width`` bits each.

    Byte-for-byte the layout of :func:`bitpack.pack_uint` (MSB first, contiguous), but
    vectorised on bytes: widths 1, 2, 4, 8 combine codes with shifts (any device); other
    widths up to 32 go through NumPy's ``unpackbits``/``packbits`` on CPU; the rest falls
    back to :func:`bitpack.pack_uint`. For width 8 the result may share memory with a
    contiguous uint8 ``codes`` (no copy).
    """
    flat = codes.reshape(-1)
    if width == 0:
        return torch.zeros(0, dtype=torch.uint8, device=flat.device)
    _check_codes(flat, width)
    if width in _FAST_WIDTHS:
        c = flat if flat.dtype == torch.uint8 else flat.to(torch.uint8)
        if width == 8:
            return c.contiguous()
        if width == 1:
            return pack_bits(c.bool())
        per = 8 // width
        n = c.numel()
        pad = (-n) % per
        if pad:
            c = torch.cat([c, c.new_zeros(pad)])
        c = c.view(-1, per)
        out = c[:, 0] << (8 - width)
        for i in range(1, per):
            out |= c[:, i] << (8 - width * (i + 1))
        return out
    if flat.device.type == "cpu" and width <= 32:
        n = flat.numel()
        if width < 8:
            a = flat.to(torch.uint8).numpy()
            bits = np.unpackbits(a[:, None], axis=1)[:, 8 - width:]
        else:
            a = flat.numpy().astype(">u4")
            bits = np.unpackbits(a.view(np.uint8).reshape(n, 4), axis=1)[:, 32 - width:]
        return torch.from_numpy(np.packbits(bits.reshape(-1)))
    return pack_uint(flat, width)


def unpack_codes(packed: torch.Tensor, width: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: ``count`` codes (uint8 for width <= 8, else int64)."""
    if width == 0:
        return torch.zeros(count, dtype=torch.uint8, device=packed.device)
    if width in _FAST_WIDTHS:
        if width == 8:
            return packed[:count]
        per = 8 // width
        mask = (1 << width) - 1
        shifts = torch.tensor([8 - width * (i + 1) for i in range(per)], dtype=torch.uint8,
                              device=packed.device)
        return ((packed.unsqueeze(-1) >> shifts) & mask).reshape(-1)[:count]
    if packed.device.type == "cpu" and width <= 32:
        bits = np.unpackbits(packed.numpy(), count=count * width).reshape(count, width)
        if width < 8:
            full = np.zeros((count, 8), dtype=np.uint8)
            full[:, 8 - width:] = bits
            return torch.from_numpy(np.packbits(full, axis=1).reshape(-1))
        full = np.zeros((count, 32), dtype=np.uint8)
        full[:, 32 - width:] = bits
        words = np.packbits(full, axis=1).reshape(-1).view(">u4").astype(np.int64)
        return torch.from_numpy(words)
    return unpack_uint(packed, width, count)


def code_field(codes: torch.Tensor, width: int) -> PackedField:
    """Integer codes packed to ``width`` bits each (:func:`pack_codes`)."""
    return PackedField(pack_codes(codes, width), width * codes.numel())


def read_codes(field: PackedField, width: int) -> torch.Tensor:
    """The codes of a :func:`code_field` (count = nbits / width)."""
    count = field.nbits // width if width else 0
    return unpack_codes(field.data, width, count)


def lookup_codes(
    packed: torch.Tensor, width: int, count: int, levels: torch.Tensor
) -> torch.Tensor:
    """``levels[code]`` for each of ``count`` packed codes, without materialising codes.

    For widths 1, 2, 4 a 256-entry byte table maps each packed byte straight to its
    ``8 / width`` levels (one gather); ``levels`` has ``<= 2**width`` entries (missing ones
    decode as 0) and its dtype/device set the output's.
    """
    nlev = 1 << width
    if levels.numel() > nlev:
        raise ValueError(f"{levels.numel()} levels do not fit in {width} bits")
    if levels.numel() < nlev:
        levels = torch.cat([levels, levels.new_zeros(nlev - levels.numel())])
    if (width in (1, 2, 4) and packed.device.type == "cpu" and levels.device.type == "cpu"
            and levels.dtype in _NUMPY_FLOATS):
        # NumPy's take of whole 8/width-value rows (a few bytes each) is single-threaded and
        # ~10x faster than the torch gather below on CPU (no intra-op thread hand-off)
        per = 8 // width
        byte = np.arange(256, dtype=np.int64)[:, None]
        shifts = np.array([8 - width * (i + 1) for i in range(per)], dtype=np.int64)
        table = levels.detach().numpy()[(byte >> shifts) & (nlev - 1)]  # (256, per)
        out = np.take(table, packed.reshape(-1).numpy(), axis=0).reshape(-1)
        return torch.from_numpy(out[:count])
    if width in (1, 2, 4):
        per = 8 // width
        byte = torch.arange(256, device=packed.device, dtype=torch.int64).unsqueeze(-1)
        shifts = torch.tensor([8 - width * (i + 1) for i in range(per)], device=packed.device)
        table = levels[(byte >> shifts) & (nlev - 1)]  # (256, per)
        out = table.index_select(0, packed.to(torch.int32)).reshape(-1)
        return out[:count]
    codes = unpack_codes(packed, width, count)
    return levels[codes.to(torch.int64)]


# --------------------------------------------------------------------------- indices
def index_width(d: int) -> int:
    """Bits per coordinate index in ``[0, d)``: ``bits_for(d) = ceil(log2 d)`` (0 if d=1)."""
    return bits_for(d)


def index_field(indices: torch.Tensor, d: int) -> PackedField:
    """Indices in ``[0, d)`` packed to ``ceil(log2 d)`` bits each."""
    w = index_width(d)
    return PackedField(pack_codes(indices, w), w * indices.numel())


def read_indices(field: PackedField, d: int, count: int) -> torch.Tensor:
    """The ``count`` int64 indices of an :func:`index_field`."""
    return unpack_codes(field.data, index_width(d), count).to(torch.int64)

