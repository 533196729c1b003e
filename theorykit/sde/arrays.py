"""Small array helpers of the lambdify adapter (:mod:`theorykit.sde.lambdify`), one code
path for numpy and torch: tensors from numbers, the few operations of the batched evaluator
(:class:`BatchOps`), column selection by slice or index array, broadcasting to the batch
shape, and copies that share no memory with the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from theorykit.sde.backends import Backend

__all__ = ["BatchOps", "as_tensor", "broadcast_to_shape", "column_selector", "fresh_array",
           "index_array", "put_columns", "sqrt_nonneg", "take_columns"]


def as_tensor(v: Any, like: Any = None) -> torch.Tensor:
    """``v`` as a tensor (of ``like``'s dtype and device when given; float64 otherwise)."""
    if isinstance(v, torch.Tensor):
        return v
    if like is not None:
        return torch.as_tensor(v, dtype=like.dtype, device=like.device)
    return torch.as_tensor(v, dtype=torch.float64)


class BatchOps:
    """The few array operations the evaluator needs, per backend."""

    def __init__(self, backend: Backend) -> None:
        self.torch = backend == "torch"

    def const(self, values: Sequence[float], like: Any) -> Any:
        if self.torch:
            return torch.tensor(list(values), dtype=like.dtype, device=like.device)
        return np.asarray(values, dtype=float)

    def scalar(self, value: float, like: Any) -> Any:
        if self.torch:
            return torch.tensor(value, dtype=like.dtype, device=like.device)
        return np.float64(value)

    def empty(self, p: int, m: int, like: Any) -> Any:
        if self.torch:
            return torch.empty((p, m), dtype=like.dtype, device=like.device)
        return np.empty((p, m), dtype=float)

    def column(self, v: Any, p: int, like: Any) -> Any:
        """A component's value as a (P,) array (scalars broadcast)."""
        if self.torch:
            v = as_tensor(v, like)
            return v.expand(p) if v.ndim == 0 else v
        v = np.asarray(v, dtype=float)
        return np.broadcast_to(v, (p,)) if v.ndim == 0 else v


def index_array(idx: Sequence[Any], like: Any, backend: Backend) -> Any:
    if backend == "torch":
        return torch.tensor(idx, dtype=torch.long, device=like.device)
    return np.asarray(idx, dtype=np.intp)


def column_selector(idx: Sequence[int], like: Any, backend: Backend) -> Any:
    """A slice when ``idx`` is a contiguous increasing range, else an index array."""
    if len(idx) and list(idx) == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    return index_array(idx, like, backend)


def take_columns(X: Any, sel: Any, backend: Backend) -> Any:
    """The columns ``sel`` (slice or index array) of ``X``."""
    if isinstance(sel, slice):
        return X[:, sel]
    return torch.index_select(X, 1, sel) if backend == "torch" else X[:, sel]


def put_columns(out: Any, sel: Any, v: Any, backend: Backend) -> None:
    """``out[:, sel] = v`` (slice or index array)."""
    if isinstance(sel, slice) or backend != "torch":
        out[:, sel] = v
    else:
        out.index_copy_(1, sel, v.contiguous() if v.stride(-1) == 0 else v)


def fresh_array(v: Any, X: Any, backend: Backend) -> Any:
    """``v`` as an array that shares no memory with ``X`` and is writable (a copy only when
    ``v`` is ``X`` itself, a view of it or a broadcast), so callers may modify it in place."""
    if backend == "torch":
        if v.data_ptr() == X.data_ptr() or 0 in v.stride() or v._base is not None:
            return v.clone(memory_format=torch.contiguous_format)
        return v
    if np.shares_memory(v, X) or not v.flags.writeable:
        return np.array(v)
    return v


def broadcast_to_shape(v: Any, shape: tuple[int, int], backend: Backend, like: Any) -> Any:
    if backend == "torch":
        v = as_tensor(v, like)
        return v.expand(shape) if tuple(v.shape) != shape else v
    v = np.asarray(v, dtype=float)
    return np.broadcast_to(v, shape) if v.shape != shape else v


def sqrt_nonneg(v: Any) -> Any:
    """Element-wise sqrt of max(v, 0) (round-off can make a variance slightly negative)."""
    if isinstance(v, torch.Tensor):
        return torch.sqrt(torch.clamp(v, min=0.0))
    return np.sqrt(np.maximum(v, 0.0))
