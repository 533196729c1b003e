"""Bit packing: the wire format of compressed messages (the one place bits are packed).

Payloads are really packed: booleans to 1 bit each, unsigned integer codes to exactly
``width`` bits each (MSB first, contiguous), floats as float32. Every codec of the catalog
packs through this module:

* :func:`pack_bits` / :func:`unpack_bits`: booleans, 1 bit each, row-major, MSB first;
* :func:`pack_uint` / :func:`unpack_uint`: the reference packer of ``width``-bit codes
  (any device, any width up to 62);
* :func:`pack_codes` / :func:`unpack_codes`: the same layout byte for byte, vectorised on
  bytes (NumPy on CPU: ``packbits`` for width 1, strided fields for 2 and 4, SWAR for 3, 5,
  6, 7, ``unpackbits``/``packbits`` up to 32; torch shifts elsewhere);
* :func:`lookup_codes`: ``levels[code]`` straight from packed bytes;
* sign planes: :func:`pack_negative` (``x < 0``), :func:`pack_sign_plane` /
  :func:`unpack_sign_plane` (uint8 0/255 planes of the block engine).

On CPU the work is done by NumPy's single-threaded C kernels (no torch intra-op thread
hand-offs); on other devices by torch ops.

Provenance: engineering conventions of theorykit (derived); no paper formula here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "bits_for",
    "lookup_codes",
    "pack_bits",
    "pack_codes",
    "pack_negative",
    "pack_sign_plane",
    "pack_uint",
    "unpack_bits",
    "unpack_codes",
    "unpack_sign_plane",
    "unpack_uint",
]

_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def bits_for(n_values: int) -> int:
    """Bits needed to code ``n_values`` distinct values: ceil(log2 n), at least 0."""
    if n_values < 1:
        raise ValueError("n_values must be >= 1")
    return max(0, math.ceil(math.log2(n_values))) if n_values > 1 else 0


def _shifts(width: int) -> list[int]:
    """Right shifts of the ``8 / width`` codes of one byte, first code in the high bits."""
    return [8 - width * (i + 1) for i in range(8 // width)]


# =========================================================================== booleans
def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """Pack a boolean tensor (flattened) into a uint8 tensor of ceil(n/8) bytes."""
    flat = bits.reshape(-1)
    if flat.device.type == "cpu":
        return torch.from_numpy(np.packbits(flat.numpy().astype(np.bool_, copy=False)))
    n = flat.numel()
    pad = (-n) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8, device=flat.device)
    return (flat.view(-1, 8).to(torch.uint8) * weights).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: the first ``count`` bits as a bool tensor."""
    if packed.device.type == "cpu":
        return torch.from_numpy(np.unpackbits(packed.numpy(), count=count).astype(np.bool_))
    shifts = torch.arange(7, -1, -1, device=packed.device, dtype=torch.uint8)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(-1)[:count].bool()


def pack_negative(x: torch.Tensor) -> torch.Tensor:
    """``pack_bits(x < 0)`` (1 bit per entry, row-major, MSB first; ``-0.0`` and NaN give
    0). On CPU for float16/32/64 a single-threaded NumPy ``less`` + ``packbits`` (no torch
    intra-op thread hand-offs); otherwise torch."""
    if x.device.type == "cpu" and x.dtype in _NUMPY_FLOATS:
        a = x.detach().reshape(-1).numpy()
        return torch.from_numpy(np.packbits(np.less(a, 0)))
    return pack_bits(x < 0)


def pack_sign_plane(signs: torch.Tensor) -> torch.Tensor:
    """A sign plane (uint8, 255 = negative, 0 otherwise) to 1 bit per entry (the layout of
    :func:`pack_bits`)."""
    if signs.device.type == "cpu":
        return torch.from_numpy(np.packbits(signs.reshape(-1).numpy()))
    return pack_bits(signs.reshape(-1) != 0)


