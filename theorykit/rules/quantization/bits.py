"""Bits per coordinate and the number of levels they code (digest §2.0)."""

from __future__ import annotations

import math
from typing import Any

from theorykit.errors import InputError


def bits_per_coordinate(s: int) -> int:
    """⌈log₂(s+1)⌉ bits code the s+1 levels of one coordinate (digest §2.0)."""
    s = _check_s(s)
    return max(1, math.ceil(math.log2(s + 1)))


def levels_for_bits(b: int) -> int:
    """The number of intervals ``s = 2^b - 1`` that ``b`` bits per coordinate can code."""
    try:
        bi = int(b)
    except (TypeError, ValueError):
        raise InputError(f"bits must be an integer, got {b!r}") from None
    if bi != b or bi < 1:
        raise InputError(f"bits must be an integer >= 1, got {b!r}")
    if bi > 24:
        raise InputError(f"bits must be <= 24 (s = 2^b - 1 levels per coordinate), got {bi}")
    return 2**bi - 1


def _check_s(s: Any) -> int:
    try:
        si = int(s)
    except (TypeError, ValueError):
        raise InputError(f"s (number of quantization intervals) must be an integer, "
                         f"got {s!r}") from None
    if si != s or si < 1:
        raise InputError(f"s (number of quantization intervals) must be an integer >= 1, "
                         f"got {s!r}")
    return si
