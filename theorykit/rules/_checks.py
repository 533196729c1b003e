"""Input checks of the rules modules: :func:`theorykit.validate.finite_float` with the
argument order the rules call it with (value first)."""

from __future__ import annotations

from typing import Any

from theorykit.validate import finite_float as _finite_float

__all__ = ["finite_float"]


def finite_float(value: Any, what: str) -> float:
    """``float(value)``, or an :class:`~theorykit.errors.InputError` saying that ``what``
    must be a number (not convertible) or must be finite (inf, nan)."""
    return _finite_float(what, value)
