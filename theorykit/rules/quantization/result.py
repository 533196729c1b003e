"""The result of an optimisation: :class:`QuantizerOptimum`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from theorykit.rules.quantization.densities import Density


@dataclass
class QuantizerOptimum:
    """The optimal truncated quantizer of a density for ``s`` intervals.

    ``alpha`` threshold, ``levels`` (s+1 sorted positions in [-α, α]), ``predicted_error``
    (the per-coordinate objective at the optimum, with ``c_q``), ``exact_error`` (the
    codec's true per-coordinate MSE with these levels, by numeric integration), ``bits``
    per coordinate (⌈log₂(s+1)⌉; plus 32 per message for α), ``closed_form`` (whether
    α* came from a SymPy closed form), ``expression`` (α* as an expression of s and the
    parameters when closed, else the objective E(α))."""

    density: Density
    scheme: str
    s: int
    c_q: sp.Expr
    alpha: float
    levels: np.ndarray
    predicted_error: float
    bits: int
    closed_form: bool
    expression: sp.Expr
    error_expression: sp.Expr | None = None
    exact_error: float = float("nan")
    mass: str = "bound"
    method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def message_bits(self, d: int) -> int:
        """Bits of one d-dimensional message: d·⌈log₂(s+1)⌉ + 32 (α as float32)."""
        return d * self.bits + 32

    def compressor(self, **kw: Any) -> Any:
        """The catalog codec with these levels (``truncated_nonuniform`` with explicit
        levels; ``truncated_uniform`` for the uniform scheme)."""
        from theorykit.compressors.registry import make

        if self.scheme == "uniform":
            return make("truncated_uniform", tau=self.alpha, s=self.s, **kw)
        return make("truncated_nonuniform", tau=self.alpha,
                    levels=tuple(float(x) for x in self.levels), **kw)

    def to_json(self) -> dict[str, Any]:
        return {
            "density": self.density.name,
            "params": self.density.params,
            "scheme": self.scheme,
            "s": self.s,
            "bits_per_coordinate": self.bits,
            "bits_per_message": f"d*{self.bits} + 32",
            "c_Q": sp.sstr(self.c_q),
            "mass": self.mass if self.scheme == "uniform" else None,
            "alpha": self.alpha,
            "levels": [float(x) for x in self.levels],
            "predicted_error": self.predicted_error,
            "exact_error": self.exact_error,
            "closed_form": self.closed_form,
            "method": self.method,
            "expression": sp.sstr(self.expression),
            "error_expression": (sp.sstr(self.error_expression)
                                 if self.error_expression is not None else None),
            **({"beta": self.extra["beta"], "s_inner": self.extra["s_inner"]}
               if "beta" in self.extra else {}),
        }
