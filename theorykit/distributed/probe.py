r"""Measure what the compressed collective really does, on real processes.

:func:`wire_probe` runs on every rank of an initialised group. Each rank holds a fixed
vector :math:`v_i` (drawn from a per-rank seed) and performs ``rounds`` calls of
:func:`~theorykit.distributed.collectives.compressed_mean` with its own compressor
generator. It records, per round, the squared error of the received mean,

.. math:: e_r = \Big\|\frac1N\sum_i \mathcal D(\mathcal E_i(v_i)) - \frac1N\sum_i v_i\Big\|^2,

and the exact information bits and bytes this rank sent. For unbiased compressors with
independent randomness across ranks,

.. math:: \mathbb E\, e_r = \frac1{N^2}\sum_i \mathbb E\|C(v_i) - v_i\|^2
   \le \frac{\omega}{N^2} \sum_i \|v_i\|^2

(independence makes the cross terms vanish; Compagnoni et al., AISTATS 2025, the DCSGD
noise model [derived]). A bug that reuses one seed on every rank correlates the errors and
doubles :math:`\mathbb E e_r` for two ranks with equal vectors; the claim
``distributed.wire-variance`` compares the measured error with the independent-ranks value.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from theorykit.compressors.registry import make
from theorykit.distributed.collectives import CommStats, compressed_mean


def probe_vectors(world: int, d: int, seed: int, common: float = 0.0) -> torch.Tensor:
    """The ``(world, d)`` float64 vectors the ranks hold (Gaussian entries, distinct norms
    from 1x to 2x). ``common`` in [0, 1): the correlation of the ranks' entries (a shared
    Gaussian component of weight ``common`` plus an independent one of weight
    ``sqrt(1 - common^2)``); with correlated vectors, independent and shared compressor
    randomness give clearly different errors of the mean. ``common = 0``: independent."""
    if not 0.0 <= common < 1.0:
        raise ValueError(f"common must be in [0, 1), got {common}")
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(world, d, generator=g, dtype=torch.float64)
    if common:
        shared = torch.randn(1, d, generator=g, dtype=torch.float64)
        base = common * shared + (1.0 - common**2) ** 0.5 * base
    scale = torch.linspace(1.0, 2.0, world, dtype=torch.float64).unsqueeze(1)
    return base * scale


def wire_probe(specs: list[tuple[str, dict[str, Any]]], d: int, rounds: int | list[int],
               seed: int, common: float = 0.0) -> list[dict[str, Any]]:
    """Per compressor ``(name, params)``: the per-round squared errors of the received mean
    and this rank's communication totals (sent, and received from the other ranks as
    counted by :class:`~theorykit.distributed.collectives.CommStats`). ``rounds``: one
    count for all compressors or one per compressor; ``common``: the correlation of the
    ranks' vectors (:func:`probe_vectors`). Run inside an initialised process group."""
    rank, world = dist.get_rank(), dist.get_world_size()
    vs = probe_vectors(world, d, seed, common)
    target = vs.mean(dim=0)
    counts = [int(rounds)] * len(specs) if isinstance(rounds, int) else [int(r) for r in rounds]
    if len(counts) != len(specs):
        raise ValueError("rounds: one count per compressor")
    out = []
    for j, ((name, params), n_rounds) in enumerate(zip(specs, counts, strict=True)):
        spec = make(name, **params)
        gen = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * j + rank)
        stats = CommStats()
        errs = torch.empty(n_rounds, dtype=torch.float64)
        for r in range(n_rounds):
            mean = compressed_mean(vs[rank], spec, gen, stats=stats)
            errs[r] = float(((mean - target) ** 2).sum())
        out.append({"name": name, "params": params, "errors": errs,
                    "comm": stats.as_dict(), "rank": rank, "world": world})
    return out