def unpack_sign_plane(packed: torch.Tensor, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_sign_plane`: ``count`` entries, uint8 0/255."""
    if packed.device.type == "cpu":
        a = np.unpackbits(packed.numpy(), count=count).view(np.int8)
        np.negative(a, out=a)
        return torch.from_numpy(a.view(np.uint8))
    return unpack_bits(packed, count).to(torch.int8).neg_().view(torch.uint8)


# =========================================================================== reference
def pack_uint(values: torch.Tensor, width: int) -> torch.Tensor:
    """Pack non-negative integers < 2**width into exactly ``width`` bits each."""
    flat = values.reshape(-1).to(torch.int64)
    if width == 0:
        return torch.zeros(0, dtype=torch.uint8, device=flat.device)
    if width > 62:
        raise ValueError("width must be <= 62")
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= (1 << width)):
        raise ValueError(f"values do not fit in {width} bits")
    if width == 8:
        return flat.to(torch.uint8)
    shifts = torch.arange(width - 1, -1, -1, device=flat.device, dtype=torch.int64)
    bits = ((flat.unsqueeze(-1) >> shifts) & 1).to(torch.bool)
    return pack_bits(bits)


def unpack_uint(packed: torch.Tensor, width: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_uint`: ``count`` integers (int64)."""
    if width == 0:
        return torch.zeros(count, dtype=torch.int64, device=packed.device)
    if width == 8:
        return packed[:count].to(torch.int64)
    bits = unpack_bits(packed, count * width).view(count, width).to(torch.int64)
    shifts = torch.arange(width - 1, -1, -1, device=packed.device, dtype=torch.int64)
    return (bits << shifts).sum(dim=1)


# =========================================================================== NumPy kernels
def _swar_masks(w: int) -> tuple[np.uint64, ...]:
    """Masks for merging eight ``w``-bit fields held one per byte of a big-endian uint64."""

    def rep(pattern: int, lane: int) -> np.uint64:
        m = 0
        for k in range(64 // lane):
            m |= pattern << (lane * k)
        return np.uint64(m)

    return (
        rep(((1 << w) - 1) << w, 16), rep((1 << w) - 1, 16),
        rep(((1 << 2 * w) - 1) << 2 * w, 32), rep((1 << 2 * w) - 1, 32),
        rep(((1 << 4 * w) - 1) << 4 * w, 64), rep((1 << 4 * w) - 1, 64),
    )


def _pack_swar(codes: np.ndarray, w: int) -> np.ndarray:
    """Pack uint8 codes ``< 2**w`` (``2 <= w <= 7``) MSB first, ``w`` bits each.

    Eight codes (one per byte of a big-endian 64-bit word) are merged into ``8 w`` bits by
    three SIMD-within-a-register steps (pairs, quads, octets); the low ``w`` bytes of the
    word are the packed bytes. The layout equals :func:`pack_uint`'s."""
    n = codes.size
    pad = (-n) % 8
    if pad:
        codes = np.concatenate([codes, np.zeros(pad, np.uint8)])
    v = codes.view(">u8").astype(np.uint64)
    hi_a, lo_a, hi_b, lo_b, hi_c, lo_c = _swar_masks(w)
    v = ((v >> np.uint64(8 - w)) & hi_a) | (v & lo_a)
    v = ((v >> np.uint64(16 - 2 * w)) & hi_b) | (v & lo_b)
    v = ((v >> np.uint64(32 - 4 * w)) & hi_c) | (v & lo_c)
    out = v.byteswap().view(np.uint8).reshape(-1, 8)[:, 8 - w:]
    return np.ascontiguousarray(out).reshape(-1)[: (n * w + 7) // 8]


def _unpack_swar(packed: np.ndarray, w: int, n: int) -> np.ndarray:
    """Inverse of :func:`_pack_swar`: ``n`` uint8 codes."""
    groups = (n + 7) // 8
    src = np.zeros(groups * w + 8, np.uint8)
    m = min(packed.size, groups * w)
    src[8 - w: 8 - w + m] = packed[:m]
    # word g = src[g w : g w + 8]; its low w bytes are packed[g w : g w + w]
    win = np.lib.stride_tricks.as_strided(src, shape=(groups, 8), strides=(w, 1))
    v = np.ascontiguousarray(win).view(">u8").reshape(-1).astype(np.uint64)
    v &= np.uint64((1 << (8 * w)) - 1)
    hi_a, lo_a, hi_b, lo_b, hi_c, lo_c = _swar_masks(w)
    v = ((v & hi_c) << np.uint64(32 - 4 * w)) | (v & lo_c)
    v = ((v & hi_b) << np.uint64(16 - 2 * w)) | (v & lo_b)
    v = ((v & hi_a) << np.uint64(8 - w)) | (v & lo_a)
    return v.byteswap().view(np.uint8)[:n]


def _pack_fields(codes: np.ndarray, w: int) -> np.ndarray:
    """Pack uint8 codes for ``w`` in {2, 4}: ``8/w`` codes per byte, first code in the high
    bits (strided shifts and ORs)."""
    per = 8 // w
    n = codes.size
    pad = (-n) % per
    if pad:
        codes = np.concatenate([codes, np.zeros(pad, np.uint8)])
    out = codes[0::per] << np.uint8(8 - w)
    for i in range(1, per):
        out |= codes[i::per] << np.uint8(8 - w * (i + 1))
    return out


def _unpack_fields(packed: np.ndarray, w: int, n: int) -> np.ndarray:
    """Inverse of :func:`_pack_fields`."""
    per = 8 // w
    nbytes = (n + per - 1) // per
    p = packed[:nbytes]
    out = np.empty(nbytes * per, np.uint8)
    mask = np.uint8((1 << w) - 1)
    for i in range(per):
        np.bitwise_and(p >> np.uint8(8 - w * (i + 1)), mask, out=out[i::per])
    return out[:n]


def _pack_small_numpy(a: np.ndarray, w: int) -> np.ndarray:
    """uint8 codes, ``1 <= w <= 7``, packed by the fastest NumPy kernel for ``w``."""
    if w == 1:
        return np.packbits(a)
    if w in (2, 4):
        return _pack_fields(a, w)
    return _pack_swar(a, w)


def _unpack_small_numpy(a: np.ndarray, w: int, n: int) -> np.ndarray:
    """Inverse of :func:`_pack_small_numpy`: ``n`` uint8 codes."""
    if w == 1:
        return np.unpackbits(a, count=n)
    if w in (2, 4):
        return _unpack_fields(a, w, n)
    return _unpack_swar(a, w, n)


# =========================================================================== codes
def _check_codes(codes: torch.Tensor, width: int) -> None:
    if not codes.numel():
        return
    if codes.dtype == torch.uint8:
        if width < 8 and int(codes.max()) >= (1 << width):
            raise ValueError(f"codes do not fit in {width} bits")
        return
    if int(codes.min()) < 0 or int(codes.max()) >= (1 << width):
        raise ValueError(f"codes do not fit in {width} bits")


def pack_codes(codes: torch.Tensor, width: int) -> torch.Tensor:
    """Pack non-negative integer codes ``< 2**width`` into exactly ``width`` bits each.

    Byte-for-byte the layout of :func:`pack_uint` (MSB first, contiguous), but vectorised
    on bytes: on CPU widths 1 to 7 go through the NumPy kernels (``packbits``, strided
    fields, SWAR) and 9 to 32 through NumPy's ``unpackbits``/``packbits``; off CPU widths
    1, 2, 4 combine codes with torch shifts; width 8 is a copy-free view of uint8 codes
    (the result may share memory with a contiguous uint8 ``codes``); the rest falls back to
    :func:`pack_uint`.
    """
    flat = codes.reshape(-1)
    if width == 0:
        return torch.zeros(0, dtype=torch.uint8, device=flat.device)
    _check_codes(flat, width)
    if width <= 8:
        c = flat if flat.dtype == torch.uint8 else flat.to(torch.uint8)
        if width == 8:
            return c.contiguous()
        if c.device.type == "cpu":
            return torch.from_numpy(_pack_small_numpy(c.contiguous().numpy(), width))
        if width == 1:
            return pack_bits(c.bool())
        if width in (2, 4):
            per = 8 // width
            pad = (-c.numel()) % per
            if pad:
                c = torch.cat([c, c.new_zeros(pad)])
            c = c.view(-1, per)
            out = c[:, 0] << (8 - width)
            for i, sh in enumerate(_shifts(width)[1:], start=1):
                out |= c[:, i] << sh
            return out
    elif flat.device.type == "cpu" and width <= 32:
        n = flat.numel()
        a = flat.numpy().astype(">u4")
        bits = np.unpackbits(a.view(np.uint8).reshape(n, 4), axis=1)[:, 32 - width:]
        return torch.from_numpy(np.packbits(bits.reshape(-1)))
    return pack_uint(flat, width)


def unpack_codes(packed: torch.Tensor, width: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: ``count`` codes (uint8 for width <= 8, else int64).
    For width 8 the result is a view of ``packed``."""
    if width == 0:
        return torch.zeros(count, dtype=torch.uint8, device=packed.device)
    if width == 8:
        return packed[:count]
    if packed.device.type == "cpu":
        if width < 8:
            return torch.from_numpy(_unpack_small_numpy(packed.numpy(), width, count))
        if width <= 32:
            bits = np.unpackbits(packed.numpy(), count=count * width).reshape(count, width)
            full = np.zeros((count, 32), dtype=np.uint8)
            full[:, 32 - width:] = bits
            words = np.packbits(full, axis=1).reshape(-1).view(">u4").astype(np.int64)
            return torch.from_numpy(words)
    elif width in (1, 2, 4):
        shifts = torch.tensor(_shifts(width), dtype=torch.uint8, device=packed.device)
        return ((packed.unsqueeze(-1) >> shifts) & ((1 << width) - 1)).reshape(-1)[:count]
    out = unpack_uint(packed, width, count)
    return out.to(torch.uint8) if width < 8 else out


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
        byte = np.arange(256, dtype=np.int64)[:, None]
        shifts = np.array(_shifts(width), dtype=np.int64)
        table = levels.detach().numpy()[(byte >> shifts) & (nlev - 1)]  # (256, per)
        out = np.take(table, packed.reshape(-1).numpy(), axis=0).reshape(-1)
        return torch.from_numpy(out[:count])
    if width in (1, 2, 4):
        byte = torch.arange(256, device=packed.device, dtype=torch.int64).unsqueeze(-1)
        shifts = torch.tensor(_shifts(width), device=packed.device)
        table = levels[(byte >> shifts) & (nlev - 1)]  # (256, per)
        out = table.index_select(0, packed.to(torch.int32)).reshape(-1)
        return out[:count]
    codes = unpack_codes(packed, width, count)
    return levels[codes.to(torch.int64)]
