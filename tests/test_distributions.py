"""The distributions package (theorykit.distributions): one symmetric-law object per family,
checked against SciPy and SymPy, and a law defined HERE (a ``module:Object``) used as noise,
as a quantization density and as a top-k magnitude law."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats

from theorykit.compressors.base import Param
from theorykit.distributions import (
    SymmetricLaw,
    U,
    catalog,
    make,
    positive_symbol,
    resolve,
    scale_parameter,
    shape_parameter,
)
from theorykit.distributions.student_t import variance_derivation
from theorykit.errors import InputError


class Logistic(SymmetricLaw):
    """A test-defined law: the logistic law, density e^{-u}/(1+e^{-u})^2, Var = π²/3,
    E sign(z + T) = tanh(z/2) (2F - 1 with F the logistic CDF)."""

    name = "logistic"
    params = (Param("scale", float, "scale", 1.0, 0.0, False),)

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        return sp.exp(-u) / (1 + sp.exp(-u)) ** 2

    def variance_factor(self) -> sp.Expr:
        return sp.pi**2 / 3

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.tanh(z / 2)


REF = f"{__name__}:Logistic"
CASES = [("gaussian", {}, stats.norm()), ("laplace", {}, stats.laplace()),
         ("student_t", {"nu": 3.0}, stats.t(3.0)), ("uniform", {}, stats.uniform(-1, 2)),
         ("lomax", {"alpha": 3.0}, None), ("pareto", {"alpha": 3.0}, None)]


def test_catalog_and_resolution():
    assert {"gaussian", "student_t", "laplace", "uniform", "pareto", "lomax",
            "custom"} <= set(catalog())
    assert resolve("student-t") is resolve("t") is catalog()["student_t"]
    assert make("cauchy").number("nu") == 1
    assert resolve(REF) is Logistic
    with pytest.raises(InputError, match="unknown law"):
        make("no-such-law")
    with pytest.raises(InputError, match="not a SymmetricLaw"):
        resolve("theorykit.errors:InputError")
    with pytest.raises(InputError, match="nu"):
        make("student_t", nu=-1)
    with pytest.raises(InputError, match="unknown parameter"):
        make("laplace", gamma=1)


@pytest.mark.parametrize("name, params, ref", CASES)
def test_pdf_normalised_variance_and_cdf(name, params, ref):
    """∫ pdf = 1 and ∫ x² pdf = variance_factor (SymPy), and the numeric CDF, the symbolic
    CDF (1 + sign mean)/2 and the quantile of |T| agree with each other and with SciPy."""
    lw = make(name, **params)
    x = sp.Symbol("x", real=True)
    pdf = lw.pdf(x)
    lo, hi = sp.Integer(lw.lower), lw.upper
    mass = 2 * sp.integrate(pdf.subs(x, U), (U, lo, hi))
    assert sp.simplify(mass - 1) == 0
    m2 = 2 * sp.integrate(U**2 * pdf.subs(x, U), (U, lo, hi))
    assert sp.simplify(m2 - lw.variance_factor()) == 0
    zs = np.array([-2.5, -1.2, -0.3, 0.0, 0.4, 1.5, 3.0])
    if ref is not None:
        np.testing.assert_allclose(lw.cdf_unit(zs), ref.cdf(zs), atol=1e-12)
    sym = [float(lw.cdf_expr(sp.Float(z)).doit()) for z in zs]
    np.testing.assert_allclose(sym, lw.cdf_unit(zs), atol=1e-9)
    v = np.array([0.1, 0.5, 0.9])
    mags = lw.abs_ppf(v)
    np.testing.assert_allclose(2 * lw.cdf_unit(mags) - 1, v, atol=1e-9)


@pytest.mark.parametrize("name, params, ref", CASES)
def test_samplers_against_cdf(name, params, ref):
    """KS test of sample and sample_abs against the law's CDF (n = 20000, seed 7)."""
    lw = make(name, **params)
    g = torch.Generator().manual_seed(7)
    x = lw.sample((20000,), g).numpy()
    assert stats.kstest(x, lw.cdf_unit).pvalue > 1e-3
    a = lw.sample_abs((20000,), g).numpy()
    assert stats.kstest(a, lambda m: 2 * lw.cdf_unit(m) - 1).pvalue > 1e-3


def test_student_t_variance_is_derived_once():
    expr, cond = variance_derivation()
    nu = sp.Symbol("nu", positive=True)
    assert sp.simplify(expr - nu / (nu - 2)) == 0 and cond == (nu > 2)
    assert make("student_t", nu=2).variance_factor() == sp.oo
    assert make("student_t", nu="nu").variance_factor() == expr
    from theorykit.noise import StudentT
    from theorykit.rules.bounds import student_t_variance_factor

    assert StudentT(nu=5).variance_factor() == student_t_variance_factor(5) == sp.Rational(5, 3)


