r"""Distributed SGD with a per-step compressor hook on a diagonal quadratic, for the DQ-SGD
and heavy-tail comparisons (Yan et al., arXiv 2107.14575; the schedules are derived in
:mod:`theorykit.rules.dynamic`).

:func:`run_quantized_sgd` runs, for R replicas at once, N workers on
:math:`f(x) = \tfrac12\sum_i h_i x_i^2` (f* = 0): each worker compresses its own stochastic
gradient with a real codec (a :data:`Compress` hook, which also reports the bits sent) and
the server averages. The loop is :func:`theorykit.run.loop.iterate`; the random draws are,
per step, the workers' noise (one generator, seeded ``seed``) and then the compressors'
draws (a second generator, seeded ``seed + 7919``), so runs with different compressors see
the same noise (paired comparisons).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from theorykit.errors import DivergenceError, InputError
from theorykit.run.loop import iterate
from theorykit.validate import positive_int

__all__ = ["Compress", "QuantizedRunResult", "codec_compress", "run_quantized_sgd"]

Tensor = torch.Tensor

COMPRESSOR_SEED_OFFSET = 7919
"""The compressors' generator is seeded ``seed + 7919`` (the noise generator: ``seed``)."""

Compress = Callable[[int, Tensor, torch.Generator], tuple[Tensor, Tensor]]
"""``compress(t, grads (R, N, d), generator) -> (compressed (R, N, d), bits (R,))``."""


@dataclass
class QuantizedRunResult:
    """Outcome of :func:`run_quantized_sgd`: final loss and bits sent per replica, the
    mean loss trace, and (if recorded) worker-0 gradients of replica 0, shape (T, d)."""

    final_loss: np.ndarray
    bits: np.ndarray
    loss_trace: np.ndarray
    grad_trace: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_quantized_sgd(h: Any, x0: Any, noise: Any, *, n_workers: int, eta: float,
                      steps: int, replicas: int, compress: Compress | None,
                      seed: int = 0, record: bool = False) -> QuantizedRunResult:
    r"""Distributed SGD on :math:`f(x) = \tfrac12\sum_i h_i x_i^2` (f* = 0):
    :math:`x \leftarrow x - \frac\eta N\sum_i C_i(\nabla f(x) + Z_i)` for ``replicas``
    independent runs at once. ``noise`` is a :class:`theorykit.noise.NoiseModel` (its
    sampler gives Z of shape (R, N, d)). ``compress=None`` is uncompressed DSGD (32 bits
    per coordinate). The noise and the compressors draw from two generators seeded from
    ``seed``, so runs with different compressors see the same noise (paired comparisons).
    A non-finite loss raises :class:`~theorykit.errors.DivergenceError` (``step`` = the
    0-based index of the step that produced it)."""
    from theorykit.noise import NoiseModel

    if not isinstance(noise, NoiseModel):
        raise InputError(f"noise must be a NoiseModel, got {type(noise).__name__}")
    hv = torch.as_tensor(np.asarray(h, dtype=float))
    if hv.ndim != 1 or not torch.all(hv > 0):
        raise InputError("h must be a 1-d array of positive curvatures")
    d = hv.numel()
    R, N, T = (positive_int("replicas", replicas), positive_int("number of workers N", n_workers),
               positive_int("steps", steps))
    X = torch.as_tensor(np.asarray(x0, dtype=float)).reshape(1, d).repeat(R, 1)
    gen_noise = torch.Generator().manual_seed(int(seed))
    gen = torch.Generator().manual_seed(int(seed) + COMPRESSOR_SEED_OFFSET)
    bits = torch.zeros(R, dtype=torch.float64)
    dense_bits = torch.full((R,), 32.0 * d * n_workers, dtype=torch.float64)
    trace = np.empty(T + 1)
    grads_rec = np.empty((T, d)) if record else None
    last_loss: list[Tensor] = []

    def step(t: int, X: Tensor) -> Tensor:
        g = (hv * X).unsqueeze(1) + noise.sample(R, N, d, generator=gen_noise)
        if grads_rec is not None:
            grads_rec[t] = g[0, 0].numpy()
        c, b = (g, dense_bits) if compress is None else compress(t, g, gen)
        bits.add_(b)
        return X - eta * c.mean(dim=1)

    def observe(k: int, X: Tensor) -> None:
        loss = 0.5 * (hv * X * X).sum(-1)
        if k > 0 and not torch.all(torch.isfinite(loss)):
            raise DivergenceError("quantized SGD diverged", step=k - 1)
        trace[k] = float(loss.mean())
        last_loss[:] = [loss]

    iterate(step, X, T, observe=observe)
    return QuantizedRunResult(final_loss=last_loss[0].numpy().copy(), bits=bits.numpy(),
                              loss_trace=trace, grad_trace=grads_rec)


def codec_compress(spec: Any) -> Compress:
    """A :data:`Compress` from one catalog codec applied to every worker (bits from the
    real payload size of one message times N)."""
    bits_cache: dict[int, int] = {}

    def fn(t: int, g: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        R, N, d = g.shape
        out = spec.apply(g, gen)
        if d not in bits_cache:
            bits_cache[d] = spec.numeric_bits(d)
        return out, torch.full((R,), float(bits_cache[d] * N), dtype=torch.float64)

    return fn
