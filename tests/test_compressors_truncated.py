"""Truncated quantizers: their levels and truncation, no class claimed, CLI strings, and the
non-uniform cell search and fast kernel against float64 and general references."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _quantizer_cases import LEVELS5, gen

from theorykit.compressors import make
from theorykit.compressors.catalog.quantizers import (
    TruncatedNonuniform,
)


# =========================================================================== levels
def test_truncated_uniform_levels_and_truncation():
    spec = make("truncated_uniform", tau=1.5, s=5)
    lv = spec.levels_tensor
    assert lv.dtype == torch.float32 and lv.numel() == 6
    assert torch.allclose(lv.double(), torch.linspace(-1.5, 1.5, 6, dtype=torch.float64),
                          atol=1e-6)
    x = torch.tensor([-10.0, -1.5, 0.2, 1.5, 7.0])
    assert torch.equal(spec.truncate(x), torch.tensor([-1.5, -1.5, 0.2, 1.5, 1.5]))
    y = spec.apply(x.expand(200, 5), gen())
    assert torch.isin(y, lv).all()          # outputs are levels
    assert torch.all(y[:, 0] == -1.5) and torch.all(y[:, 4] == 1.5)


def test_truncated_nonuniform_accepts_cli_strings_and_sequences():
    a = make("truncated_nonuniform", tau="1", levels=LEVELS5)
    b = make("truncated_nonuniform", tau=1.0, levels=(-1, -0.3, 0, 0.3, 1))
    c = make("truncated_nonuniform", tau=1.0,
             levels=torch.tensor([-1, -0.3, 0, 0.3, 1], dtype=torch.float64))
    assert a["levels"] == b["levels"] == c["levels"] == (-1.0, -0.3, 0.0, 0.3, 1.0)
    assert torch.equal(a.levels_tensor, torch.tensor([-1, -0.3, 0, 0.3, 1]))
    json.dumps(a.describe())
    y = a.apply(torch.tensor([-5.0, -0.3, 0.1, 0.3, 5.0]).expand(100, 5), gen())
    assert torch.isin(y, a.levels_tensor).all()
    assert torch.all(y[:, 1] == -0.3) and torch.all(y[:, 3] == 0.3)


@pytest.mark.parametrize("levels", [
    [-1.0, -0.3, 0.0, 0.3, 1.0],
    [-2.0, 2.0],
    [-1.0, -0.999, -0.5, 0.0, 1e-3, 2e-3, 0.7, 1.0],               # very uneven gaps
    sorted(set(np.round(np.random.default_rng(0).uniform(-3, 3, 40), 4).tolist())
           | {-3.0, 3.0}),
    [-1.0, 0.0, 1e-7, 1.0],                                         # > 2^20 buckets: fallback
])
def test_nonuniform_cell_search_matches_a_float64_reference(levels):
    """The O(1) bucket search finds the same cell as searchsorted in float64, at random
    points, at every level and at its float32 neighbours."""
    tau = float(levels[-1])
    spec = TruncatedNonuniform(tau=tau, levels=levels)
    lv = np.asarray(levels, np.float32)
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.uniform(lv[0], lv[-1], 20000).astype(np.float32), lv,
                          np.nextafter(lv, np.float32(-np.inf)),
                          np.nextafter(lv, np.float32(np.inf))])
    pts = np.clip(pts, lv[0], lv[-1]).astype(np.float32)
    got = spec._cells(torch.from_numpy(pts)).numpy()
    ref = np.searchsorted(lv[1:-1].astype(np.float64), pts.astype(np.float64), side="right")
    assert np.array_equal(got, ref)


_BENCH_GRID = [2.0 * (2 * i / 15 - 1) * abs(2 * i / 15 - 1) for i in range(16)]


@pytest.mark.parametrize("levels", [
    [-1.0, -0.3, 0.0, 0.3, 1.0],
    [-1.0, -0.999, -0.5, 0.0, 1e-3, 2e-3, 0.7, 1.0],               # very uneven gaps
    sorted(set(np.round(np.random.default_rng(0).uniform(-3, 3, 40), 4).tolist())
           | {-3.0, 3.0}),
    _BENCH_GRID,                                                    # the benchmark's grid
    [-2.0 + 4.0 * i / 127 for i in range(128)],                     # s = 127, uniform
])
def test_nonuniform_fast_kernel_equals_general_kernel(levels):
    """The table-driven encode kernel gives the same codes as the general one (same random
    integers) at random points, at every level, at its float32 neighbours and beyond
    +-tau; and whole encodes/applies agree with the fast kernel switched off."""
    tau = float(levels[-1])
    spec = TruncatedNonuniform(tau=tau, levels=levels)
    assert spec._jtab is not None
    lv = np.asarray(levels, np.float32)
    rng = np.random.default_rng(2)
    pts = np.concatenate([rng.uniform(1.2 * lv[0], 1.2 * lv[-1], 50000).astype(np.float32),
                          lv, np.nextafter(lv, np.float32(-np.inf)),
                          np.nextafter(lv, np.float32(np.inf)), [-0.0, 0.0, 1e30, -1e30]])
    x = torch.from_numpy(pts.astype(np.float32)).view(1, -1)
    for seed in range(3):
        rnd = torch.randint(0, 1 << 24, x.shape, generator=gen(seed), dtype=torch.int32)
        fast = torch.empty(x.shape, dtype=torch.uint8)
        general = torch.empty(x.shape, dtype=torch.uint8)
        spec._encode_block_fast(x, rnd.clone(), fast)
        spec._encode_block_general(x, rnd.clone(), general)
        assert torch.equal(fast, general)
    ref = TruncatedNonuniform(tau=tau, levels=levels)
    ref._jtab = None                                                # the general kernel only
    xs = torch.from_numpy(pts[:40000].copy()).view(8, -1)
    assert torch.equal(spec.encode(xs, gen(5)).fields["codes"].data,
                       ref.encode(xs, gen(5)).fields["codes"].data)
    assert torch.equal(spec.apply(xs, gen(6)), ref.apply(xs, gen(6)))
