"""Input checks, each written once: finite and positive numbers, counts, learning rates.

Every user-facing value that must be a number (a noise scale, a shape parameter, a learning
rate, a lambdify parameter), a positive integer (workers N, batch B, dimension d, replicas,
steps) or either a number or a SymPy symbol goes through one of these functions, which raise
:class:`~theorykit.errors.InputError` with a one-line message naming the value, so the CLI
prints it instead of a traceback. The messages are part of the interface: tests match them.
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from theorykit.errors import InputError

__all__ = [
    "count_expr",
    "finite_float",
    "learning_rate",
    "nonneg_float",
    "nonneg_int",
    "positive_float",
    "positive_int",
    "symbolic",
]


def _number(name: str, value: Any, expected: str) -> float:
    """``float(value)``, or ``InputError("{name} must be {expected}, got ...")``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {expected}, got {value!r}") from None


def finite_float(name: str, value: Any, *, expected: str = "a number") -> float:
    """``float(value)`` if it is finite; else an :class:`InputError` saying that ``name``
    must be ``expected`` (not convertible) or must be finite (inf, nan)."""
    v = _number(name, value, expected)
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    return v


def positive_float(name: str, value: Any, *, allow_zero: bool = False,
                   expected: str = "a number", one_message: bool = False) -> float:
    """A finite float ``> 0`` (``>= 0`` with ``allow_zero``), else an :class:`InputError`:
    ``{name} must be finite, got ...`` or ``{name} must be > 0, got ...``; with
    ``one_message`` both failures read ``{name} must be finite and > 0, got ...``."""
    v = _number(name, value, expected)
    op = ">=" if allow_zero else ">"
    out_of_range = v < 0 or (v == 0 and not allow_zero)
    if one_message and (out_of_range or not math.isfinite(v)):
        raise InputError(f"{name} must be finite and {op} 0, got {value!r}")
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {value!r}")
    if out_of_range:
        raise InputError(f"{name} must be {op} 0, got {v:g}")
    return v


def nonneg_float(name: str, value: Any) -> float:
    """A finite float ``>= 0`` (a constant that may vanish: L0, L1, omega, a noise level);
    else ``{name} must be finite and >= 0, got ...``."""
    return positive_float(name, value, allow_zero=True, one_message=True)


def learning_rate(value: Any, *, expected: str = "a number") -> float:
    """The learning rate η as a float: finite and > 0."""
    return positive_float("learning rate eta", value, expected=expected, one_message=True)


def _integer(name: str, value: Any, minimum: int, expected: str) -> int:
    """``int(value)`` for an int or integral float ``>= minimum``, booleans refused; else
    ``InputError("{name} must be {expected}, got ...")``."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be {expected}, got {value!r}")
    v = _number(name, value, expected)
    if not math.isfinite(v) or v < minimum or v != int(v):
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return int(v)


def positive_int(name: str, value: Any) -> int:
    """A count (workers, batch size, dimension, steps, ...): an integer >= 1, given as an int
    or an integral float; booleans are refused."""
    return _integer(name, value, 1, "a positive integer")


def nonneg_int(name: str, value: Any) -> int:
    """A size that may be zero (a budget, a number of noise draws): an integer >= 0, given as
    an int or an integral float; booleans are refused."""
    return _integer(name, value, 0, "an integer >= 0")


def symbolic(value: Any, **assumptions: bool) -> sp.Expr | None:
    """``value`` as a SymPy expression if it is symbolic -- a string becomes
    ``sp.Symbol(value, **assumptions)``, a non-numeric SymPy expression is kept -- else
    ``None`` (the caller then checks it as a number)."""
    if isinstance(value, str):
        try:  # a number written as text ("0.5", "4") is a number, not a symbol named "4"
            float(value)
        except ValueError:
            if not value.isidentifier():
                raise InputError(f"{value!r} is neither a number nor a symbol name") from None
            return sp.Symbol(value, **assumptions)
        return None
    if isinstance(value, sp.Basic) and not value.is_number:
        return value
    return None


def count_expr(name: str, value: Any) -> sp.Expr:
    """A count as a SymPy expression: a string names a positive integer symbol, a symbolic
    expression is kept, a number must be a positive integer (:func:`positive_int`)."""
    sym = symbolic(value, integer=True, positive=True)
    if sym is not None:
        return sym
    return sp.Integer(positive_int(name, value))
