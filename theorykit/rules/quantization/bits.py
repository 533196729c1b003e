"""Bits per coordinate and the number of levels they code (digest §2.0)."""

from __future__ import annotations

import math
from typing import Any

from theorykit.errors import InputError
from theorykit.validate import positive_int


def bits_per_coordinate(s: int) -> int:
    """⌈log₂(s+1)⌉ bits code the s+1 levels of one coordinate (digest §2.0)."""
    s = check_levels(s)
    return max(1, math.ceil(math.log2(s + 1)))


def levels_for_bits(b: int) -> int:
    """The number of intervals ``s = 2^b - 1`` that ``b`` bits per coordinate can code."""
    bi = positive_int("bits", b)
    if bi > 24:
        raise InputError(f"bits must be <= 24 (s = 2^b - 1 levels per coordinate), got {bi}")
    return 2**bi - 1


def check_levels(s: Any) -> int:
    """The number of quantization intervals s as an int (a positive integer)."""
    return positive_int("s (number of quantization intervals)", s)
