"""Mutants: named, concrete wrong versions of a claim's theory.

A verdict is worth something only if the same check says *contradicted* when the theory is
wrong. Each claim declares :class:`Mutant` s — a constant x2, a diffusion scaled by 0 or 2,
a scaling rule's kappa x2, an Ito term dropped, a bound tightened 2x — as *knobs* that its
run function reads from ``ctx.theory``. The unmutated theory has no knob set, so every
``ctx.theory.factor(name)`` is 1 and every ``ctx.theory.flag(name)`` is False.

``theorykit verify --mutants`` runs a claim, then each mutant through the *same* check with
the same seed; a mutant must come out *contradicted* ("killed"). A mutant that changes only
the prediction reuses the measurement through ``ctx.memo(key, fn)``; a mutant that changes
the configuration (a scaling rule) keys its own measurement by that configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

MutantStatus = Literal["killed", "survived", "inconclusive", "error"]


@dataclass(frozen=True)
class Theory:
    """The knobs of a claim's theory. ``Theory()`` is the claim as stated."""

    knobs: Mapping[str, Any] = field(default_factory=dict)
    name: str = "theory"

    @property
    def is_mutant(self) -> bool:
        return bool(self.knobs)

    def factor(self, key: str, default: float = 1.0) -> float:
        """A multiplicative knob (1 unless mutated)."""
        v = self.knobs.get(key, default)
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"mutant knob {key!r} is not finite")
        return v

    def offset(self, key: str, default: float = 0.0) -> float:
        """An additive knob (0 unless mutated)."""
        return float(self.knobs.get(key, default))

    def flag(self, key: str) -> bool:
        """A boolean knob (False unless mutated), e.g. ``drop_ito``."""
        return bool(self.knobs.get(key, False))

    def choice(self, key: str, default: Any) -> Any:
        """A categorical knob (``default`` unless mutated)."""
        return self.knobs.get(key, default)


THEORY = Theory()
"""The unmutated theory."""


@dataclass(frozen=True)
class Mutant:
    """A named wrong version of a claim's theory. ``knobs`` override :class:`Theory`'s."""

    name: str
    description: str
    knobs: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not self.knobs:
            raise ValueError(f"mutant {self.name!r} changes nothing (no knobs)")

    def theory(self) -> Theory:
        return Theory(dict(self.knobs), self.name)


def mutant(name: str, description: str, **knobs: Any) -> Mutant:
    """Shorthand: ``mutant("kappa_x2", "learning-rate rule kappa x2", kappa=2.0)``."""
    return Mutant(name, description, knobs)


def factor_mutants(knob: str, what: str, factors: tuple[float, ...] = (2.0, 0.5)
                   ) -> tuple[Mutant, ...]:
    """The common pair: ``what`` multiplied by each factor (default x2 and x1/2)."""
    out = []
    for f in factors:
        tag = f"x{f:g}" if f >= 1 else f"x1/{1 / f:g}"
        out.append(Mutant(f"{knob}_{tag.replace('/', '_')}", f"{what} {tag}", {knob: f}))
    return tuple(out)


def mutant_status(verdict_status: str) -> MutantStatus:
    """A mutant is killed when the check says *contradicted*."""
    return {"contradicted": "killed", "holds": "survived",
            "inconclusive": "inconclusive"}.get(verdict_status, "error")  # type: ignore[return-value]
