"""Input checks shared by the rules modules."""

from __future__ import annotations

import math
from typing import Any

from theorykit.errors import InputError

__all__ = ["finite_float"]


def finite_float(value: Any, what: str) -> float:
    """``float(value)``, or an :class:`~theorykit.errors.InputError` saying that ``what``
    must be a number (not convertible) or must be finite (inf, nan)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise InputError(f"{what} must be finite, got {value!r}")
    return f
