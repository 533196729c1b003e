"""Resource limits: one place for the bounds on sizes a user can ask for.

Every bound here turns a request that would run for minutes or exhaust the machine into a
one-line :class:`~theorykit.errors.InputError` *before* the work starts, naming the limit
and why it exists:

* :func:`check_count` -- a CLI count (samples, levels, bits, replicas, steps, ...) above its
  documented maximum;
* :func:`check_memory` -- an allocation estimated from its shape (replicas x workers x d,
  trajectories, Monte Carlo batches) above the memory budget;
* :func:`check_derive_dim` -- a symbolic SDE derivation whose cost (about d^2 symbolic
  entries when the diffusion is a dense d x d matrix) is above the derivation limit.

The memory budget is :func:`memory_budget`: the environment variable
``THEORYKIT_MAX_MEMORY`` (bytes, or a number with a K/M/G/T suffix) if set, else half of the
machine's physical memory.
"""

from __future__ import annotations

import os

from theorykit.errors import InputError

__all__ = [
    "MAX_BITS",
    "MAX_DERIVE_DIM",
    "MAX_DERIVE_DIM_DENSE",
    "MAX_LEVELS",
    "MAX_LEVELS_BISCALED",
    "MAX_REPLICAS",
    "MAX_SAMPLES",
    "MAX_STEPS",
    "MAX_WORKERS",
    "check_count",
    "check_derive_dim",
    "check_memory",
    "format_bytes",
    "memory_budget",
]

MAX_SAMPLES = 10_000_000
"""Most Monte Carlo draws per input (``theorykit compressor --verify --samples``)."""
MAX_LEVELS = 65_535
"""Most quantization intervals s (``theorykit quantize --levels``; 16 bits per coordinate)."""
MAX_LEVELS_BISCALED = 63
"""Most intervals s of the biscaled (TBQSGD) optimum, whose search over the inner/outer
split costs about s^2 numeric integrals (measured: s = 63 in ~17 s, s = 255 in ~85 s)."""
MAX_BITS = 16
"""Most bits per coordinate (``theorykit quantize --bits``; s = 2^B - 1 intervals)."""
MAX_REPLICAS = 10_000_000
"""Most independent replicas of a simulation."""
MAX_STEPS = 100_000_000
"""Most steps of a simulation."""
MAX_WORKERS = 10_000
"""Most workers N given as a number to a derivation."""
MAX_DERIVE_DIM_DENSE = 64
"""Largest d of a symbolic derivation whose diffusion is (or may be) a dense d x d matrix:
its cost grows as d^2 (measured on the randk DCSGD SDE: d = 10 in 3.2 s, 100 in 22 s,
300 in 193 s). The SDE's form is the same for every d, so derive at a small d and read the
pattern."""
MAX_DERIVE_DIM = 1000
"""Largest d of any symbolic derivation (a diagonal diffusion still builds a d x d SymPy
matrix and prints d entries)."""

_SUFFIX = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_budget() -> int:
    """Bytes one allocation may use: ``THEORYKIT_MAX_MEMORY`` or half the physical memory
    (8 GiB when the machine does not say)."""
    raw = os.environ.get("THEORYKIT_MAX_MEMORY", "").strip()
    if raw:
        from theorykit.validate import positive_float  # SymPy only when the variable is set

        text = raw.upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in _SUFFIX else ""
        value = positive_float("THEORYKIT_MAX_MEMORY",
                               text[: len(text) - len(unit)] if unit else text,
                               expected="a size such as 4G or 500M")
        return int(value * _SUFFIX[unit])
    phys = _physical_memory()
    return phys // 2 if phys else 8 * 2**30


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _sci(n: int) -> str:
    """An integer in 3-digit scientific notation, without overflowing a float."""
    digits = str(n)
    if len(digits) <= 4:
        return digits
    return f"{digits[0]}.{digits[1:3]}e{len(digits) - 1}"


def check_count(name: str, value: int, maximum: int, why: str = "") -> int:
    """``value`` if ``value <= maximum``; else an :class:`InputError` naming the limit."""
    if value > maximum:
        tail = f" ({why})" if why else ""
        raise InputError(f"{name} = {value} is above the limit {maximum}{tail}")
    return value


def check_memory(what: str, nbytes: float, *, budget: int | None = None) -> None:
    """Refuse an allocation of about ``nbytes`` above the memory budget, before it happens.

    ``what`` says what would be allocated (e.g. ``"dcsgd simulation: 1000000 replicas x
    4 workers x d=1000"``); the message names the estimate, the budget and how to raise it.
    """
    limit = memory_budget() if budget is None else budget
    if nbytes > limit:
        raise InputError(
            f"{what} needs about {format_bytes(nbytes)} of memory, above the limit "
            f"{format_bytes(limit)} (half the physical memory; set THEORYKIT_MAX_MEMORY "
            "to change it, or use fewer replicas/samples or a smaller d)")


def check_derive_dim(d: int, *, dense: bool, what: str = "derivation") -> None:
    """Refuse a symbolic derivation at a dimension whose cost is above the limit:
    :data:`MAX_DERIVE_DIM_DENSE` when the diffusion is (or may be) a dense d x d matrix,
    :data:`MAX_DERIVE_DIM` otherwise. Estimated before any symbolic work starts."""
    limit = MAX_DERIVE_DIM_DENSE if dense else MAX_DERIVE_DIM
    if d <= limit:
        return
    shown = str(d) if d < 10**12 else _sci(d)
    if dense:
        why = ("its diffusion couples the coordinates (a dense d x d matrix, or entries "
               "with d terms each), so the symbolic cost grows as d^2 (~22 s at d=100, "
               f"~190 s at d=300; d={shown} means about {_sci(d * d)} terms)")
    else:
        why = f"a symbolic d x d matrix at d={shown} has {_sci(d * d)} entries"
    raise InputError(f"{what}: dimension d={shown} is above the limit {limit}: {why}; the "
                     "SDE has the same form for every d, so derive it at a small d "
                     "(e.g. --dim 3) and read the pattern")
