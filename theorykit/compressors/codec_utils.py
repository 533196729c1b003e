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

Wire conventions (all packed MSB first by :mod:`theorykit.compressors.bitpack`, whose
packers ``pack_codes``, ``unpack_codes``, ``lookup_codes`` and ``pack_negative`` are
re-exported here for the codecs that import them from this module):

* masks / sign planes: 1 bit per entry (:func:`mask_field`);
* unsigned codes of ``width`` bits: exactly ``width`` bits each, contiguous
  (:func:`code_field`; :func:`bitpack.pack_codes`, the layout of :func:`bitpack.pack_uint`);
* indices in ``[0, d)``: ``bits_for(d)`` bits each (:func:`index_field`);
* real values and norms: float32, 32 bits each (:func:`float_field`).

Provenance: engineering conventions of theorykit (derived); no paper formula here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from theorykit.compressors.base import PackedField, all_finite
from theorykit.compressors.bitpack import (
    bits_for,
    lookup_codes,
    pack_bits,
    pack_codes,
    pack_negative,
    unpack_bits,
    unpack_codes,
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
    "message_seed",
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


def rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` of shape ``(..., d)`` as a ``(B, d)`` tensor (a view when ``x`` is contiguous)."""
    return x.reshape(-1, x.shape[-1])


def _check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is not None and generator.device.type != torch.device(device).type:
        raise InputError(
            f"generator is on {generator.device.type} but the input is on "
            f"{torch.device(device).type}"
        )


def _draw_seed(generator: torch.Generator | None) -> int:
    """One 62-bit draw from the torch generator (or torch's global generator)."""
    return int(torch.randint(0, 1 << 62, (), generator=generator, dtype=torch.int64))


def message_seed(generator: torch.Generator | None, device: torch.device) -> int | None:
    """The whole randomness budget of a block-engine message on CPU: one 62-bit draw from
    the torch generator (:func:`_draw_seed`); ``None`` off CPU (the device generator is
    used directly). Raises :class:`InputError` when the generator lives on another device
    type than the data."""
    _check_generator(generator, device)
    if torch.device(device).type != "cpu":
        return None
    return _draw_seed(generator)


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A NumPy PCG64 stream seeded by one 62-bit draw from the torch generator."""
    return np.random.default_rng(_draw_seed(generator))


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
def mask_field(mask: torch.Tensor) -> PackedField:
    """A boolean tensor packed to 1 bit per entry (row-major)."""
    return PackedField(pack_bits(mask), mask.numel())


def read_mask(field: PackedField, count: int | None = None) -> torch.Tensor:
    """The flat boolean tensor of a :func:`mask_field` (``count`` defaults to its nbits)."""
    return unpack_bits(field.data, field.nbits if count is None else count)


# --------------------------------------------------------------------------- codes
def code_field(codes: torch.Tensor, width: int) -> PackedField:
    """Integer codes packed to ``width`` bits each (:func:`pack_codes`)."""
    return PackedField(pack_codes(codes, width), width * codes.numel())


def read_codes(field: PackedField, width: int) -> torch.Tensor:
    """The codes of a :func:`code_field` (count = nbits / width)."""
    count = field.nbits // width if width else 0
    return unpack_codes(field.data, width, count)


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

