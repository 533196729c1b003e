"""Noise models: batch convention, heterogeneous scales, symbolic moments and sign means.

Statistical checks state n, seed and a tolerance z * SE (z from ``bonferroni_z`` over the
entries checked, family-wise false-alarm rate 0.27%)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats as sst
from sympy.stats import Normal, cdf, density
from sympy.stats import StudentT as SymStudentT

from theorykit.check.stats import bonferroni_z, mean_se
from theorykit.errors import AssumptionError, InputError
from theorykit.noise import (
    B_SYMBOL,
    NOISE_MODELS,
    Gaussian,
    Laplace,
    Lomax,
    StudentT,
    make_noise,
)

SEED = 1234
z = sp.Symbol("z", real=True)


def gen(seed: int = SEED) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- batch convention
def test_gaussian_batch_convention_and_heterogeneous_scales():
    """Z_i ~ N(0, sigma_i^2 I / B): per-worker variances match cov(i) (n = 40000, seed 1234)."""
    sig = [0.5, 1.0, 3.0]
    B = 4
    noise = Gaussian(sigma=sig)
    Z = noise.sample(40000, 3, 2, B, gen())
    assert Z.shape == (40000, 3, 2) and Z.dtype == torch.float64
    zc = bonferroni_z(6)
    for i in range(3):
        want = float(noise.cov(i, 2, B)[0, 0])
        assert want == pytest.approx(sig[i] ** 2 / B)
        for j in range(2):
            est = mean_se(Z[:, i, j].numpy() ** 2)
            assert abs(est.mean - want) <= zc * est.se, (i, j, est, want)


def test_gaussian_full_covariance_sampling():
    """Correlated Gaussian: sample covariance of Z equals cov/B entry-wise (n = 60000)."""
    C = [[2.0, 0.8], [0.8, 1.0]]
    B = 2
    noise = Gaussian(cov=C)
    assert not noise.independent_coordinates
    Z = noise.sample(60000, 2, 2, B, gen()).numpy()
    S = noise.cov(0, 2, B)
    want = sp.Matrix([[1, sp.Rational(2, 5)], [sp.Rational(2, 5), sp.Rational(1, 2)]])
    assert (S - want) == sp.zeros(2, 2)
    zc = bonferroni_z(6)
    for i in range(2):
        for a, b in [(0, 0), (0, 1), (1, 1)]:
            est = mean_se(Z[:, i, a] * Z[:, i, b])
            assert abs(est.mean - float(S[a, b])) <= zc * est.se


def test_student_t_batch_convention():
    """Student-t: Z = scale * T_nu / sqrt(B) -- NOT a batch mean of B t variables.

    sqrt(B) Z / scale must be exactly t_nu (KS test vs scipy, n = 20000, seed 1234; reject at
    p < 1e-3), for nu = 3 (finite variance) and nu = 1 (Cauchy); per-worker scales."""
    B = 16
    for nu in (1, 3):
        noise = StudentT(nu, scale=[1.0, 2.5])
        Z = noise.sample(20000, 2, 1, B, gen(SEED + nu)).numpy()
        for i, s in enumerate((1.0, 2.5)):
            t = Z[:, i, 0] * math.sqrt(B) / s
            p = sst.kstest(t, "t", args=(nu,)).pvalue
            assert p > 1e-3, (nu, i, p)
    # variance: s^2 nu/(nu-2)/B (nu = 10: finite fourth moment, so the SE is meaningful)
    noise = StudentT(10, scale=2.0)
    Z = noise.sample(50000, 1, 2, B, gen()).numpy()
    want = float(noise.cov(0, 2, B)[0, 0])
    assert want == pytest.approx(4.0 * 10 / 8 / B)
    for j in range(2):
        est = mean_se(Z[:, 0, j] ** 2)
        assert abs(est.mean - want) <= bonferroni_z(2) * est.se


def test_student_t_sampler_against_scipy_several_nu():
    """Bailey's polar sampler is t_nu for fractional and large nu (KS, n = 20000)."""
    for nu in (0.7, 2.5, 64.0):
        Z = StudentT(nu).sample(20000, 1, 1, 1, gen()).numpy().ravel()
        assert sst.kstest(Z, "t", args=(nu,)).pvalue > 1e-3, nu


