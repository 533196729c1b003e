"""The certifier's test inputs: :func:`input_suite`, random and adversarial vectors.

Each adversarial input is the worst case of some catalog constant (named in the docstring
of :func:`input_suite`), so a claimed constant that is too small at its worst case is
refuted there; see :mod:`theorykit.compressors.certify` for how the inputs are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from theorykit.errors import InputError

__all__ = ["HUGE", "TINY", "InputSuite", "input_suite"]

TINY = 1e-20
"""Scale of the ``tiny`` input (a Gaussian times ``TINY``)."""
HUGE = 1e15
"""Scale of the ``huge`` input (a Gaussian times ``HUGE``)."""

InputSuite = Callable[[int, torch.Generator], dict[str, torch.Tensor]]
"""``(d, generator) -> {name: input of shape (d,)}``, e.g. :func:`input_suite`."""


def input_suite(d: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Named test inputs of shape ``(d,)`` in float64 (on the generator's device).

    Random: ``gaussian``, ``cauchy`` (heavy tails, infinite variance), ``student_t3``,
    ``sparse`` (10% non-zeros, at least one). Adversarial: ``one_hot`` (all mass on one
    coordinate: worst case of rand-k and of many omegas), ``constant`` (all ties: top-k tie
    breaking, the worst case of scaled sign's B3 bound is its opposite), ``alternating``
    signs, ``spike_noise`` (one coordinate of size d over small noise), ``spike_flat``
    (``(1, ±a, ..., ±a)`` with ``a = 1/(sqrt(d)+1)``: the maximiser of TernGrad's variance
    ratio, see :func:`theorykit.compressors.catalog.sign.terngrad_omega`), ``geometric``
    (magnitudes spanning 8 octaves), ``grid_midpoints`` (|x_i| = 1.5 * 2^j: the worst case of
    nearest power-of-2 rounding), ``harmonic_points`` (|x_i| = (4/3) * 2^j, the harmonic mean
    of 2^j and 2^(j+1): the worst case of unbiased power-of-2 rounding), ``tiny`` (Gaussian
    times 1e-20) and ``huge`` (Gaussian times 1e15).
    """
    if d < 1:
        raise InputError(f"dimension d must be >= 1, got {d}")
    dev = generator.device
    f64 = torch.float64

    def randn() -> torch.Tensor:
        return torch.randn(d, generator=generator, dtype=f64, device=dev)

    def rand() -> torch.Tensor:
        return torch.rand(d, generator=generator, dtype=f64, device=dev)

    def signs() -> torch.Tensor:
        return torch.where(rand() < 0.5, -1.0, 1.0).to(f64)

    def octaves(lo: int, hi: int) -> torch.Tensor:
        return torch.randint(lo, hi + 1, (d,), generator=generator, device=dev).to(f64)

    out: dict[str, torch.Tensor] = {}
    out["gaussian"] = randn()
    hot = int(torch.randint(0, d, (1,), generator=generator, device=dev))
    one_hot = torch.zeros(d, dtype=f64, device=dev)
    one_hot[hot] = 1.0
    out["one_hot"] = one_hot
    out["constant"] = torch.ones(d, dtype=f64, device=dev)
    out["alternating"] = torch.tensor([(-1.0) ** i for i in range(d)], dtype=f64, device=dev)
    u = rand().clamp(1e-12, 1 - 1e-12)
    out["cauchy"] = torch.tan(math.pi * (u - 0.5))
    # Student-t(3) = Z / sqrt(chi2_3 / 3)
    chi2 = (torch.randn(3, d, generator=generator, dtype=f64, device=dev) ** 2).sum(0)
    out["student_t3"] = randn() / torch.sqrt(chi2 / 3)
    sparse = randn() * (rand() < 0.1)
    if not bool(sparse.ne(0).any()):
        sparse[int(torch.randint(0, d, (1,), generator=generator, device=dev))] = 1.0
    out["sparse"] = sparse
    spike = 0.01 * randn()
    spike[int(torch.randint(0, d, (1,), generator=generator, device=dev))] = float(d)
    out["spike_noise"] = spike
    flat = signs() / (math.sqrt(d) + 1.0)
    flat[0] = 1.0
    out["spike_flat"] = flat
    out["geometric"] = signs() * torch.pow(2.0, -8.0 * torch.arange(d, dtype=f64,
                                                                    device=dev) / d)
    out["grid_midpoints"] = signs() * 1.5 * torch.pow(2.0, octaves(-4, 4))
    out["harmonic_points"] = signs() * (4.0 / 3.0) * torch.pow(2.0, octaves(-4, 4))
    g = randn()
    out["tiny"] = g * TINY
    out["huge"] = g * HUGE
    return out
