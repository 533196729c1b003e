"""Exceptions raised by theorykit.

Every user-facing failure is one of these, so the CLI can print a one-line message and
exit non-zero instead of a traceback.
"""

from __future__ import annotations


class TheorykitError(Exception):
    """Base class of all theorykit errors."""


class InputError(TheorykitError, ValueError):
    """Bad user input: unknown name, parameter out of its domain, missing value, k > d, ..."""


class AssumptionError(TheorykitError):
    """A derivation or rate was requested under an assumption the object does not satisfy.

    Example: DCSGD's SDE needs an unbiased compressor; asking for it with top-k raises this,
    naming the failed assumption.
    """


class DerivationError(TheorykitError):
    """SymPy could not carry out a derivation (no closed form, unsolvable equation, ...)."""


class DivergenceError(TheorykitError):
    """A simulation diverged. ``step`` is the first step at which a non-finite or
    over-threshold value appeared."""

    def __init__(self, message: str, step: int | None = None) -> None:
        super().__init__(message if step is None else f"{message} (at step {step})")
        self.step = step