def test_laplace_and_lomax_laws():
    """Laplace and symmetric Lomax samplers follow their CDFs (KS, n = 20000); variances."""
    lap = Laplace(scale=1.5)
    Z = lap.sample(20000, 1, 1, 1, gen()).numpy().ravel() / 1.5
    assert sst.kstest(Z, "laplace").pvalue > 1e-3
    par = Lomax(alpha=3.0)
    Z = par.sample(20000, 1, 1, 1, gen()).numpy().ravel()
    assert sst.kstest(Z, par._cdf_unit).pvalue > 1e-3
    assert par.variance_factor() == 1  # 2/((3-1)(3-2))
    assert Lomax(alpha=2).variance_factor() == sp.oo
    assert lap.cov(0, 1, 1)[0, 0] == 2 * sp.Rational(9, 4)


# --------------------------------------------------------------------------- symbolic faces
def test_cov_symbolic_and_infinite_variance():
    g = Gaussian.symbolic(n_workers=2)
    s1 = sp.Symbol("sigma_1", positive=True)
    assert sp.simplify(g.cov(0, 2)[0, 0] - s1**2 / B_SYMBOL) == 0
    t = StudentT.symbolic()
    nu, s = sp.Symbol("nu", positive=True), sp.Symbol("s", positive=True)
    notes: list[str] = []
    assert sp.simplify(t.cov(0, 1, assumptions=notes)[0, 0] - s**2 * nu / (nu - 2) / B_SYMBOL) \
        == 0
    assert any("> 2" in a for a in notes)
    for nu in (1, 2):
        with pytest.raises(AssumptionError, match="infinite variance"):
            StudentT(nu).cov(0, 2, 1)
    with pytest.raises(AssumptionError):
        Lomax(1.5).cov(0, 1, 1)


def test_gaussian_sign_mean_is_erf_and_phi_identity():
    """2 Phi(z) - 1 = erf(z/sqrt 2) (symbolic and numeric), and the Gaussian sign mean
    E sign(g + Z) = erf(g sqrt(B)/(sqrt 2 sigma))."""
    phi = cdf(Normal("X", 0, 1))(z)
    assert sp.simplify(2 * phi - 1 - sp.erf(z / sp.sqrt(2))) == 0
    zz = np.linspace(-4, 4, 17)
    f = sp.lambdify(z, sp.erf(z / sp.sqrt(2)), modules=["scipy", "numpy"])
    np.testing.assert_allclose(2 * sst.norm.cdf(zz) - 1, f(zz), atol=1e-14)
    sig, g = sp.Symbol("sigma", positive=True), sp.Symbol("g", real=True)
    m = Gaussian(sigma="sigma").sign_mean(g, 0, 0, B_SYMBOL)
    assert sp.simplify(m - sp.erf(g * sp.sqrt(B_SYMBOL) / (sp.sqrt(2) * sig))) == 0


@pytest.mark.parametrize("nu", [1, 2, 3, 8, 64])
def test_student_t_hypergeometric_sign_mean_matches_scipy(nu):
    """2 Xi_nu(z) (hypergeometric form) == 2 (t.cdf(z) - 1/2), numerically to 1e-10."""
    m = StudentT(nu).sign_mean(z, 0, 0, 1)
    assert m.has(sp.hyper)
    for zv in (-30.0, -2.5, -0.3, 0.0, 0.7, 1.9, 12.0):
        got = float(m.subs(z, zv).evalf(30))
        want = 2 * (sst.t.cdf(zv, nu) - 0.5)
        assert abs(got - want) < 1e-10, (nu, zv, got, want)
    # numeric scipy path of the model
    np.testing.assert_allclose(StudentT(nu).sign_mean_numeric([0.7, -2.0], 0, 0, 1),
                               2 * sst.t.cdf([0.7, -2.0], nu) - 1, atol=1e-14)


@pytest.mark.parametrize("nu", [1, 2, 3, 8])
def test_student_t_sign_mean_derivative_is_density(nu):
    """Symbolic: d/dz [m(z)/2] equals the Student-t density (sympy.stats), so m = 2F - 1."""
    m = StudentT(nu).sign_mean(z, 0, 0, 1)
    e = sp.hyperexpand(sp.diff(m / 2, z)) - density(SymStudentT("T", nu))(z)
    assert sp.simplify(sp.gammasimp(e.rewrite(sp.gamma))) == 0
    assert m.subs(z, 0) == 0


