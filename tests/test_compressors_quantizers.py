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

import json
import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check.stats import agree, at_most, bonferroni_z, mean_se
from theorykit.compressors import D, make
from theorykit.compressors.bitpack import (
    bits_for,
    pack_codes,
    pack_sign_plane,
    pack_uint,
    unpack_codes,
    unpack_sign_plane,
    unpack_uint,
)
from theorykit.compressors.catalog import block_engine
from theorykit.compressors.catalog.quantizers import (
    NaturalDithering,
    TruncatedNonuniform,
    qsgd_omega_sharp,
)
from theorykit.compressors.catalog.rounding import (
    NearestRounding,
    UnbiasedRounding,
    derive_nearest_constants,
    derive_unbiased_omega,
)
from theorykit.compressors.certify import certify
from theorykit.compressors.classes import Unbiased
from theorykit.compressors.registry import catalog
from theorykit.errors import InputError

SEED = 20251
LEVELS5 = "-1,-0.3,0,0.3,1"

SPECS = [
    ("qsgd", {"s": 1}),
    ("qsgd", {"s": 4}),
    ("qsgd", {"s": 200}),          # codes of 8 bits, general (non fixed-point) rounding path
    ("qsgd", {"s": 1000}),         # codes of 10 bits (int32 codes, generic packer)
    ("natural_dithering", {"s": 3}),
    ("natural_dithering", {"s": 6, "r": 1.0}),
    ("unbiased_rounding", {}),
    ("unbiased_rounding", {"base": 3.0}),
    ("nearest_rounding", {}),
    ("nearest_rounding", {"base": 1.5}),
    ("truncated_uniform", {"tau": 1.5, "s": 5}),
    ("truncated_uniform", {"tau": 2.0, "s": 300}),
    ("truncated_nonuniform", {"tau": 1.0, "levels": LEVELS5}),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for n, kw in SPECS]