def test_pareto_one_definition():
    """The quantization pareto(rho, g_m) and the top-k pareto(a) are the law pareto with
    alpha = rho - 1 resp. alpha = a; the noise model Lomax is the law lomax (Pareto II)."""
    from theorykit.noise import Lomax
    from theorykit.rules import quantization as q
    from theorykit.rules import topk_energy as te

    d = q.density("pareto", rho=4.0, g_m=2.0)
    assert d.law.name == "pareto" and d.law.number("alpha") == 3.0
    gs = np.array([0.5, 2.0, 3.0, 10.0])
    np.testing.assert_allclose(d.pdf_numeric(gs), [0.0, *(1.5 / 2 * (gs[1:] / 2) ** -4)])
    assert te.pareto(3).density == make("pareto", alpha=3).magnitude_pdf(U)
    assert Lomax(alpha=3).law.name == "lomax"


def test_custom_law_uses_the_safe_parser():
    lw = make("custom", pdf="exp(-g**2/2)/sqrt(2*pi)")
    assert float(lw.variance_factor()) == pytest.approx(1.0, rel=1e-8)
    np.testing.assert_allclose(lw.abs_ppf(np.array([0.5])), stats.norm.ppf(0.75), rtol=1e-5)
    with pytest.raises(InputError):
        make("custom", pdf="__import__('os').getcwd()")
    with pytest.raises(InputError, match="integrates to"):
        make("custom", pdf="exp(-g**2)")


# --------------------------------------------------------------------------- the user law
def test_user_law_as_noise():
    from theorykit.noise import make_noise

    nz = make_noise(REF, scale=2.0)
    assert nz.name == "logistic" and nz.variance_factor() == sp.pi**2 / 3
    assert sp.simplify(nz.cov(0, 2, batch=4)[1, 1] - 4 * sp.pi**2 / 3 / 4) == 0
    g = sp.Symbol("g", real=True)
    assert nz.sign_mean(g, 0, 0, 1) == sp.tanh(g / 4)
    z = nz.sample(2000, 3, 2, batch=4, generator=torch.Generator().manual_seed(3))
    assert z.shape == (2000, 3, 2)
    assert float(z.var()) == pytest.approx(float(sp.pi**2 / 3), rel=0.08)
    assert nz.sign_mean_numeric(0.5, 0, 0, 1) == pytest.approx(np.tanh(0.125), abs=1e-4)


def test_user_law_as_quantization_density():
    from theorykit.rules import quantization as q

    d = q.density(REF, scale=1.5)
    assert d.name == "logistic" and d.scale == 1.5
    opt = q.optimize(d, 7, scheme="nonuniform", exact=True)
    assert 0 < opt.alpha < 40 and opt.exact_error > 0
    x = d.sample(4000, torch.Generator().manual_seed(5)).numpy()
    assert stats.kstest(x / 1.5, stats.logistic.cdf).pvalue > 1e-3


def test_user_law_as_magnitude_law():
    from theorykit.rules import topk_energy as te

    lw = te.law(REF)
    x = lw.sample((4, 1000), torch.Generator().manual_seed(1))
    assert x.shape == (4, 1000) and (x < 0).any()
    assert float(sp.integrate(lw.density, (U, lw.lo, lw.hi))) == pytest.approx(1.0)


class DeclaredLomax(SymmetricLaw):
    """A test-defined law written only declaratively: density (alpha/2)(1+u)^(-alpha-1) (the
    Lomax law), its variance and tail index stated, not coded."""

    name = "declared_lomax"
    params = (shape_parameter("alpha", "tail index"), scale_parameter())
    tail_param = "alpha"
    unit_variance = 2 / ((positive_symbol("alpha") - 1) * (positive_symbol("alpha") - 2))
    variance_condition = "alpha {} > 2"

    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        a = positive_symbol("alpha")
        return a / 2 * (1 + u) ** (-a - 1)

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        return sp.sign(z) * (1 - (1 + sp.Abs(z)) ** (-self.shape("alpha")))


@pytest.mark.parametrize("alpha", [3, 2.5, 2, 1.5, "alpha"])
def test_declared_variance_and_tail_match_the_coded_lomax(alpha):
    """The base class reads tail_param / unit_variance / variance_condition: the declared
    law gives what the registered Lomax law gives (infinite variance for alpha <= 2)."""
    mine, ref = DeclaredLomax(alpha=alpha), make("lomax", alpha=alpha)
    assert mine.variance_factor() == ref.variance_factor()
    assert mine.tail_index == ref.tail_index
    assert bool(mine.variance_conditions()) == (alpha == "alpha")
    assert make("gaussian").variance_factor() == 1 and make("gaussian").tail_index == sp.oo


def test_law_without_a_variance_says_what_to_declare():
    class NoVariance(SymmetricLaw):
        name = "no_variance"
        params = (scale_parameter(),)

    with pytest.raises(NotImplementedError, match="unit_variance"):
        NoVariance().variance_factor()