def test_sign_mean_batch_and_scale():
    """E sign(g + Z) depends on g sqrt(B)/s only (all models), and scale 0 gives sign(g)."""
    g = sp.Symbol("g", real=True)
    for noise in (Gaussian(2.0), StudentT(3, scale=2.0), Laplace(2.0), Lomax(3, 2.0)):
        a = noise.sign_mean(g, 0, 0, 4)
        b = noise.sign_mean(g, 0, 0, 1)
        assert sp.simplify(a - b.subs(g, 2 * g)) == 0, noise
    assert Gaussian(0.0).sign_mean(g, 0, 0, 1) == sp.sign(g)


def test_sign_mean_monte_carlo_all_models():
    """MC mean of sign(g + Z) vs the symbolic sign mean (n = 40000, seed 1234, z from
    Bonferroni over all checks)."""
    models = [Gaussian(1.5), StudentT(1, 0.8), StudentT(3, 1.2), Laplace(1.0),
              Lomax(2.5, 1.0)]
    gs = [-0.9, 0.2, 1.4]
    B = 3
    zc = bonferroni_z(len(models) * len(gs))
    for k, noise in enumerate(models):
        Z = noise.sample(40000, 1, 1, B, gen(SEED + k)).numpy().ravel()
        for gv in gs:
            est = mean_se(np.sign(gv + Z))
            sym = float(noise.sign_mean(sp.Float(gv), 0, 0, B).evalf(20))
            num = float(noise.sign_mean_numeric(gv, 0, 0, B))
            assert abs(sym - num) < 1e-10, (noise, gv)
            assert abs(est.mean - sym) <= zc * est.se, (noise, gv, est, sym)


# --------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(InputError, match="nu must be > 0"):
        StudentT(0)
    with pytest.raises(InputError, match="nu must be > 0"):
        StudentT(-1)
    with pytest.raises(InputError):
        StudentT(float("nan"))
    with pytest.raises(InputError, match="sigma"):
        Gaussian(sigma=-1.0)
    with pytest.raises(InputError, match="positive semi-definite"):
        Gaussian(cov=[[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(InputError, match="symmetric"):
        Gaussian(cov=[[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(InputError, match="either sigma or cov"):
        Gaussian(sigma=2.0, cov=[[1.0]])
    with pytest.raises(InputError, match="batch size"):
        Gaussian().sample(2, 1, 1, 0)
    with pytest.raises(InputError, match="batch size"):
        Gaussian().cov(0, 2, 1.5)
    with pytest.raises(InputError, match="numeric"):
        Gaussian.symbolic().sample(2, 1, 1, 1)
    with pytest.raises(InputError, match="per-worker"):
        Gaussian([1.0, 2.0]).sample(2, 3, 1, 1)
    with pytest.raises(InputError, match="unknown noise"):
        make_noise("no-such-law")
    assert make_noise("uniform", scale=2.0).variance_factor() == sp.Rational(1, 3)
    assert make_noise("cauchy").nu == 1


# --------------------------------------------------------------------------- names
def test_lomax_is_the_heavy_tailed_noise_and_pareto_is_refused():
    """The symmetric Pareto II noise is ``lomax`` (``pareto`` means type I in theorykit, and
    type I, with its gap at the origin, is refused as noise with a one-line pointer)."""
    assert list(NOISE_MODELS) == ["gaussian", "student-t", "laplace", "lomax"]
    for name in ("lomax", "Lomax", "pareto-ii"):
        noise = make_noise(name, alpha=3, scale=2.0)
        assert type(noise) is Lomax and noise.name == "lomax"
    assert repr(Lomax(1.5, [0.1, 1.0])) == "Lomax(alpha=3/2, scale=[0.1, 1.0])"
    for name in ("pareto", "Pareto"):
        with pytest.raises(InputError, match=r"gap at the origin.*'lomax'") as err:
            make_noise(name, alpha=3)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="Lomax alpha must be > 0"):
        Lomax(0)
    with pytest.raises(InputError) as err:
        make_noise("no-such-law")
    assert "pareto" not in str(err.value)
