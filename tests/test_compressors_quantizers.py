"""Quantizer and rounding compressors: qsgd, natural_dithering, unbiased_rounding,
nearest_rounding, truncated_uniform, truncated_nonuniform.

Checks: codec round trip (bit for bit with equal generator states), exact message sizes,
the packed layout against :mod:`theorykit.compressors.bitpack`, unbiasedness and variances by
Monte Carlo (sample size, seed and a tolerance from the standard error are stated in each
test), symbolic constants (SymPy ``simplify(a - b) == 0``) and their numeric values, the
nearest-rounding ratio bounds on a grid, the natural-dithering exponent counterexample, and
bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from _quantizer_cases import IDS, LEVELS5, SPECS, gen

from theorykit.check.stats import agree, bonferroni_z, mean_se
from theorykit.compressors import D, make
from theorykit.compressors.bitpack import (
    bits_for,
)
from theorykit.compressors.catalog import block_engine
from theorykit.compressors.catalog.quantizers import (
    qsgd_omega_sharp,
)
from theorykit.compressors.registry import catalog
from theorykit.errors import InputError


def _mean_target(spec, x: torch.Tensor) -> torch.Tensor:
    """E C(x): x for the unbiased quantizers, T_tau(x) for the truncated ones."""
    return spec.truncate(x) if hasattr(spec, "truncate") else x


# =========================================================================== registry
def test_all_six_are_registered():
    names = set(catalog())
    assert {"qsgd", "natural_dithering", "unbiased_rounding", "nearest_rounding",
            "truncated_uniform", "truncated_nonuniform"} <= names


# =========================================================================== codec
@pytest.mark.parametrize(("name", "kw"), SPECS, ids=IDS)
@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 5), (2, 40003), (700, 50)])
def test_round_trip_is_bit_exact_and_sizes_are_exact(name, kw, shape):
    """decode(encode(x, g1)) == apply(x, g2) bit for bit for equal generator states; the
    message has exactly B * bits(d) bits and each field wastes < 8 bits of padding. Shapes
    cover leading dims, d not a multiple of 8, rows longer than a block and many rows per
    block."""
    spec = make(name, **kw)
    x = torch.randn(*shape, generator=gen(1)) * 3
    x.view(-1)[0] = 0.0
    if x.numel() > 1:
        x.view(-1)[1] = -0.0
    p = spec.encode(x, gen())
    y = spec.decode(p)
    z = spec.apply(x, gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y.view(torch.int32), z.view(torch.int32))  # bitwise, incl. -0.0
    d = shape[-1]
    batch = x.numel() // d
    assert p.nbits == batch * spec.numeric_bits(d)
    assert 0 <= p.nbytes * 8 - p.nbits < 8 * len(p.fields)
    # a different generator state gives a different message (randomized specs; d >= 10
    # coordinates makes an identical draw astronomically unlikely)
    if not spec.randomized:
        assert torch.equal(spec.apply(x, gen(2)), z)
    elif x.numel() >= 30:
        assert not torch.equal(spec.apply(x, gen(2)), z)


@pytest.mark.parametrize(("name", "kw"), SPECS, ids=IDS)
def test_segments_and_blocks_tile_any_shape(name, kw, monkeypatch):
    """With tiny segments (64 elements: each its own random stream, packed on its own byte
    boundary, run in the thread pool) and tiny blocks (24 elements), segment and block
    boundaries fall inside rows and across rows; the message and C(x) are still exact, and
    the message does not depend on the number of threads."""
    monkeypatch.setattr(block_engine, "_SEGMENT", 64)
    monkeypatch.setattr(block_engine, "_CHUNK", 24)
    spec = make(name, **kw)
    for shape in [(5, 37), (3, 100), (400,), (2, 2, 9)]:
        x = torch.randn(*shape, generator=gen(11)) * 2
        p = spec.encode(x, gen())
        assert torch.equal(spec.decode(p), spec.apply(x, gen()))
        assert p.nbits == (x.numel() // shape[-1]) * spec.numeric_bits(shape[-1])
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            q = spec.encode(x, gen())
        finally:
            torch.set_num_threads(threads)
        assert all(torch.equal(p.fields[k].data, q.fields[k].data) for k in p.fields)


@pytest.mark.parametrize(("name", "kw"), [SPECS[1], SPECS[4], SPECS[6], SPECS[10], SPECS[12]])
def test_large_input_spans_several_segments(name, kw):
    """n = 3 x 400001 > 2^20: real segment boundaries (inside a row), parallel path."""
    spec = make(name, **kw)
    x = torch.randn(3, 400001, generator=gen(12))
    p = spec.encode(x, gen())
    assert torch.equal(spec.decode(p), spec.apply(x, gen()))
    assert p.nbits == 3 * spec.numeric_bits(400001)


@pytest.mark.parametrize(("name", "kw"), SPECS[:1] + SPECS[4:5] + SPECS[6:7] + SPECS[10:11])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_dtypes_round_trip(name, kw, dtype):
    spec = make(name, **kw)
    x = (torch.randn(4, 33, generator=gen(3)) * 2).to(dtype)
    y = spec.decode(spec.encode(x, gen()))
    assert y.dtype == dtype and torch.equal(y, spec.apply(x, gen()))


def test_default_generator_is_used_when_none():
    spec = make("qsgd", s=4)
    x = torch.randn(100, generator=gen(4))
    torch.manual_seed(7)
    a = spec.apply(x)
    torch.manual_seed(7)
    b = spec.decode(spec.encode(x))
    assert torch.equal(a, b)


def test_zero_rows_tiny_and_huge_inputs():
    """Zero vectors map to zero; the float32 norm survives under/overflow of the squares and
    s/||x|| stays finite for tiny rows (1e-35, 1e-30 and 1e30 scale the reconstruction, not
    the codes); subnormal input still gives finite output."""
    for name, kw in [("qsgd", {"s": 3}), ("natural_dithering", {"s": 4})]:
        spec = make(name, **kw)
        z = torch.zeros(3, 17)
        assert torch.equal(spec.apply(z, gen()), z)
        v = torch.randn(17, generator=gen(5))
        base = spec.apply(v, gen())
        for scale in (1e-35, 1e-30, 1e30):
            out = spec.apply(v * scale, gen())
            assert torch.isfinite(out).all()
            assert torch.allclose(out.double() / scale, base.double(), rtol=1e-5, atol=0)
        sub = spec.apply(torch.tensor([1e-41, -3e-42, 0.0]), gen())
        assert torch.isfinite(sub).all() and float(sub.abs().max()) <= 2e-41


# =========================================================================== bits
def test_bits_formulas():
    assert sp.simplify(make("qsgd", s=4).bits() - (32 + D * (1 + sp.ceiling(
        sp.log(sp.Symbol("s", integer=True, positive=True) + 1, 2))))) == 0
    assert make("qsgd", s=4).numeric_bits(100) == 32 + 100 * 4
    assert make("qsgd", s=7).numeric_bits(100) == 32 + 100 * 4
    assert make("qsgd", s=8).numeric_bits(100) == 32 + 100 * 5
    assert make("natural_dithering", s=8).numeric_bits(10) == 32 + 10 * 5
    assert make("unbiased_rounding").numeric_bits(10) == 90     # 9 bits/coord for base 2
    assert make("nearest_rounding").numeric_bits(10) == 90
    # base 1.5: 2 + floor(log_1.5 of the float32 normal range) codes -> 10 bits
    ur = make("unbiased_rounding", base=1.5)
    assert ur.numeric_bits(10) == 10 * (1 + bits_for(ur._ncodes))
    assert make("truncated_uniform", tau=1.0, s=7).numeric_bits(10) == 30   # no float sent
    assert make("truncated_nonuniform", tau=1.0, levels=LEVELS5).numeric_bits(10) == 30


# =========================================================================== unbiasedness
UNBIASED_CASES = [
    ("qsgd", {"s": 1}), ("qsgd", {"s": 3}), ("qsgd", {"s": 200}),
    ("natural_dithering", {"s": 3}), ("natural_dithering", {"s": 5, "r": 3.0}),
    ("unbiased_rounding", {}), ("unbiased_rounding", {"base": 3.0}),
    ("truncated_uniform", {"tau": 1.5, "s": 5}), ("truncated_uniform", {"tau": 2.0, "s": 300}),
    ("truncated_nonuniform", {"tau": 1.0, "levels": LEVELS5}),
]


@pytest.mark.parametrize(("name", "kw"), UNBIASED_CASES)
def test_mean_is_the_target_by_monte_carlo(name, kw):
    """E C(x) = x (T_tau(x) for the truncated ones), per coordinate.

    n = 20000 draws of C(x) for one fixed x in R^16 (seed SEED); coordinate j passes when
    |mean_j - target_j| <= z SE_j with z = bonferroni_z(16) (family-wise level 0.27%);
    coordinates with SE = 0 (deterministic) must match to float32 rounding."""
    spec = make(name, **kw)
    n, d = 20000, 16
    x = torch.randn(d, generator=gen(8)) * 1.3
    x[3] = 0.0
    y = spec.apply(x.expand(n, d), gen()).double()
    target = _mean_target(spec, x).double()
    z = bonferroni_z(d)
    for j in range(d):
        est = mean_se(y[:, j].numpy())
        if est.se == 0.0:
            assert est.mean == pytest.approx(float(target[j]), rel=1e-6, abs=1e-7)
        else:
            v = agree(f"{name}.mean[{j}]", float(target[j]), est, z=z, max_rel_se=None)
            assert v.status.value == "holds", (j, v.predicted, v.measured, v.tolerance)


def test_qsgd_covariance_matches_monte_carlo():
    """Cov[C(v)|v] = diag((||v||/s)^2 f(1-f)) [derived] against the sample covariance.

    v = (0.3, -1.2, 0.5, 0.05, 0.9), s = 2, n = 40000 draws (seed SEED). Each entry of the
    covariance is a mean of products (C_i - v_i)(C_j - v_j) (the mean v is known), tested
    with z = bonferroni_z(15) on its SE; the diagonal is also checked to be non-trivial."""
    spec = make("qsgd", s=2)
    v = [0.3, -1.2, 0.5, 0.05, 0.9]
    cov = spec.covariance(sp.Matrix(v)).subs(spec.substitutions())
    pred = np.array(cov.evalf(), dtype=float)
    n = 40000
    x = torch.tensor(v, dtype=torch.float64)
    y = spec.apply(x.expand(n, 5), gen()).double() - x
    z = bonferroni_z(15)
    for i in range(5):
        for j in range(i, 5):
            est = mean_se((y[:, i] * y[:, j]).numpy())
            tol = z * est.se + 1e-6  # 1e-6: float32 arithmetic of the codec
            assert abs(est.mean - pred[i, j]) <= tol, (i, j, est, pred[i, j])
    assert np.all(np.diag(pred) > 0) and np.count_nonzero(pred - np.diag(np.diag(pred))) == 0
    # exact rational case: v = (1, 1, 1, 1), s = 1 gives r_j = 1/2, so every variance is
    # (||v||/s)^2 / 4 = 1 and the trace ||v||^2 d/(4 s^2) attains the sharp bound
    c1 = make("qsgd", s=1)
    exact = c1.covariance(sp.Matrix([1, 1, 1, 1])).subs(c1.substitutions())
    assert sp.simplify(exact - sp.eye(4)) == sp.zeros(4, 4)
    assert sp.simplify(exact.trace() - 4 * qsgd_omega_sharp(1, 4)) == 0


@pytest.mark.parametrize(("name", "kw", "v"), [
    ("unbiased_rounding", {}, [0.3, -1.2, 0.0, 5.0, 0.75]),
    ("unbiased_rounding", {"base": 3.0}, [0.3, -1.2, 0.0, 5.0, 0.75]),
    ("natural_dithering", {"s": 3}, [0.3, -1.2, 0.02, 0.5, 0.9]),
])
def test_diagonal_covariances_match_monte_carlo(name, kw, v):
    """Diagonal Cov[C(v)|v] of unbiased rounding and natural dithering [derived] against MC
    variances: n = 40000 (seed SEED), z = bonferroni_z(5) on the SE of (C_j - v_j)^2."""
    spec = make(name, **kw)
    pred = np.array(spec.covariance(sp.Matrix(v)).subs(spec.substitutions()).evalf(),
                    dtype=float)
    n = 40000
    x = torch.tensor(v, dtype=torch.float64)
    y = spec.apply(x.expand(n, len(v)), gen()).double() - x
    z = bonferroni_z(len(v))
    for j in range(len(v)):
        est = mean_se((y[:, j] ** 2).numpy())
        assert abs(est.mean - pred[j, j]) <= z * est.se + 1e-6, (j, est, pred[j, j])


# =========================================================================== bad input
@pytest.mark.parametrize(("name", "kw", "match"), [
    ("qsgd", {"s": 0}, "'s' must be >= 1"),
    ("qsgd", {"s": 1.5}, "'s' must be int"),
    ("qsgd", {}, "missing parameter"),
    ("qsgd", {"s": 2, "k": 3}, "unknown parameter"),
    ("natural_dithering", {"s": 128}, "'s' must be <= 127"),
    ("natural_dithering", {"s": 3, "r": 0.5}, "'r' must be >= 1"),
    ("unbiased_rounding", {"base": 1.0}, "'base' must be > 1"),
    ("nearest_rounding", {"base": 1 + 1e-9}, "too close to 1"),
    ("truncated_uniform", {"tau": 0.0, "s": 3}, "'tau' must be > 0"),
    ("truncated_uniform", {"tau": -1.0, "s": 3}, "'tau' must be > 0"),
    ("truncated_uniform", {"tau": 1.0, "s": 0}, "'s' must be >= 1"),
    ("truncated_nonuniform", {"tau": 1.0, "levels": "-1,0.3,0,1"}, "strictly increasing"),
    ("truncated_nonuniform", {"tau": 1.0, "levels": "-1,0,0,1"}, "strictly increasing"),
    ("truncated_nonuniform", {"tau": 1.0, "levels": "-1,0,2"}, "from -tau to tau"),
    ("truncated_nonuniform", {"tau": 1.0, "levels": "1"}, "at least 2"),
    ("truncated_nonuniform", {"tau": 1.0, "levels": "-1,a,1"}, "'levels' must be"),
    ("truncated_nonuniform", {"tau": 0.0, "levels": "-1,1"}, "'tau' must be > 0"),
    ("truncated_nonuniform", {"tau": 1.0}, "missing parameter"),
])
def test_bad_parameters_raise_input_error(name, kw, match):
    with pytest.raises(InputError, match=match):
        make(name, **kw)


@pytest.mark.parametrize(("name", "kw"), SPECS, ids=IDS)
def test_bad_tensors_raise_input_error(name, kw):
    spec = make(name, **kw)
    for bad, match in [(torch.tensor([1.0, float("nan")]), "NaN or infinite"),
                       (torch.tensor([[1.0, float("inf")]]), "NaN or infinite"),
                       (torch.tensor(1.0), "last dimension"),
                       (torch.tensor([1, 2, 3]), "floating-point"),
                       (torch.zeros(3, 0), "d must be >= 1")]:
        with pytest.raises(InputError, match=match):
            spec.encode(bad, gen())
        with pytest.raises(InputError, match=match):
            spec.apply(bad, gen())


def test_natural_dithering_and_rounding_outputs_lie_on_their_grids():
    """Every output of natural dithering is +-||x||_r times a level of ``levels_tensor``
    (0, 2^(1-s), ..., 1); every output of base-2 rounding is 0 or +-2^k."""
    nd = make("natural_dithering", s=4, r=3.0)
    lv = nd.levels_tensor
    assert torch.equal(lv, torch.tensor([0.0, 0.125, 0.25, 0.5, 1.0]))
    x = torch.randn(50, 40, generator=gen(13))
    y = nd.apply(x, gen())
    norm = torch.linalg.vector_norm(x, ord=3.0, dim=-1, keepdim=True)
    assert torch.isin((y.abs() / norm).float(), lv).all()
    ur = make("unbiased_rounding")
    z = ur.apply(x, gen()).abs()
    nz = z[z > 0]
    assert torch.equal(torch.exp2(torch.round(torch.log2(nz))), nz)
    assert torch.isin(nz, ur.levels_tensor).all()
