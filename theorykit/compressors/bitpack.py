"""Bit packing: the wire format of compressed messages.

Payloads are really packed: booleans to 1 bit each, unsigned integer codes to exactly
``width`` bits each (MSB first), floats as float32. On CPU the work is done by NumPy's C
``packbits``/``unpackbits``; on other devices by torch ops.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_POW2 = None


def bits_for(n_values: int) -> int:
    """Bits needed to code ``n_values`` distinct values: ceil(log2 n), at least 0."""
    if n_values < 1:
        raise ValueError("n_values must be >= 1")
    return max(0, math.ceil(math.log2(n_values))) if n_values > 1 else 0


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
