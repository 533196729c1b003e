"""Sparsifier, sign and natural-compression families of the catalog (issue 2, part A).

Every statistical check states its sample size ``n``, its seed and a tolerance of 4 standard
errors (``theorykit.check.stats.mean_se``); with fixed seeds the outcomes are deterministic.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check.stats import mean_se
from theorykit.compressors import D, catalog, make
from theorykit.compressors.bitpack import pack_bits, pack_uint
from theorykit.compressors.catalog.natural import (
    _natural_values_torch,
    natural_codes,
    natural_omega,
    natural_values,
)
from theorykit.compressors.catalog.sign import terngrad_omega, terngrad_worst_case
from theorykit.compressors.classes import B1, B2, B3, SignType, Unbiased
from theorykit.compressors.codec_utils import (
    all_finite,
    lookup_codes,
    pack_codes,
    pack_negative,
    random_bits,
    uniform,
    unpack_codes,
)
from theorykit.errors import InputError

Z = 4.0  # tolerance in standard errors for every Monte Carlo check below

SPECS = [
    ("bernoulli", {"p": 0.3}),
    ("biased_bernoulli", {"p": 0.3}),
    ("randk", {"k": 3}),
    ("randk_unscaled", {"k": 3}),
    ("topk", {"k": 3}),
    ("sign", {}),
    ("scaled_sign", {}),
    ("terngrad", {}),
    ("natural", {}),
]
IDS = [s[0] for s in SPECS]
k_, p_ = sp.Symbol("k", integer=True, positive=True), sp.Symbol("p", positive=True)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _bits_view(t: torch.Tensor) -> torch.Tensor:
    """The raw bits of a float tensor (so that -0.0 != +0.0)."""
    return t.view({torch.float64: torch.int64, torch.float32: torch.int32,
                   torch.bfloat16: torch.int16, torch.float16: torch.int16}[t.dtype])


# --------------------------------------------------------------------------- catalog
def test_registered():
    names = set(catalog())
    assert {n for n, _ in SPECS} <= names


# --------------------------------------------------------------------------- round trip
@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("shape", [(17,), (3, 4, 17), (1, 8), (5, 3)])
def test_decode_encode_equals_apply_bitwise(name, params, dtype, shape):
    spec = make(name, **params)
    x = torch.randn(*shape, generator=_gen(0)).to(dtype)
    x.view(-1)[0] = 0.0  # exercise the zero conventions
    payload = spec.encode(x, _gen(11))
    y = spec.decode(payload)
    z = spec.apply(x, _gen(11))
    assert y.shape == x.shape and y.dtype == dtype and z.dtype == dtype
    assert torch.equal(_bits_view(y), _bits_view(z))
    # the packed message really is packed: at most 7 padding bits per field
    assert 0 <= payload.nbytes * 8 - payload.nbits < 8 * len(payload.fields)


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
def test_random_specs_use_the_generator(name, params):
    spec = make(name, **params)
    x = torch.randn(4, 40, generator=_gen(1))
    a, b = spec.apply(x, _gen(1)), spec.apply(x, _gen(2))
    assert torch.equal(a, spec.apply(x, _gen(1)))
    assert torch.equal(a, b) == (not spec.randomized)


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
def test_rows_are_compressed_independently(name, params):
    """Row i of C(X) depends only on row i of X: changing the other rows (same generator
    state, so the same random numbers) leaves it unchanged, for all rows at once."""
    spec = make(name, **params)
    x = torch.randn(6, 20, generator=_gen(3)) * torch.logspace(-2, 2, 6).unsqueeze(1)
    y = spec.apply(x, _gen(4))
    for i in range(6):
        x2 = 1e3 * torch.randn(6, 20, generator=_gen(100 + i))
        x2[i] = x[i]
        assert torch.equal(spec.apply(x2, _gen(4))[i], y[i])
    if not spec.randomized:
        for i in range(6):
            assert torch.equal(y[i], spec.apply(x[i]))


# --------------------------------------------------------------------------- definitions
def test_topk_matches_independent_definition():
    x = torch.randn(7, 50, generator=_gen(5))  # distinct magnitudes a.s.
    k = 6
    y = make("topk", k=k).apply(x)
    xn = x.numpy()
    for i in range(7):
        keep = np.argsort(-np.abs(xn[i]))[:k]
        ref = np.zeros(50, dtype=np.float32)
        ref[keep] = xn[i, keep]
        np.testing.assert_array_equal(y[i].numpy(), ref)


def test_sign_and_scaled_sign_match_definitions():
    x = torch.randn(4, 33, generator=_gen(6))
    x[0, :3] = torch.tensor([0.0, -0.0, 2.0])
    s = make("sign").apply(x)
    ref = np.where(x.numpy() < 0, -1.0, 1.0)  # sign(0) = +1 by convention
    np.testing.assert_array_equal(s.numpy(), ref)
    ss = make("scaled_sign").decode(make("scaled_sign").encode(x))
    scale = np.abs(x.numpy().astype(np.float64)).sum(1, keepdims=True) / 33
    np.testing.assert_allclose(ss.numpy(), ref * scale, rtol=2e-7)
    # sign is scale invariant (not positively homogeneous)
    assert torch.equal(make("sign").apply(3.0 * x), s)


def test_randk_keeps_exactly_k_scaled_coordinates():
    x = torch.randn(100, 12, generator=_gen(7))
    y = make("randk", k=4).apply(x, _gen(8))
    nz = y != 0
    assert torch.all(nz.sum(1) == 4)
    torch.testing.assert_close(y[nz], (x * 3.0)[nz], rtol=0, atol=0)
    yu = make("randk_unscaled", k=4).apply(x, _gen(8))
    assert torch.equal(yu != 0, nz)  # same generator state -> same subset
    assert torch.equal(yu[nz], x[nz])


def test_terngrad_values_are_ternary():
    x = torch.randn(9, 30, generator=_gen(9))
    y = make("terngrad").apply(x, _gen(10))
    m = x.abs().amax(1, keepdim=True)
    assert torch.all((y == 0) | (y == m) | (y == -m))
    assert torch.all((y == 0) | (torch.sign(y) == torch.sign(x)))
    assert torch.equal(make("terngrad").apply(torch.zeros(2, 5)), torch.zeros(2, 5))


def test_natural_rounds_to_neighbouring_powers_of_two():
    x = torch.randn(8, 64, generator=_gen(11)) * 1e3
    y = make("natural").apply(x, _gen(12))
    e = torch.floor(torch.log2(x.abs().double()))
    lo, hi = 2.0**e, 2.0 ** (e + 1)
    ay = y.abs().double()
    assert torch.all((ay == lo) | (ay == hi))
    assert torch.all(torch.sign(y) == torch.sign(x))
    pw = torch.tensor([1.0, -0.5, 2.0**-126, 2.0**127, 0.0, 4096.0])
    assert torch.equal(make("natural").apply(pw, _gen(0)), pw)  # powers of two are fixed
    # clamping at the top of the float32 range (documented, biased)
    assert make("natural").apply(torch.tensor([3e38]))[0].item() == 2.0**127


def test_natural_float32_and_float64_paths_agree():
    g = _gen(13)
    x = torch.randn(4, 500, generator=g, dtype=torch.float64)
    x = (x * torch.exp(25 * torch.randn(4, 500, generator=g, dtype=torch.float64)))
    x = x.clamp(-3e38, 3e38).float()
    x[0, :6] = torch.tensor([1e-40, -1e-42, 0.0, 2.0**-126, 2.0**127, -1.5 * 2.0**127])
    r = random_bits(tuple(x.shape), 23, _gen(14), x.device)
    n32, c32 = natural_codes(x, r.clone())
    n64, c64 = natural_codes(x.double(), r.clone())
    assert torch.equal(c32, c64) and torch.equal(n32, n64)


def test_natural_value_branches_agree():
    """The CPU table lookup and the device-agnostic bit construction give the same bits
    for every (sign, code) pair."""
    code = torch.arange(255, dtype=torch.uint8).repeat(2)
    neg = torch.arange(510) >= 255
    a, b = natural_values(neg, code), _natural_values_torch(neg, code)
    assert torch.equal(a.view(torch.int32), b.view(torch.int32))
    ref = torch.where(code == 0, 0.0, 2.0 ** (code.double() - 127))
    assert torch.equal(a.abs().double(), ref) and torch.equal(torch.signbit(a), neg)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
def test_cuda_round_trip(name, params):
    spec = make(name, **params)
    x = torch.randn(3, 4, 50, device="cuda")
    g1, g2 = (torch.Generator(device="cuda").manual_seed(5) for _ in range(2))
    y, z = spec.decode(spec.encode(x, g1)), spec.apply(x, g2)
    assert y.device.type == "cuda" and torch.equal(_bits_view(y), _bits_view(z))
    if not spec.randomized:
        assert torch.equal(y.cpu(), spec.apply(x.cpu()))


# --------------------------------------------------------------------------- bits
def _index_bits(d: int) -> int:
    return (d - 1).bit_length()  # ceil(log2 d), exact integer arithmetic


FIXED_BITS = {
    "randk": lambda d, k: k * (32 + _index_bits(d)),
    "randk_unscaled": lambda d, k: k * (32 + _index_bits(d)),
    "topk": lambda d, k: k * (32 + _index_bits(d)),
    "sign": lambda d, k: d,
    "scaled_sign": lambda d, k: d + 32,
    "terngrad": lambda d, k: 2 * d + 32,
    "natural": lambda d, k: 9 * d,
}


@pytest.mark.parametrize("name", sorted(FIXED_BITS))
@pytest.mark.parametrize("d", [1, 2, 5, 8, 1000, 1024, 1025])
def test_fixed_size_bits(name, d):
    k = min(3, d)
    spec = make(name, k=k) if "k" in {p.name for p in catalog()[name].params} else make(name)
    expected = FIXED_BITS[name](d, k)
    assert spec.numeric_bits(d) == expected
    x = torch.randn(4, d, generator=_gen(d))
    payload = spec.encode(x, _gen(1))
    assert payload.nbits == 4 * expected
    assert 0 <= payload.nbytes * 8 - payload.nbits < 8 * len(payload.fields)


def test_bits_formulas_symbolic():
    ceil_log = sp.ceiling(sp.log(D, 2))
    for name in ("randk", "randk_unscaled", "topk"):
        assert sp.simplify(make(name, k=2).bits() - k_ * (32 + ceil_log)) == 0
    assert sp.simplify(make("bernoulli", p=0.5).bits() - (D + 32 * p_ * D)) == 0
    assert sp.simplify(make("terngrad").bits() - (2 * D + 32)) == 0


@pytest.mark.parametrize("name", ["bernoulli", "biased_bernoulli"])
def test_bernoulli_bits_realised_and_expected(name):
    """nbits is the realised size d + 32|S| per row; its mean is bits() = d + 32 p d.
    n = 4000 rows, seed 21, tolerance 4 SE."""
    p, d, n = 0.3, 50, 4000
    spec = make(name, p=p)
    x = torch.randn(n, d, generator=_gen(20))  # no zeros a.s.
    payload = spec.encode(x, _gen(21))
    kept = (spec.decode(payload) != 0).sum(1).numpy()
    per_row = d + 32 * kept
    assert payload.nbits == int(per_row.sum())
    est = mean_se(per_row)
    expected = float(spec.bits().subs({spec.sym("p"): p, D: d}))
    assert abs(est.mean - expected) <= Z * est.se, (est, expected)


# --------------------------------------------------------------------------- bad input
def test_bad_parameters_raise_input_error():
    with pytest.raises(InputError, match=r"k=5 exceeds d=3"):
        make("topk", k=5).apply(torch.randn(3))
    with pytest.raises(InputError, match=r"k=5 exceeds d=3"):
        make("randk", k=5, d=3)
    with pytest.raises(InputError, match=r"k=5 exceeds d=3"):
        make("randk_unscaled", k=5).encode(torch.randn(2, 3))
    for bad_k in (0, -1, 2.5):
        with pytest.raises(InputError, match="'k'"):
            make("randk", k=bad_k)
    with pytest.raises(InputError, match="missing"):
        make("topk").apply(torch.randn(3))
    for bad_p in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="'p'"):
            make("bernoulli", p=bad_p)
    assert make("bernoulli", p=1.0).apply(torch.ones(4)).sum().item() == 4.0


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
def test_bad_input_tensors_raise_input_error(name, params):
    spec = make(name, **params)
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.randn(2, 5)
        x[1, 2] = bad
        with pytest.raises(InputError, match="NaN or infinite"):
            spec.encode(x)
        with pytest.raises(InputError, match="NaN or infinite"):
            spec.apply(x)
    with pytest.raises(InputError, match="floating-point"):
        spec.apply(torch.arange(10).view(2, 5))
    with pytest.raises(InputError):
        spec.apply(torch.tensor(1.0))
    with pytest.raises(InputError):
        spec.apply(torch.zeros(3, 0))


# --------------------------------------------------------------------------- constants
CLOSED_FORMS = {
    "bernoulli": [Unbiased(1 / p_ - 1), B1(1 / p_, 1 / p_), B2(1, 1 / p_)],
    "biased_bernoulli": [B1(p_, 1), B2(p_, 1), B3(1 / p_)],
    "randk": [Unbiased(D / k_ - 1), B1(D / k_, D / k_), B2(1, D / k_)],
    "randk_unscaled": [B1(k_ / D, 1), B2(k_ / D, 1), B3(D / k_)],
    "topk": [B1(k_ / D, 1), B2(k_ / D, 1), B3(D / k_)],
    "scaled_sign": [B1(1 / D, 1), B2(1 / D, 1), B3(D)],
    "terngrad": [Unbiased((sp.sqrt(D) - 1) / 2), B1(1, (sp.sqrt(D) + 1) / 2),
                 B2(1, (sp.sqrt(D) + 1) / 2)],
    "natural": [Unbiased(sp.Rational(1, 8)), B1(1, sp.Rational(9, 8)),
                B2(1, sp.Rational(9, 8))],
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_symbolic_constants_are_the_closed_forms(name):
    params = dict(dict(SPECS)[name])
    spec = make(name, **params)
    got = {c.name: c for c in spec.classes()}
    want = CLOSED_FORMS[name]
    assert sorted(got) == sorted(c.name for c in want)
    subs = {D: 40, k_: 3, p_: sp.Rational(3, 10)}
    for w in want:
        g = got[w.name]
        for key, val in w.constants().items():
            assert sp.simplify(g.constants()[key] - val) == 0, (name, w.name, key)
            assert math.isclose(float(g.constants()[key].subs(subs)), float(val.subs(subs)))


def test_sign_is_sign_type_only():
    spec = make("sign")
    assert spec.is_sign_type and not spec.is_unbiased
    assert [type(c) for c in spec.classes()] == [SignType]


def test_terngrad_omega_derivation_symbolic():
    """The stationarity equation n a^2 + 2 a - 1 = 0 (n = d - 1) and g(a*) - 1 = omega."""
    a, n = sp.symbols("a n", positive=True)
    g = (1 + n * a) / (1 + n * a**2)
    roots = [r for r in sp.solve(sp.numer(sp.together(sp.diff(g, a))), a)
             if r.subs(n, 3).is_positive]
    assert len(roots) == 1
    a_star = sp.simplify(roots[0].subs(n, D - 1))
    assert sp.simplify(a_star - 1 / (sp.sqrt(D) + 1)) == 0
    assert sp.simplify(g.subs(n, D - 1).subs(a, a_star) - 1 - terngrad_omega()) == 0
    # the maximiser lies in [0, 1] for every d >= 1 (needed: |x_j| <= ||x||_inf)
    assert all(0 < float(a_star.subs(D, d)) <= 1 for d in range(2, 50))


def _terngrad_ratio(x: np.ndarray) -> float:
    a = np.abs(x)
    return float((a.max() * a.sum() - (a**2).sum()) / (a**2).sum())


@pytest.mark.parametrize("d", [2, 3, 5, 10])
def test_terngrad_omega_is_the_numerical_supremum(d):
    """Maximise the exact variance ratio over x with 8 random starts (seed 30):
    the optimum equals (sqrt(d)-1)/2 and is never exceeded (also not by 2000 random x)."""
    from scipy.optimize import minimize

    om = float(terngrad_omega().subs(D, d))
    rng = np.random.default_rng(30)
    best = -np.inf
    for _ in range(8):
        res = minimize(lambda z: -_terngrad_ratio(np.concatenate([[1.0], z])),
                       rng.uniform(0, 1, d - 1), bounds=[(0, 1)] * (d - 1), method="L-BFGS-B")
        best = max(best, -res.fun)
    assert best <= om + 1e-9
    assert best >= om - 1e-6
    assert math.isclose(_terngrad_ratio(terngrad_worst_case(d).numpy()), om, rel_tol=1e-12)
    a = np.abs(rng.standard_normal((2000, d)) * rng.exponential(1, (2000, d)))
    ratios = (a.max(1) * a.sum(1) - (a**2).sum(1)) / (a**2).sum(1)
    assert ratios.max() <= om + 1e-12


def test_terngrad_worst_case_variance_monte_carlo():
    """E||C(x*)-x*||^2/||x*||^2 = (sqrt d - 1)/2 at the maximiser; d = 16, n = 20000,
    seed 31, tolerance 4 SE."""
    d, n = 16, 20000
    x = terngrad_worst_case(d).float()
    y = make("terngrad").apply(x.expand(n, d).contiguous(), _gen(31))
    err = ((y - x) ** 2).sum(1).double().numpy() / float((x**2).sum())
    est = mean_se(err)
    om = float(terngrad_omega().subs(D, d))
    assert abs(est.mean - om) <= Z * est.se, (est, om)


def test_natural_omega_derivation():
    assert natural_omega() == sp.Rational(1, 8)
    s = np.linspace(0, 1, 100001)
    assert np.max(s * (1 - s) / (1 + s) ** 2) <= 1 / 8 + 1e-15


def test_natural_worst_case_variance_monte_carlo():
    """At |x_j| = (4/3) 2^e (s = 1/3) the variance ratio is exactly 1/8; d = 8 coordinates
    across exponents, n = 20000, seed 32, tolerance 4 SE."""
    n = 20000
    x = torch.tensor([4 / 3 * 2.0**e for e in (-20, -3, 0, 1, 5, 9, 30, 60)]) * torch.tensor(
        [1, -1, 1, -1, 1, -1, 1, -1.0])
    y = make("natural").apply(x.expand(n, 8).contiguous(), _gen(32)).double()
    err = ((y - x.double()) ** 2 / x.double() ** 2).mean(1).numpy()
    est = mean_se(err)
    assert abs(est.mean - 1 / 8) <= Z * est.se, est


# --------------------------------------------------------------------------- moments
MEAN_FACTOR = {  # E C(x) = factor * x
    "bernoulli": 1.0, "randk": 1.0, "terngrad": 1.0, "natural": 1.0,
    "biased_bernoulli": 0.3, "randk_unscaled": 3 / 8,
}


@pytest.mark.parametrize("name", sorted(MEAN_FACTOR))
def test_mean_monte_carlo(name):
    """E C(x) = factor x coordinate-wise: d = 8, n = 40000, seed 40, tolerance 4 SE each."""
    params = dict(dict(SPECS)[name])
    spec = make(name, **params)
    n = 40000
    x = torch.tensor([3.0, -1.0, 0.25, 0.0, -7.5, 1e-3, 2.0, -0.6])
    if name == "natural":
        x[3] = 1e-40  # subnormal: unbiased rounding to {0, 2^-126}
    y = spec.apply(x.expand(n, 8).contiguous(), _gen(40)).double().numpy()
    for j in range(8):
        est = mean_se(y[:, j])
        target = MEAN_FACTOR[name] * float(x[j])
        assert abs(est.mean - target) <= Z * est.se + 1e-300, (name, j, est, target)


def _covariance_mc(name: str, params: dict, factor: float, v: torch.Tensor, n: int,
                   seed: int):
    spec = make(name, **params)
    d = v.numel()
    y = spec.apply(v.expand(n, d).contiguous(), _gen(seed)).double().numpy()
    mean = factor * v.double().numpy()
    c = y - mean
    formula = spec.covariance(sp.Matrix(v.tolist())).subs(spec.substitutions())
    return c, np.array(formula.evalf(), dtype=float)


@pytest.mark.parametrize(("name", "params", "factor"), [
    ("randk", {"k": 2}, 1.0), ("randk_unscaled", {"k": 2}, 2 / 5),
    ("bernoulli", {"p": 0.3}, 1.0), ("biased_bernoulli", {"p": 0.3}, 0.3),
    ("terngrad", {}, 1.0),
])
def test_covariance_monte_carlo(name, params, factor):
    """Cov[C(v)|v] entry-wise vs the closed form: d = 5, n = 40000, seed 50; each entry
    mean of (C_i - EC_i)(C_j - EC_j) within 4 SE (EC known exactly)."""
    v = torch.tensor([1.5, -0.5, 2.0, 0.25, -1.0])
    c, formula = _covariance_mc(name, params, factor, v, 40000, 50)
    for i, j in itertools.combinations_with_replacement(range(5), 2):
        est = mean_se(c[:, i] * c[:, j])
        assert abs(est.mean - formula[i, j]) <= Z * est.se + 1e-12, (i, j, est, formula[i, j])


def _subset_covariance(d: int, k: int, scale, v) -> sp.Matrix:
    """Exact Cov by enumerating all k-subsets (each with probability 1/C(d,k))."""
    subsets = list(itertools.combinations(range(d), k))
    w = sp.Rational(1, len(subsets))
    second = sp.zeros(d, d)
    for s in subsets:
        c = sp.Matrix([scale * v[i] if i in s else 0 for i in range(d)])
        second += w * c * c.T
    mean = sp.Matrix([scale * sp.Rational(k, d) * v[i] for i in range(d)])
    return second - mean * mean.T


@pytest.mark.parametrize(("d", "k"), [(4, 1), (4, 2), (4, 3), (5, 5)])
def test_randk_covariance_symbolic_enumeration(d, k):
    v = sp.Matrix(sp.symbols(f"v0:{d}", real=True))
    for name, scale in (("randk", sp.Rational(d, k)), ("randk_unscaled", sp.Integer(1))):
        spec = make(name, k=k)
        formula = spec.covariance(v).subs(spec.sym("k"), k)
        exact = _subset_covariance(d, k, scale, v)
        assert sp.simplify(formula - exact) == sp.zeros(d, d), name


def test_bernoulli_covariance_symbolic_enumeration():
    d = 3
    v = sp.Matrix(sp.symbols(f"v0:{d}", real=True))
    for name, scale in (("bernoulli", 1 / p_), ("biased_bernoulli", sp.Integer(1))):
        spec = make(name, p=0.5)
        p = spec.sym("p")
        second = sp.zeros(d, d)
        for mask in itertools.product((0, 1), repeat=d):
            w = sp.Mul(*[p if m else 1 - p for m in mask])
            c = sp.Matrix([scale.subs(p_, p) * v[i] * mask[i] for i in range(d)])
            second += w * c * c.T
        mean = sp.Matrix([scale.subs(p_, p) * p * v[i] for i in range(d)])
        exact = second - mean * mean.T
        assert sp.simplify(spec.covariance(v) - exact) == sp.zeros(d, d), name


def test_terngrad_covariance_exact_enumeration():
    v = [sp.Rational(3, 2), sp.Rational(-1, 2), sp.Rational(1, 4)]
    m = max(abs(t) for t in v)
    second = sp.zeros(3, 3)
    for b in itertools.product((0, 1), repeat=3):
        w = sp.Mul(*[abs(v[i]) / m if b[i] else 1 - abs(v[i]) / m for i in range(3)])
        c = sp.Matrix([m * sp.sign(v[i]) * b[i] for i in range(3)])
        second += w * c * c.T
    exact = second - sp.Matrix(v) * sp.Matrix(v).T
    assert sp.simplify(make("terngrad").covariance(sp.Matrix(v)) - exact) == sp.zeros(3, 3)


def test_deterministic_covariances_are_zero():
    v = sp.Matrix(sp.symbols("v0:3", real=True))
    for name, params in (("topk", {"k": 2}), ("sign", {}), ("scaled_sign", {})):
        assert make(name, **params).covariance(v) == sp.zeros(3, 3)


def test_class_equalities_monte_carlo():
    """Exact second moments the constants rest on: E||C||^2 = (d/k)||x||^2 for randk and
    (1/p)||x||^2 for bernoulli; d = 10, n = 20000, seed 60, tolerance 4 SE."""
    x = torch.randn(10, generator=_gen(59))
    nx = float((x**2).sum())
    for name, params, ratio in (("randk", {"k": 4}, 10 / 4), ("bernoulli", {"p": 0.25}, 4.0)):
        y = make(name, **params).apply(x.expand(20000, 10).contiguous(), _gen(60))
        est = mean_se(((y.double() ** 2).sum(1) / nx).numpy())
        assert abs(est.mean - ratio) <= Z * est.se, (name, est)


def test_topk_and_scaled_sign_b3_bound_deterministic():
    """||C(x)-x||^2 <= (1 - 1/delta)||x||^2 for 500 random heavy-tailed x (seed 61)."""
    g = _gen(61)
    x = torch.randn(500, 20, generator=g) * torch.exp(2 * torch.randn(500, 20, generator=g))
    nx = (x.double() ** 2).sum(1)
    for name, params, delta in (("topk", {"k": 5}, 20 / 5), ("scaled_sign", {}, 20)):
        y = make(name, **params).apply(x).double()
        assert torch.all(((y - x.double()) ** 2).sum(1) <= (1 - 1 / delta) * nx * (1 + 1e-6))


# --------------------------------------------------------------------------- codec utils
@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 23, 24, 31, 32, 40])
def test_pack_codes_matches_bitpack_layout(width):
    g = _gen(width)
    for n in (0, 1, 5, 8, 1001):
        codes = torch.randint(0, 2**width, (n,), generator=g, dtype=torch.int64)
        packed = pack_codes(codes, width)
        assert torch.equal(packed, pack_uint(codes, width))
        assert packed.numel() == math.ceil(n * width / 8)
        assert torch.equal(unpack_codes(packed, width, n).to(torch.int64), codes)
    with pytest.raises(ValueError):
        pack_codes(torch.tensor([2**width]), width)


@pytest.mark.parametrize("width", [1, 2, 4, 8, 3])
def test_lookup_codes(width):
    codes = torch.randint(0, 2**width, (999,), generator=_gen(70))
    levels = torch.randn(2**width, generator=_gen(71))
    assert torch.equal(lookup_codes(pack_codes(codes, width), width, 999, levels), levels[codes])


@pytest.mark.parametrize("width", [1, 2, 4])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.bfloat16])
def test_lookup_codes_numpy_path_equals_torch_path(width, dtype, monkeypatch):
    """The NumPy row-take path of lookup_codes (CPU, NumPy float dtypes) gives the same bits
    as the torch byte-table gather, for fewer levels than codes too."""
    import theorykit.compressors.bitpack as bp
    for n, nlev in ((1001, 2**width), (17, 2**width - 1), (8, 1)):
        codes = torch.randint(0, nlev, (n,), generator=_gen(72))
        levels = torch.randn(nlev, generator=_gen(73)).to(dtype)
        packed = pack_codes(codes, width)
        fast = lookup_codes(packed, width, n, levels)
        with monkeypatch.context() as m:
            m.setattr(bp, "_NUMPY_FLOATS", ())
            slow = lookup_codes(packed, width, n, levels)
        assert fast.dtype == slow.dtype == dtype
        assert torch.equal(_bits_view(fast), _bits_view(slow))


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.bfloat16])
def test_pack_negative_and_all_finite(dtype):
    x = torch.randn(3, 101, generator=_gen(74)).to(dtype)
    x[0, :4] = torch.tensor([0.0, -0.0, 1e-30, -1e-30]).to(dtype)
    assert torch.equal(pack_negative(x), pack_bits(x < 0))
    assert torch.equal(pack_negative(x.t()), pack_bits(x.t() < 0))   # non-contiguous
    assert all_finite(x) and all_finite(x.t()) and all_finite(torch.zeros(0, dtype=dtype))
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[2, 50] = bad
        assert not all_finite(y) and not all_finite(y.t())
    assert all_finite(torch.arange(5))


def test_random_draws_reproducible_and_in_range():
    a = uniform((3, 1000), _gen(80), torch.device("cpu"))
    assert torch.equal(a, uniform((3, 1000), _gen(80), torch.device("cpu")))
    assert a.dtype == torch.float32 and float(a.min()) >= 0 and float(a.max()) < 1
    assert torch.all(a * 2**24 == torch.floor(a * 2**24))  # the 2^-24 grid
    r = random_bits((4, 2501), 23, _gen(81), torch.device("cpu"))
    assert r.dtype == torch.int32 and int(r.min()) >= 0 and int(r.max()) < 2**23
    assert torch.equal(r, random_bits((4, 2501), 23, _gen(81), torch.device("cpu")))
    # uniform mean 1/2 and top-bit frequency 1/2: n = 10^4, 4 SE
    for sample in (a.double().numpy().ravel(), (r >> 22).double().numpy().ravel()):
        est = mean_se(sample)
        assert abs(est.mean - 0.5) <= Z * est.se
