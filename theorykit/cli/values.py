"""Numbers typed on the command line: counts, positive numbers, seeds and comma-separated
lists, each checked once by :mod:`theorykit.validate` (and :func:`theorykit.limits.check_count`
for a cap), so a bad value is the same one-line error in every command."""

from __future__ import annotations

from theorykit.errors import InputError
from theorykit.limits import check_count
from theorykit.validate import finite_float, positive_float, positive_int

__all__ = ["MAX_SEED", "count", "floats", "positive", "seed"]

MAX_SEED = 2**62
"""Seeds are integers in 0..2^62 (they seed ``torch.Generator``s, offsets added)."""


def count(name: str, value: str, maximum: int | None = None) -> int:
    """A positive integer option (workers, batch, steps, replicas, ...), at most
    ``maximum``: :func:`~theorykit.validate.positive_int`, then the cap."""
    n = positive_int(name, value)
    return n if maximum is None else check_count(name, n, maximum)


def positive(name: str, value: str) -> float:
    """A finite number > 0 (a learning rate, a factor, a scale)."""
    return positive_float(name, value, one_message=True)


def seed(name: str, value: str) -> int:
    """A seed: an integer in 0..:data:`MAX_SEED` (read exactly, not through a float)."""
    try:
        s = int(value)
    except ValueError:
        v = finite_float(name, value, expected="an integer")
        if not v.is_integer():
            raise InputError(f"{name} must be an integer, got {value!r}") from None
        s = int(v)
    if not 0 <= s <= MAX_SEED:
        raise InputError(f"{name} must be in 0..2^62, got {value!r}")
    return s


def floats(name: str, value: str, *, length: int | None = None,
           most: int | None = None) -> tuple[float, ...]:
    """Comma-separated finite numbers (at most ``most`` of them; exactly ``length`` if
    given, the problem's dimension)."""
    parts = [s for s in value.split(",") if s.strip()]
    if not parts or (most is not None and len(parts) > most):
        many = f"1..{most}" if most is not None else "one or more"
        raise InputError(f"{name} must be {many} comma-separated numbers, got {value!r}")
    out = tuple(finite_float(name, s) for s in parts)
    if length is not None and len(out) != length:
        raise InputError(f"{name} has {len(out)} values; the problem has dimension {length}")
    return out
