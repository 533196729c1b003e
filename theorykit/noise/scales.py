"""The parameters of a noise model: per-worker / per-coordinate scales ``s_ij`` and shape
parameters (nu, alpha), each a number or a SymPy symbol.

A scale may be a scalar (all workers, all coordinates), a sequence of length N (one
isotropic scale per worker) or an ``(N, d)`` array (per worker and coordinate); see the
batch convention in :mod:`theorykit.noise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.distributions import nice_number
from theorykit.errors import InputError
from theorykit.validate import positive_float, symbolic

__all__ = ["Scales", "scale_expr", "shape_param"]


def scale_expr(name: str, value: Any, *, allow_zero: bool = True) -> sp.Expr:
    """A scale value as a SymPy expression: a string becomes a positive symbol, a SymPy
    expression is kept (a numeric one is checked), a number must be >= 0 (> 0 without
    ``allow_zero``) and becomes a short exact rational when it has one."""
    sym = symbolic(value, positive=True)
    if sym is not None:
        return sym
    if isinstance(value, sp.Basic):  # a SymPy number: check its domain, keep its form
        positive_float(name, float(value), allow_zero=allow_zero,
                       expected="a number or a symbol")
        return value
    return nice_number(positive_float(name, value, allow_zero=allow_zero,
                                      expected="a number or a symbol"))


def shape_param(name: str, value: Any) -> sp.Expr:
    """A shape parameter (Student-t nu, Lomax alpha): a number > 0 or a (positive) symbol."""
    sym = symbolic(value, positive=True)
    if sym is not None:
        return sym
    return nice_number(positive_float(name, value))


class Scales:
    """Per-worker / per-coordinate scales ``s_ij`` stored as a (N0, d0) table with
    N0 in {1, N} and d0 in {1, d} (1 = broadcast)."""

    def __init__(self, name: str, value: Any, *, allow_zero: bool = True) -> None:
        if isinstance(value, str | sp.Basic) or (
                not isinstance(value, Sequence | np.ndarray | torch.Tensor)
                and np.ndim(value) == 0):
            table = [[scale_expr(name, value, allow_zero=allow_zero)]]
        else:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            if isinstance(value, np.ndarray):
                value = value.tolist()
            rows = list(value)
            if not rows:
                raise InputError(f"{name}: empty sequence of scales")
            if all(np.ndim(r) == 0 or isinstance(r, str | sp.Basic) for r in rows):
                table = [[scale_expr(f"{name}[{i}]", r, allow_zero=allow_zero)]
                         for i, r in enumerate(rows)]
            else:
                widths = {len(r) for r in rows}
                if len(widths) != 1:
                    raise InputError(f"{name}: ragged (N, d) array of scales")
                table = [[scale_expr(f"{name}[{i},{j}]", v, allow_zero=allow_zero)
                          for j, v in enumerate(r)] for i, r in enumerate(rows)]
        self._set(name, table)

    @classmethod
    def from_table(cls, name: str, table: list[list[sp.Expr]]) -> Scales:
        """Scales given directly as a checked (N0, d0) table of SymPy expressions."""
        self = cls.__new__(cls)
        self._set(name, table)
        return self

    def _set(self, name: str, table: list[list[sp.Expr]]) -> None:
        self.name = name
        self.table: list[list[sp.Expr]] = table
        self.n0 = len(table)
        self.d0 = len(table[0])
        self.numeric = all(e.is_number for row in table for e in row)
        self._cache: dict[tuple, torch.Tensor] = {}

    @property
    def per_worker(self) -> bool:
        return self.n0 > 1

    def check(self, n_workers: int | None = None, d: int | None = None) -> None:
        if n_workers is not None and self.n0 > 1 and n_workers != self.n0:
            raise InputError(
                f"{self.name} has {self.n0} per-worker values but n_workers={n_workers}")
        if d is not None and self.d0 > 1 and d != self.d0:
            raise InputError(f"{self.name} has {self.d0} per-coordinate values but d={d}")

    def expr(self, i: int, j: int) -> sp.Expr:
        if self.n0 > 1 and not 0 <= i < self.n0:
            raise InputError(f"{self.name}: worker index {i} out of range 0..{self.n0 - 1}")
        if self.d0 > 1 and not 0 <= j < self.d0:
            raise InputError(f"{self.name}: coordinate index {j} out of range 0..{self.d0 - 1}")
        return self.table[i if self.n0 > 1 else 0][j if self.d0 > 1 else 0]

    def tensor(self, device: Any, dtype: torch.dtype) -> torch.Tensor:
        """The scales as a (N0, d0) tensor (numeric models only)."""
        if not self.numeric:
            raise InputError(
                f"{self.name} is symbolic ({self.free_symbols_text()}); sampling needs numbers")
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = torch.tensor([[float(e) for e in row] for row in self.table],
                                            dtype=dtype, device=device)
        return self._cache[key]

    def free_symbols_text(self) -> str:
        syms = sorted({s.name for row in self.table for e in row for s in e.free_symbols})
        return ", ".join(syms)

    def value(self) -> Any:
        """A JSON-able description of the scales."""
        def conv(e: sp.Expr) -> float | str:
            return float(e) if e.is_number else sp.sstr(e)
        if self.n0 == 1 and self.d0 == 1:
            return conv(self.table[0][0])
        if self.d0 == 1:
            return [conv(r[0]) for r in self.table]
        return [[conv(e) for e in r] for r in self.table]
