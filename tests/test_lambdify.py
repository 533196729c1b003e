"""The lambdify adapter: numpy and torch agree (erf, 2F1, Piecewise, Max, erfc, gamma, ...),
the fast evaluation paths agree with the plain one, constants broadcast, bad input fails."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import special
from scipy import stats as sst

from theorykit.errors import DerivationError, InputError
from theorykit.noise import StudentT
from theorykit.sde.lambdify import scalar_function, vector_function

x1, x2, x3 = X = sp.symbols("x_1:4", real=True)
t = sp.Symbol("t", nonnegative=True)
a = sp.Symbol("a", positive=True)

MIXED = [
    -2 * x1 + x2 * x3 + 1,                                   # polynomial, several coordinates
    3 * x1 - x2 + 0.5,                                       # affine
    sp.erf(0.7 * x2),                                        # template
    sp.erf(1.3 * x3),                                        # same template, other constant
    StudentT(3).sign_mean(x1, 0, 0, 1),                      # 2F1, integer 2*beta
    StudentT(2.5).sign_mean(x2, 0, 0, 4),                    # 2F1, quadrature
    sp.Integer(3),                                           # constant
    sp.Max(x1, 0) * x2,                                      # Max
    sp.Piecewise((x2, x2 > 0), (0, True)),                   # Piecewise
    sp.erfc(x3),                                             # erfc
    sp.gamma(x1 + 3.5),                                      # gamma
    sp.Heaviside(x2) * x1,                                   # Heaviside
    sp.frac(x3 * 1.7),                                       # frac
    a * sp.exp(-x1**2) * sp.sin(t),                          # parameter and time
    sp.Min(x1, x2, 0.3),                                     # Min of several
    sp.sign(x3) * (1 - (1 + sp.Abs(x3)) ** -2.5),            # Pareto sign mean
]


def batch(seed=0, p=64, scale=3.0):
    return np.random.default_rng(seed).normal(size=(p, 3)) * scale


def test_numpy_torch_fast_plain_agree():
    Xn = batch()
    Xt = torch.tensor(Xn)
    vals = {}
    for backend, XX in (("numpy", Xn), ("torch", Xt)):
        for fast in (True, False):
            f = vector_function(MIXED, X, backend, t=t, params={"a": 2.0}, fast=fast)
            out = f(0.4, XX)
            assert tuple(out.shape) == (64, len(MIXED))
            vals[(backend, fast)] = np.asarray(out, dtype=float)
    ref = vals[("numpy", False)]
    for key, v in vals.items():
        np.testing.assert_allclose(v, ref, rtol=1e-11, atol=1e-12, err_msg=str(key))
    f = vector_function(MIXED, X, "torch", t=t, params={"a": 2.0})
    assert f.paths["template"] >= 3 and f.paths["affine"] == 1 and f.paths["polynomial"] == 1
    assert f.paths["constant"] == 1


def test_values_against_scipy():
    """Spot values: erf, Student-t sign mean (= 2 t.cdf - 1), erfc, gamma."""
    Xn = batch(1)
    f = vector_function(MIXED, X, "torch", t=t, params={"a": 2.0})
    out = f(0.4, torch.tensor(Xn)).numpy()
    np.testing.assert_allclose(out[:, 2], special.erf(0.7 * Xn[:, 1]), rtol=1e-13)
    np.testing.assert_allclose(out[:, 4], 2 * sst.t.cdf(Xn[:, 0], 3) - 1, atol=1e-13)
    np.testing.assert_allclose(out[:, 5], 2 * sst.t.cdf(2 * Xn[:, 1], 2.5) - 1, atol=1e-11)
    np.testing.assert_allclose(out[:, 9], special.erfc(Xn[:, 2]), rtol=1e-12)
    np.testing.assert_allclose(out[:, 10], special.gamma(Xn[:, 0] + 3.5), rtol=1e-11)


@pytest.mark.parametrize("nu", [0.5, 1, 2, 2.5, 3, 8, 64, 300])
def test_torch_student_t_hypergeometric(nu):
    """Torch 2F1(1/2, (nu+1)/2; 3/2; -z^2/nu) vs scipy.hyp2f1 over |z| up to 1e4."""
    z = np.concatenate([np.linspace(-40, 40, 81), [1e-9, 1e3, -1e4]])
    e = StudentT(nu).sign_mean(x1, 0, 0, 1)
    ft = scalar_function(e, [x1], "torch")
    fn = scalar_function(e, [x1], "numpy")
    got = ft(torch.tensor(z)).numpy()
    # 2 F_nu(z) - 1 = sign(z) I_{z^2/(nu+z^2)}(1/2, nu/2), free of cancellation at small z
    ref = np.sign(z) * special.betainc(0.5, nu / 2, z**2 / (nu + z**2))
    np.testing.assert_allclose(ref, 2 * sst.t.cdf(z, nu) - 1, atol=1e-9)
    np.testing.assert_allclose(fn(z), ref, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-13)


def test_torch_path_is_differentiable():
    e = [sp.erf(0.5 * x1) + x1**2, StudentT(3).sign_mean(x2, 0, 0, 1), x3]
    f = vector_function(e, X, "torch")
    XX = torch.tensor(batch(2, 5), requires_grad=True)
    f(0.0, XX).sum().backward()
    g = XX.grad.numpy()
    Xn = XX.detach().numpy()
    np.testing.assert_allclose(g[:, 0], 0.5 * 2 / np.sqrt(np.pi) * np.exp(-(0.5 * Xn[:, 0]) ** 2)
                               + 2 * Xn[:, 0], rtol=1e-10)
    np.testing.assert_allclose(g[:, 1], 2 * sst.t.pdf(Xn[:, 1], 3), rtol=1e-9)


def test_constants_broadcast_and_devices_dtypes():
    f = vector_function([sp.Integer(2), sp.pi, x1 * 0 + 1], X, "torch")
    out = f(0.0, torch.zeros(7, 3, dtype=torch.float32))
    assert out.shape == (7, 3) and out.dtype == torch.float32
    assert torch.allclose(out[:, 1], torch.full((7,), np.pi, dtype=torch.float32))
    g = vector_function([sp.Integer(2)], X, "numpy")
    assert g(0.0, np.zeros((4, 3))).shape == (4, 1)
    s = scalar_function(sp.Integer(5), [x1], "numpy")
    assert s(np.zeros(6)).shape == (6,)


def test_bad_input():
    with pytest.raises(InputError, match="no value given for parameter"):
        vector_function([a * x1], X, "numpy")
    with pytest.raises(InputError, match="backend"):
        vector_function([x1], X, "jax")
    f = vector_function([x1], X, "numpy")
    with pytest.raises(InputError, match="shape"):
        f(0.0, np.zeros((3, 2)))
    with pytest.raises(DerivationError, match="2F1"):
        r = sp.Rational
        vector_function([sp.hyper([r(1, 3), r(2, 7), r(3, 5)], [r(4, 11), r(5, 13)], x1)], X,
                        "numpy")
    with pytest.raises(DerivationError, match="not supported"):
        vector_function([sp.hyper([1, 2], [4], -x1**2)], X, "torch")(0.0, torch.ones(2, 3))


# ------------------------------------------------------------- template (vectorised) path
x4, x5, x6 = Y = sp.symbols("x_4:7", real=True)
STATE = [*X, *Y]

# DCSGD-like diagonal coefficients: coefficients that happen to be exactly 1 (or -1) must
# not split the components into several templates (the case that made the benchmark slow)
UNIT_COEFFS = [
    -x1 / 2, -sp.Float(2 / 3) * x2, -x3, x4, -sp.Rational(3, 2) * x5, -2 * x6,        # drift
    x1**2 / 16 + sp.Rational(1, 2), sp.Float(0.11) * x2**2 + sp.Rational(1, 2),      # Σ_jj
    x3**2 + sp.Rational(1, 2), 9 * x4**2 / 16 + sp.Rational(1, 2),
    sp.erf(x5) + 1, sp.erf(sp.Float(0.7) * x6) + 1,
]


def _fast_and_plain(exprs, backend, XX, **kw):
    fast = vector_function(exprs, STATE, backend, t=t, **kw)
    plain = vector_function(exprs, STATE, backend, t=t, fast=False, **kw)
    return fast, np.asarray(fast(0.7, XX), dtype=float), np.asarray(plain(0.7, XX), dtype=float)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_unit_coefficients_share_one_template(backend):
    Xn = np.random.default_rng(3).normal(size=(257, 6)) * 2.5
    XX = torch.tensor(Xn) if backend == "torch" else Xn
    drift, diag, erfs = UNIT_COEFFS[:6], UNIT_COEFFS[6:10], UNIT_COEFFS[10:]
    for exprs in (drift, diag, erfs):
        f, fast, plain = _fast_and_plain(exprs, backend, XX)
        assert f.paths["groups"] == 1 and f.paths["template"] == len(exprs), f.paths
        np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=0)
    np.testing.assert_allclose(_fast_and_plain(diag, backend, XX)[1][:, 2], Xn[:, 2]**2 + 0.5,
                               rtol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_template_vs_plain_on_random_inputs(backend):
    """Random one-coordinate templates (random constants, some exactly ±1 or shared), in a
    scrambled coordinate order, mixed with components that are no template (fallback)."""
    rng = np.random.default_rng(11)
    c = sp.Symbol("c")
    shapes = [c * x1**2 + 0.3, sp.exp(-c * x1) * x1, sp.erf(c * x1 + 0.2) - c * x1,
              sp.log(1 + c**2 * x1**2), sp.Abs(x1) ** c]
    exprs = []
    for k in range(40):
        shape = shapes[k % len(shapes)]
        cval = rng.choice([1.0, -1.0, 0.5, float(rng.uniform(0.1, 3.0))])
        exprs.append(shape.subs(c, cval).subs(x1, STATE[int(rng.integers(6))]))
    exprs += [x1 * x2 + sp.sin(x3), sp.exp(x4) / (1 + x5**2), x6 * t, sp.Integer(2) * x1 + x2]
    Xn = rng.normal(size=(129, 6)) * 1.5
    XX = torch.tensor(Xn) if backend == "torch" else Xn
    f, fast, plain = _fast_and_plain(exprs, backend, XX)
    # c = 1 or -1 turns Abs(x)**c into Abs(x) or 1/Abs(x): other templates, still grouped
    assert f.paths["groups"] <= 2 * len(shapes) and f.paths["plain"] >= 2, f.paths
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_non_template_components_fall_back(backend):
    """Different structures stay separate groups or take the plain path, with equal values."""
    exprs = [sp.erf(x1), x2**3 + 1, sp.sin(x3), x4 * x5 + sp.cos(x6), sp.exp(x1 * x2)]
    Xn = np.random.default_rng(5).normal(size=(33, 6))
    XX = torch.tensor(Xn) if backend == "torch" else Xn
    f, fast, plain = _fast_and_plain(exprs, backend, XX)
    assert f.paths["groups"] == 3 and f.paths["plain"] == 2, f.paths
    np.testing.assert_allclose(fast, plain, rtol=1e-13, atol=0)


def test_template_float32_and_autograd():
    Xn = np.random.default_rng(8).normal(size=(64, 6))
    for dtype, rtol in ((torch.float32, 1e-6), (torch.float64, 1e-13)):
        f, fast, plain = _fast_and_plain(UNIT_COEFFS, "torch", torch.tensor(Xn, dtype=dtype))
        assert f(0.0, torch.tensor(Xn, dtype=dtype)).dtype == dtype
        np.testing.assert_allclose(fast, plain, rtol=rtol, atol=1e-7)
    XX = torch.tensor(Xn, requires_grad=True)
    f = vector_function(UNIT_COEFFS[6:10], STATE, "torch")
    f(0.0, XX).sum().backward()
    expect = np.zeros_like(Xn)
    expect[:, :4] = 2 * np.array([1 / 16, 0.11, 1.0, 9 / 16]) * Xn[:, :4]
    np.testing.assert_allclose(XX.grad.numpy(), expect, rtol=1e-13)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_output_is_fresh_and_writable(backend):
    """The result never aliases the input (callers modify it in place)."""
    Xn = np.random.default_rng(9).normal(size=(5, 6))
    for exprs in ([*STATE], [x2, x1, x3, x4, x5, x6], [1.0 * s for s in STATE], [3 * x1 - x2]):
        XX = torch.tensor(Xn) if backend == "torch" else Xn.copy()
        out = vector_function(exprs, STATE, backend)(0.0, XX)
        out[:] = 0
        np.testing.assert_array_equal(np.asarray(XX), Xn)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sde_diagonal_diffusion_equals_sqrt_of_covariance(backend):
    """SDE.lambdify's in-place sqrt(eta Σ_jj) equals the out-of-place formula bit for bit,
    including a clipped negative round-off, and stays differentiable for Milstein."""
    from theorykit.sde.lambdify import sqrt_nonneg
    from theorykit.sde.sde import SDE

    cov = sp.diag(*[e for e in UNIT_COEFFS[6:10]], x5**2 - 1, sp.Integer(2))
    sde = SDE(x=STATE, drift=sp.Matrix(UNIT_COEFFS[:6]), diffusion_cov=cov)
    _, g = sde.lambdify(backend, {"eta": 0.03})
    cov_fn = sde.lambdify_cov(backend, {"eta": 0.03})
    Xn = np.random.default_rng(10).normal(size=(50, 6))
    XX = torch.tensor(Xn) if backend == "torch" else Xn
    got = np.asarray(g(0.0, XX))
    ref = np.asarray(np.sqrt(0.03) * sqrt_nonneg(cov_fn(0.0, XX)))
    np.testing.assert_array_equal(got, ref)
    assert (got[:, 4] == 0).any() and np.isfinite(got).all()
    np.testing.assert_array_equal(np.asarray(XX), Xn)
    if backend == "torch":
        Xg = torch.tensor(Xn, requires_grad=True)
        g(0.0, Xg).sum().backward()
        assert torch.isfinite(Xg.grad).all() and Xg.grad[:, 0].abs().sum() > 0