def _gen(seed: int = SEED) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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
    x = torch.randn(*shape, generator=_gen(1)) * 3
    x.view(-1)[0] = 0.0
    if x.numel() > 1:
        x.view(-1)[1] = -0.0
    p = spec.encode(x, _gen())
    y = spec.decode(p)
    z = spec.apply(x, _gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y.view(torch.int32), z.view(torch.int32))  # bitwise, incl. -0.0
    d = shape[-1]
    batch = x.numel() // d
    assert p.nbits == batch * spec.numeric_bits(d)
    assert 0 <= p.nbytes * 8 - p.nbits < 8 * len(p.fields)
    # a different generator state gives a different message (randomized specs; d >= 10
    # coordinates makes an identical draw astronomically unlikely)
    if not spec.randomized:
        assert torch.equal(spec.apply(x, _gen(2)), z)
    elif x.numel() >= 30:
        assert not torch.equal(spec.apply(x, _gen(2)), z)


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
        x = torch.randn(*shape, generator=_gen(11)) * 2
        p = spec.encode(x, _gen())
        assert torch.equal(spec.decode(p), spec.apply(x, _gen()))
        assert p.nbits == (x.numel() // shape[-1]) * spec.numeric_bits(shape[-1])
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            q = spec.encode(x, _gen())
        finally:
            torch.set_num_threads(threads)
        assert all(torch.equal(p.fields[k].data, q.fields[k].data) for k in p.fields)


@pytest.mark.parametrize(("name", "kw"), [SPECS[1], SPECS[4], SPECS[6], SPECS[10], SPECS[12]])
def test_large_input_spans_several_segments(name, kw):
    """n = 3 x 400001 > 2^20: real segment boundaries (inside a row), parallel path."""
    spec = make(name, **kw)
    x = torch.randn(3, 400001, generator=_gen(12))
    p = spec.encode(x, _gen())
    assert torch.equal(spec.decode(p), spec.apply(x, _gen()))
    assert p.nbits == 3 * spec.numeric_bits(400001)


@pytest.mark.parametrize(("name", "kw"), SPECS[:1] + SPECS[4:5] + SPECS[6:7] + SPECS[10:11])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_dtypes_round_trip(name, kw, dtype):
    spec = make(name, **kw)
    x = (torch.randn(4, 33, generator=_gen(3)) * 2).to(dtype)
    y = spec.decode(spec.encode(x, _gen()))
    assert y.dtype == dtype and torch.equal(y, spec.apply(x, _gen()))


def test_default_generator_is_used_when_none():
    spec = make("qsgd", s=4)
    x = torch.randn(100, generator=_gen(4))
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
        assert torch.equal(spec.apply(z, _gen()), z)
        v = torch.randn(17, generator=_gen(5))
        base = spec.apply(v, _gen())
        for scale in (1e-35, 1e-30, 1e30):
            out = spec.apply(v * scale, _gen())
            assert torch.isfinite(out).all()
            assert torch.allclose(out.double() / scale, base.double(), rtol=1e-5, atol=0)
        sub = spec.apply(torch.tensor([1e-41, -3e-42, 0.0]), _gen())
        assert torch.isfinite(sub).all() and float(sub.abs().max()) <= 2e-41


@pytest.mark.parametrize("width", list(range(1, 13)))
def test_code_packing_is_the_bitpack_layout(width):
    """The fast packers give byte for byte :func:`bitpack.pack_uint`'s layout (MSB first)."""
    rng = np.random.default_rng(width)
    for n in (0, 1, 7, 8, 9, 17, 1001):
        c = rng.integers(0, 1 << width, n)
        codes = torch.from_numpy(c.astype(np.uint8 if width <= 8 else np.int32))
        packed = pack_codes(codes, width)
        assert torch.equal(packed, pack_uint(torch.from_numpy(c), width))
        assert torch.equal(unpack_codes(packed, width, n).to(torch.int64),
                           unpack_uint(packed, width, n))


def test_sign_plane_round_trip():
    signs = (torch.rand(1003, generator=_gen(6)) < 0.5).to(torch.uint8) * 255
    packed = pack_sign_plane(signs)
    assert packed.numel() == math.ceil(1003 / 8)
    assert torch.equal(unpack_sign_plane(packed, 1003), signs)


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
    x = torch.randn(d, generator=_gen(8)) * 1.3
    x[3] = 0.0
    y = spec.apply(x.expand(n, d), _gen()).double()
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
    y = spec.apply(x.expand(n, 5), _gen()).double() - x
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
    y = spec.apply(x.expand(n, len(v)), _gen()).double() - x
    z = bonferroni_z(len(v))
    for j in range(len(v)):
        est = mean_se((y[:, j] ** 2).numpy())
        assert abs(est.mean - pred[j, j]) <= z * est.se + 1e-6, (j, est, pred[j, j])


# =========================================================================== symbolic constants
def test_unbiased_rounding_omega_is_derived_and_closed_form():
    base = make("unbiased_rounding").sym("base")
    om = derive_unbiased_omega()
    assert sp.simplify(om - (base - 1) ** 2 / (4 * base)) == 0
    assert sp.simplify(make("unbiased_rounding").omega() - om) == 0
    for b, expected in [(2, sp.Rational(1, 8)), (3, sp.Rational(1, 3)), (sp.Rational(3, 2),
                                                                         sp.Rational(1, 24))]:
        assert om.subs(base, b) == expected
    # numerically: the sup over a fine grid of t in [1, b] of (t-1)(b-t)/t^2
    for b in (1.1, 2.0, 3.0, 10.0):
        t = np.linspace(1.0, b, 200001)
        assert np.max((t - 1) * (b - t) / t**2) == pytest.approx(float(om.subs(base, b)),
                                                                 rel=1e-8)


def test_unbiased_rounding_omega_is_attained_at_harmonic_points():
    """The bound is tight: at |x_j| = (4/3) 2^k (the harmonic mean of the cell) the error
    ratio's mean is exactly 1/8. n = 4000 draws of x in R^64 (seed SEED); agree within
    3 SE (plus 1e-6 float32 allowance)."""
    spec = make("unbiased_rounding")
    k = torch.arange(64) % 9 - 4
    x = (4.0 / 3.0) * 2.0 ** k.double() * torch.where(k % 2 == 0, 1.0, -1.0).double()
    n = 4000
    y = spec.apply(x.expand(n, 64), _gen()).double()
    ratio = ((y - x) ** 2).sum(1) / (x**2).sum()
    v = agree("unbiased_rounding.omega_tight", 1 / 8, mean_se(ratio.numpy()), model_tol=1e-6)
    assert v.status.value == "holds", (v.measured, v.tolerance)


def test_nearest_rounding_constants_are_derived_and_closed_form():
    base = make("nearest_rounding").sym("base")
    c = derive_nearest_constants()
    r_min, r_max = 2 / (1 + base), 2 * base / (1 + base)
    assert sp.simplify(c["r_min"] - r_min) == 0
    assert sp.simplify(c["r_max"] - r_max) == 0
    assert sp.simplify(c["alpha"] - r_min**2) == 0
    assert sp.simplify(c["gamma"] - r_min) == 0 and sp.simplify(c["beta"] - r_max) == 0
    assert sp.simplify(c["delta"] - (1 + base) ** 2 / (4 * base)) == 0
    # B3's delta is the digest's sup_k (a_k + a_{k+1})^2 / (4 a_k a_{k+1}) on a_k = base^k
    a = sp.Symbol("a", positive=True)
    assert sp.simplify(c["delta"] - (a + base * a) ** 2 / (4 * a * base * a)) == 0
    num = {cl.name: cl for cl in make("nearest_rounding").numeric_classes()}
    assert num["B1"].alpha == sp.Rational(4, 9) and num["B1"].beta == sp.Rational(4, 3)
    assert num["B2"].gamma == sp.Rational(2, 3) and num["B3"].delta == sp.Rational(9, 8)


def _dense_magnitudes(base: float) -> torch.Tensor:
    """Many values per cell over 6 cells, plus the exact midpoints and their neighbours."""
    lv = np.float32(base) ** np.arange(-3, 4, dtype=np.float32)
    pts = [np.linspace(lv[i], lv[i + 1], 4001, dtype=np.float32) for i in range(len(lv) - 1)]
    mids = ((lv[:-1].astype(np.float64) + lv[1:]) / 2).astype(np.float32)
    pts += [mids, np.nextafter(mids, np.float32(0)), np.nextafter(mids, np.float32(np.inf))]
    return torch.from_numpy(np.concatenate(pts))


@pytest.mark.parametrize("base", [2.0, 3.0, 1.5])
def test_nearest_rounding_ratio_bounds_on_a_grid(base):
    """C_j/x_j in [r_min, r_max] for every value of a dense grid (deterministic, float64
    ratios of the float32 codec); both ends are approached (r_max attained at midpoints).
    Tolerance: exact for base 2 (all grid points and midpoints are float32 numbers),
    4e-7 relative for other bases (float32 rounding of the grid)."""
    spec = make("nearest_rounding", base=base)
    t = _dense_magnitudes(base)
    x = torch.cat([t, -t])
    ratio = (spec.apply(x).double() / x.double()).numpy()
    r_min, r_max = 2 / (1 + base), 2 * base / (1 + base)
    tol = 0.0 if base == 2.0 else 4e-7
    assert ratio.min() >= r_min * (1 - tol) and ratio.max() <= r_max * (1 + tol)
    assert ratio.min() <= r_min * (1 + 1e-5) and ratio.max() >= r_max * (1 - tol)
    # the class inequalities hold exactly on this x (deterministic compressor)
    xd, cd = x.double(), spec.apply(x).double()
    nx, nc, inner = float(xd @ xd), float(cd @ cd), float(cd @ xd)
    c = {k: float(v.subs(spec.sym("base"), sp.nsimplify(base)))
         for k, v in derive_nearest_constants().items()}
    slack = 1e-6 if base != 2.0 else 1e-12
    assert nc >= c["alpha"] * nx * (1 - slack) and nc <= c["beta"] * inner * (1 + slack)
    assert inner >= c["gamma"] * nx * (1 - slack)
    assert float(((cd - xd) ** 2).sum()) <= (1 - 1 / c["delta"]) * nx * (1 + slack)


def test_base2_bit_path_equals_general_grid_path():
    """Base 2 uses float32 bit arithmetic; the general table path (forced here) gives the
    same codes and values, including subnormals, zero and values near float32's max."""
    x = torch.randn(3, 500, generator=_gen(9)) * 10 ** (3 * torch.randn(3, 500,
                                                                      generator=_gen(10)))
    x = torch.cat([x.reshape(-1), torch.tensor([0.0, -0.0, 1e-40, -3e-39, 3e38, -3.4e38,
                                                1.5, 1.4999999, 3.0, 2.0 ** -127])])
    for cls in (UnbiasedRounding, NearestRounding):
        fast, slow = cls(), cls()
        vals = np.float32(2.0) ** np.arange(-126, 128).astype(np.float32)
        ext = np.concatenate([[0.0], vals, [np.inf]]).astype(np.float32)
        slow._pow2, slow._kmin, slow._ncodes, slow._inv_lb = False, -126, 255, 1.0
        slow._table = torch.from_numpy(ext)
        slow._mids = torch.from_numpy(((ext[:-1].astype(np.float64) + ext[1:]) / 2)
                                      .astype(np.float32))
        p1, p2 = fast.encode(x, _gen()), slow.encode(x, _gen())
        assert torch.equal(p1.fields["codes"].data, p2.fields["codes"].data)
        assert torch.equal(fast.decode(p1), slow.decode(p2))


def test_qsgd_omega_symbolic_and_numeric():
    spec = make("qsgd", s=4)
    s = spec.sym("s")
    assert sp.simplify(spec.omega() - sp.Min(D / s**2, sp.sqrt(D) / s)) == 0
    assert float(spec.omega().subs(spec.substitutions(100))) == pytest.approx(2.5)
    assert float(spec.omega().subs(spec.substitutions(4))) == pytest.approx(0.25)
    # the sharper derived bound never exceeds the paper's
    for sv in (1, 2, 4, 16):
        for dv in (1, 4, 16, 100, 10**4):
            sharp = float(qsgd_omega_sharp(sv, dv))
            paper = float(spec.omega().subs({s: sv, D: dv}))
            assert sharp <= paper + 1e-12


def test_qsgd_variance_never_exceeds_the_sharp_bound():
    """E||C(x)-x||^2/||x||^2 <= min(d/(4 s^2), sqrt(d)/s) [derived] at the worst cases:
    all coordinates with r_j = 1/2 (equal magnitudes, d = 4 s^2: the d/(4s^2) branch is
    attained) and a spike. n = 4000 draws (seed SEED), one-sided test with z = 3."""
    for s, d in [(2, 16), (3, 36)]:
        spec = make("qsgd", s=s)
        x = torch.ones(d, dtype=torch.float64)     # r_j = s/sqrt(d) = 1/2
        y = spec.apply(x.expand(4000, d), _gen()).double()
        est = mean_se((((y - x) ** 2).sum(1) / (x @ x)).numpy())
        bound = float(qsgd_omega_sharp(s, d))
        assert at_most("qsgd.sharp", bound, est).status.value == "holds"
        v = agree("qsgd.sharp_attained", bound, est, model_tol=1e-6)
        assert v.status.value == "holds", (est, bound)


def test_natural_dithering_omega_forms():
    """With r = 2 the implemented omega equals the digest's; the min(r, 2) only matters for
    r > 2. Symbolic identities are checked with simplify, then numbers."""
    nd = NaturalDithering(s=4)
    s, r = nd.sym("s"), nd.sym("r")
    a = D ** (1 / sp.Min(r, 2)) * 2 ** (1 - s)
    assert sp.simplify(nd.omega() - (sp.Rational(1, 8) + a * sp.Min(1, a))) == 0
    sub2 = nd.substitutions(1000)
    assert sp.simplify((nd.omega() - nd.omega_digest()).subs(sub2)) == 0
    om = float(nd.omega().subs(sub2))
    assert om == pytest.approx(1 / 8 + math.sqrt(1000) / 8)
    sharp = float(nd.omega_sharp().subs(sub2))
    assert sharp <= om


def test_natural_dithering_digest_exponent_is_contradicted_for_r_above_2():
    """Counterexample to the digest's omega with d^(1/r) (r = 8, d = 1000, s = 4):
    x = (1, e, ..., e), e = 2^-4, puts 999 coordinates in the bottom cell [0, 1/8] with
    variance ~1/256 each. Derived error ratio ~ (999/256)/(1 + 999/256) = 0.796; digest
    omega = 0.213; the implemented omega (d^(1/min(r,2))) = 4.08 holds.
    n = 2000 draws (seed SEED), one-sided tests with z = 3, plus the certifier."""
    spec = make("natural_dithering", s=4, r=8.0)
    d = 1000
    x = torch.full((d,), 2.0**-4, dtype=torch.float64)
    x[0] = 1.0
    y = spec.apply(x.expand(2000, d), _gen()).double()
    est = mean_se((((y - x) ** 2).sum(1) / (x @ x)).numpy())
    digest = float(spec.omega_digest().subs(spec.substitutions(d)))
    implemented = float(spec.omega().subs(spec.substitutions(d)))
    assert digest == pytest.approx(0.2129, abs=1e-4)
    assert est.mean == pytest.approx((999 / 256) / (1 + 999 / 256), rel=0.01)
    assert at_most("nd.digest", digest, est).status.value == "contradicted"
    assert at_most("nd.implemented", implemented, est).status.value == "holds"

    class DigestOmega(NaturalDithering):
        name = "natural_dithering_digest_test"

        def classes(self):
            return (Unbiased(self.omega_digest()),)

    rep = certify(DigestOmega(s=4, r=8.0), d=d, n_samples=200, seed=SEED,
                  inputs={"counterexample": x})
    assert rep.constant("U.omega").status == "contradicted"


@pytest.mark.slow
def test_certifier_accepts_every_claimed_constant():
    """The Monte Carlo certifier (default input suite, d = 16, n = 400, seed SEED) finds no
    contradiction in the claimed classes of the class-bearing specs."""
    for name, kw in [("qsgd", {"s": 2}), ("natural_dithering", {"s": 3}),
                     ("natural_dithering", {"s": 3, "r": 8.0}), ("unbiased_rounding", {}),
                     ("unbiased_rounding", {"base": 3.0}), ("nearest_rounding", {}),
                     ("nearest_rounding", {"base": 1.5})]:
        rep = certify(make(name, **kw), d=16, n_samples=400, seed=SEED)
        assert rep.status.value == "holds", (name, kw, [c.summary() for c in rep.constants])


def test_truncated_quantizers_claim_no_class():
    """No class holds for all x (small-x variance blows up relative to ||x||^2); the specs
    say so by returning no class, and the blow-up is visible numerically."""
    tu = make("truncated_uniform", tau=1.0, s=3)     # 0 is not a level: C(0) != 0
    tn = make("truncated_nonuniform", tau=1.0, levels=LEVELS5)
    assert tu.classes() == () and tn.classes() == ()
    assert not tu.is_unbiased
    x = torch.full((8,), 1e-3, dtype=torch.float64)
    for spec in (tu, tn):
        y = spec.apply(x.expand(2000, 8), _gen()).double()
        ratio = float((((y - x) ** 2).sum(1) / (x @ x)).mean())
        assert ratio > 100  # E||C - x||^2 / ||x||^2 is far beyond any omega < 1 or B3


# =========================================================================== levels
def test_truncated_uniform_levels_and_truncation():
    spec = make("truncated_uniform", tau=1.5, s=5)
    lv = spec.levels_tensor
    assert lv.dtype == torch.float32 and lv.numel() == 6
    assert torch.allclose(lv.double(), torch.linspace(-1.5, 1.5, 6, dtype=torch.float64),
                          atol=1e-6)
    x = torch.tensor([-10.0, -1.5, 0.2, 1.5, 7.0])
    assert torch.equal(spec.truncate(x), torch.tensor([-1.5, -1.5, 0.2, 1.5, 1.5]))
    y = spec.apply(x.expand(200, 5), _gen())
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
    y = a.apply(torch.tensor([-5.0, -0.3, 0.1, 0.3, 5.0]).expand(100, 5), _gen())
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
        rnd = torch.randint(0, 1 << 24, x.shape, generator=_gen(seed), dtype=torch.int32)
        fast = torch.empty(x.shape, dtype=torch.uint8)
        general = torch.empty(x.shape, dtype=torch.uint8)
        spec._encode_block_fast(x, rnd.clone(), fast)
        spec._encode_block_general(x, rnd.clone(), general)
        assert torch.equal(fast, general)
    ref = TruncatedNonuniform(tau=tau, levels=levels)
    ref._jtab = None                                                # the general kernel only
    xs = torch.from_numpy(pts[:40000].copy()).view(8, -1)
    assert torch.equal(spec.encode(xs, _gen(5)).fields["codes"].data,
                       ref.encode(xs, _gen(5)).fields["codes"].data)
    assert torch.equal(spec.apply(xs, _gen(6)), ref.apply(xs, _gen(6)))


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
            spec.encode(bad, _gen())
        with pytest.raises(InputError, match=match):
            spec.apply(bad, _gen())


def test_natural_dithering_and_rounding_outputs_lie_on_their_grids():
    """Every output of natural dithering is +-||x||_r times a level of ``levels_tensor``
    (0, 2^(1-s), ..., 1); every output of base-2 rounding is 0 or +-2^k."""
    nd = make("natural_dithering", s=4, r=3.0)
    lv = nd.levels_tensor
    assert torch.equal(lv, torch.tensor([0.0, 0.125, 0.25, 0.5, 1.0]))
    x = torch.randn(50, 40, generator=_gen(13))
    y = nd.apply(x, _gen())
    norm = torch.linalg.vector_norm(x, ord=3.0, dim=-1, keepdim=True)
    assert torch.isin((y.abs() / norm).float(), lv).all()
    ur = make("unbiased_rounding")
    z = ur.apply(x, _gen()).abs()
    nz = z[z > 0]
    assert torch.equal(torch.exp2(torch.round(torch.log2(nz))), nz)
    assert torch.isin(nz, ur.levels_tensor).all()
