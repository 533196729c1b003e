"""SDEs of distributed methods: the :class:`SDE` object, :func:`derive`, and the one
lambdify adapter (:mod:`theorykit.sde.lambdify`: scalar and vector functions, built on
:mod:`~theorykit.sde.backends` (SymPy rewrites and printers per backend),
:mod:`~theorykit.sde.special` (special functions for numpy/torch),
:mod:`~theorykit.sde.templates` (batched term templates) and :mod:`~theorykit.sde.arrays`
(index and broadcast helpers)). Batched solvers live in :mod:`theorykit.sde.solvers`
(imported on first use of one of its names)."""

from __future__ import annotations

import importlib
from typing import Any

from theorykit.sde.derive import B_SYMBOL, N_SYMBOL, clear_cache, derive
from theorykit.sde.lambdify import scalar_function, vector_function
from theorykit.sde.sde import ETA, SDE, TIME

__all__ = ["B_SYMBOL", "ETA", "N_SYMBOL", "SDE", "TIME", "clear_cache", "derive",
           "scalar_function", "vector_function"]


def __getattr__(name: str) -> Any:
    """Lazy access to the solver module's names (``from theorykit.sde import EulerMaruyama``)."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        solvers = importlib.import_module("theorykit.sde.solvers")
    except ImportError:
        raise AttributeError(f"module 'theorykit.sde' has no attribute {name!r}") from None
    try:
        return getattr(solvers, name)
    except AttributeError:
        raise AttributeError(f"module 'theorykit.sde' has no attribute {name!r}") from None
