"""Tests of theorykit.rules.bounds: the derived DCSGD / DSignSGD bounds, heavy-tail factors
and stability caps, checked symbolically (simplify(a - b) == 0 against the closed forms of
docs/theory/sde_papers.md §2.3) and numerically (SciPy, finite differences, moment operators)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sympy as sp
from scipy import stats as sst

from theorykit.check.claim import Status
from theorykit.check.stats import Estimate
from theorykit.errors import AssumptionError, InputError
from theorykit.rules import bounds as bd

eta, L, mu, N, B, om, S2, t, D0 = sp.symbols("eta L mu N B omega sigma_omega2 t Delta_0",
                                             positive=True)
VALS = {"eta": 0.1, "L": 2.0, "mu": 0.5, "N": 4, "B": 1, "omega": 1.0, "sigma_omega2": 4.0,
        "Delta_0": 11.25}


def _by_name(e: sp.Expr) -> sp.Expr:
    """Replace theorykit's symbols by the plain positive ones above (same names)."""
    table = {s.name: s for s in (eta, L, mu, N, B, om, S2, t, D0)}
    return e.xreplace({s: table[s.name] for s in e.free_symbols if s.name in table})


@pytest.fixture(scope="module")
def pl() -> bd.Bound:
    return bd.dcsgd_pl_bound()


def test_dcsgd_pl_bound_matches_closed_form(pl: bd.Bound) -> None:
    c = 1 - eta * L * om / (2 * N)
    floor = eta * L * S2 / (4 * mu * N * B * c)
    ref = sp.exp(-2 * mu * c * t) * D0 + (1 - sp.exp(-2 * mu * c * t)) * floor
    assert sp.simplify(_by_name(pl.expr) - ref) == 0
    assert sp.simplify(_by_name(pl.parts["floor"]) - floor) == 0
    assert sp.simplify(_by_name(pl.parts["cap"]) - 2 * N / (L * om)) == 0
    assert sp.simplify(_by_name(pl.parts["rate"]) - 2 * mu * c) == 0
    # it solves the comparison ODE u' = -rate u + K with u(0) = Delta_0
    u = _by_name(pl.expr)
    K = _by_name(pl.parts["source_K"])
    assert sp.simplify(sp.diff(u, t) + _by_name(pl.parts["rate"]) * u - K) == 0
    assert sp.simplify(u.subs(t, 0) - D0) == 0
    # numerically: at t = 0 the bound is Delta_0, for large t the floor
    assert pl.evaluate({**VALS, "t": 0.0}) == pytest.approx(11.25)
    fl = 0.1 * 2 * 4 / (4 * 0.5 * 4 * 1 * (1 - 0.1 * 2 / 8))
    assert pl.evaluate({**VALS, "t": 200.0}) == pytest.approx(fl, rel=1e-9)
    assert pl.evaluate(VALS, "floor") == pytest.approx(fl)


def test_dcsgd_nonconvex_bound(pl: bd.Bound) -> None:
    nc = bd.dcsgd_nonconvex_bound()
    c = 1 - eta * L * om / (2 * N)
    ref = (D0 / t + eta * L * S2 / (2 * N * B)) / c
    assert sp.simplify(_by_name(nc.expr) - ref) == 0
    assert nc.evaluate({**VALS, "t": 8.0}) == pytest.approx((11.25 / 8 + 0.1) / 0.975)


def test_ito_generator_on_quadratic_is_under_the_descent_bound() -> None:
    """On f = (x1² + 2 x2²)/2 with Bernoulli(1/2) DCSGD, N = 4, sigma = 1: the generator of
    the derived SDE is <= -c||∇f||² + K with L = 2 (equality-free: the lambda = 1 axis has
    slack), at random points."""
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.sde import derive

    prob = Quadratic(eigs=[1.0, 2.0])
    sde = derive(DCSGD(make("bernoulli", p=0.5)), None, Gaussian(sigma=1.0), prob,
                 n_workers=4, batch=1)
    gen = bd.ito_generator(sde, prob.f)
    c, K = 1 - 0.1 * 2 * 1 / 8, 0.1 * 2 * 4 / (2 * 4)
    rng = np.random.default_rng(0)
    for x1, x2 in rng.normal(size=(5, 2)) * 3:
        at = dict(zip(sde.x, (x1, x2), strict=True))
        G = x1**2 + 4 * x2**2
        val = float(gen.xreplace({**at, sde.lr: 0.1}))
        assert val <= -c * G + K + 1e-12


def test_dsignsgd_phase3_and_phase1() -> None:
    p3 = bd.dsignsgd_phase3_bound()
    sH, d = sp.symbols("sigma_H d", positive=True)
    a = sp.sqrt(2 * B / sp.pi) / sH
    e = p3.expr.xreplace({s: {"sigma_H": sH, "d": d}.get(s.name, s) for s in p3.expr.free_symbols})
    e = _by_name(e)
    ref = sp.exp(-2 * mu * a * t) * D0 + (1 - sp.exp(-2 * mu * a * t)) * eta * L * d / (
        4 * mu * N * a)
    assert sp.simplify(e - ref) == 0
    p1 = bd.dsignsgd_phase1_bound()
    ref1 = (sp.sqrt(D0) - t * sp.sqrt(mu / 2)) ** 2
    assert sp.simplify(_by_name(p1.expr) - ref1) == 0
    assert p1.evaluate({"Delta_0": 2.0, "mu": 1.0, "t": 1.0}) == pytest.approx(0.5)
    with pytest.raises(AssumptionError):  # beyond t_end the bound no longer applies
        p1.evaluate({"Delta_0": 2.0, "mu": 1.0, "t": 3.0})


def test_dsignsgd_phase3_floor_student_t_over_gaussian() -> None:
    """The Student-t Phase-3 floor over the Gaussian one (same scale) is the derived tail
    ratio (1/(2 f_nu(0)))/sqrt(pi/2), symbolically in nu."""
    from theorykit.noise import StudentT

    ft = bd.dsignsgd_phase3_bound(StudentT(nu="nu", scale="s")).parts["floor"]
    fg = bd.dsignsgd_phase3_bound().parts["floor"]
    s, sH, nu = sp.Symbol("s", positive=True), sp.Symbol("sigma_H", positive=True), bd.NU
    ft = ft.xreplace({q: {"s": s, "nu": nu}.get(q.name, q) for q in ft.free_symbols})
    fg = fg.xreplace({q: s for q in fg.free_symbols if q.name == "sigma_H"})
    assert sH not in fg.free_symbols
    assert sp.simplify(sp.gammasimp(ft / fg - bd.dsignsgd_floor_ratio())) == 0


def test_phase3_slope_gaussian_and_student_t() -> None:
    from theorykit.noise import Gaussian, StudentT

    s, nu = sp.symbols("s nu", positive=True)
    a_t = bd.phase3_slope(StudentT(nu="nu", scale="s"))
    ref = 2 * sp.gamma((nu + 1) / 2) / (sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2)) * sp.sqrt(B) / s
    a_t = a_t.xreplace({q: {"s": s, "nu": nu, "B": B}.get(q.name, q) for q in a_t.free_symbols})
    assert sp.simplify(sp.gammasimp(a_t - ref)) == 0
    a_g = bd.phase3_slope(Gaussian(sigma=2.0), batch=4)
    assert float(a_g) == pytest.approx(math.sqrt(2 * 4 / math.pi) / 2)


NUS = (1, 2, 3, 8, 64)


def test_student_t_variance_factor_derived() -> None:
    nu = bd.NU
    assert sp.simplify(bd.student_t_variance_factor() - nu / (nu - 2)) == 0
    assert bd.student_t_variance_condition() == (nu > 2)
    assert bd.student_t_variance_factor(1) == sp.oo
    assert bd.student_t_variance_factor(2) == sp.oo
    for v in (3, 8, 64):
        assert float(bd.dcsgd_variance_factor(v)) == pytest.approx(sst.t(v).var())
    # agrees with the noise model's own (typed) variance factor
    from theorykit.noise import StudentT

    assert sp.simplify(StudentT(nu="nu").variance_factor().subs(
        sp.Symbol("nu", positive=True), nu) - bd.student_t_variance_factor()) == 0


def test_student_t_density_and_sign_factors() -> None:
    nu = bd.NU
    ref = sp.gamma((nu + 1) / 2) / (sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2))
    assert sp.simplify(sp.gammasimp(bd.student_t_density_at_zero() - ref)) == 0
    for v in NUS:
        f0 = float(bd.student_t_density_at_zero(v))
        assert f0 == pytest.approx(sst.t(v).pdf(0.0), rel=1e-12)
        assert float(bd.dsignsgd_tail_factor(v)) == pytest.approx(1 / (2 * f0))
        assert float(bd.dsignsgd_floor_ratio(v)) == pytest.approx(
            1 / (2 * f0) / math.sqrt(math.pi / 2))
    assert float(bd.dsignsgd_tail_factor(1)) == pytest.approx(math.pi / 2)
    assert sp.limit(bd.dsignsgd_floor_ratio(), nu, sp.oo) == 1


def test_curvature_ratio() -> None:
    nu = bd.NU
    assert sp.simplify(bd.student_t_curvature_ratio() + (nu + 1) / nu) == 0
    h = 1e-3
    for v in (1, 3, 8):
        p = sst.t(v).pdf
        num = (p(h) - 2 * p(0.0) + p(-h)) / h**2 / p(0.0)
        assert float(bd.student_t_curvature_ratio(v)) == pytest.approx(num, rel=1e-5)


def test_stability_caps_symbolic_and_numeric() -> None:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian

    lam = sp.Symbol("lambda", positive=True)
    Nn = sp.Symbol("N", integer=True, positive=True)
    caps = bd.stability_caps("dcsgd", Gaussian(sigma="sigma"), sp.Matrix([[lam]]), Nn, 1,
                             compressors="omega")
    w = sp.Symbol("omega", nonnegative=True)
    sde_cap = caps.sde.xreplace({s: w for s in caps.sde.free_symbols if s.name == "omega"})
    dis_cap = caps.discrete.xreplace({s: w for s in caps.discrete.free_symbols
                                      if s.name == "omega"})
    assert sp.simplify(sde_cap - 2 * Nn / (lam * w)) == 0
    assert sp.simplify(dis_cap - 2 / (lam * (1 + w / Nn))) == 0
    for name, params in (("bernoulli", {"p": 0.5}), ("randk", {"k": 1})):
        c = bd.stability_caps(DCSGD(make(name, **params)), Gaussian(sigma=1.0),
                              sp.diag(1, sp.Rational(1, 2)), 2, 1)
        assert float(c.sde) == pytest.approx(4.0)
        assert float(c.discrete) == pytest.approx(4 / 3)
        # the moment operators change stability exactly at the caps
        assert c.discrete_factor(0.99 * 4 / 3) < 1 < c.discrete_factor(1.01 * 4 / 3)
        assert c.sde_rate(0.99 * 4) < 0 < c.sde_rate(1.01 * 4)
    assert "overshoot" in c.explanation


def test_bound_check_and_tightness(pl: bd.Bound) -> None:
    vals = {**VALS, "t": 200.0}
    b = pl.evaluate(vals)
    v = pl.check("x", Estimate(0.5 * b, 0.01 * b, 100), vals)
    assert v.status == Status.HOLDS and v.details["tightness"] == pytest.approx(0.5)
    v = pl.check("x", Estimate(1.5 * b, 0.01 * b, 100), vals)
    assert v.status == Status.CONTRADICTED


def test_bad_input(pl: bd.Bound) -> None:
    with pytest.raises(InputError, match="nu"):
        bd.student_t_variance_factor(0)
    with pytest.raises(InputError, match="nu"):
        bd.dsignsgd_floor_ratio(-1.5)
    with pytest.raises(AssumptionError, match="mu"):
        pl.evaluate({**VALS, "mu": 3.0, "t": 1.0})
    with pytest.raises(AssumptionError, match="condition"):
        pl.evaluate({**VALS, "eta": 5.0, "t": 1.0})  # cap 2N/(L omega) = 4
    with pytest.raises(InputError, match="no value for t"):
        pl.evaluate(VALS)
    with pytest.raises(InputError, match="eta"):
        pl.evaluate({**VALS, "eta": -0.1, "t": 1.0})
    with pytest.raises(InputError, match="number"):
        pl.evaluate({**VALS, "t": "soon"})


# ---------------------------------------------------------------- bound_check (two-sided)
def _traj(mean: list[float], se: float = 0.01) -> Any:
    from theorykit.check.bound_check import Trajectory

    n = len(mean)
    return Trajectory(kind="test", k=np.arange(n), t=np.arange(n) * 0.1,
                      mean=np.array(mean, float), se=np.array([0.0] + [se] * (n - 1)),
                      replicas=1000, eta=0.1)


def test_judge_bound_upper_side_and_tightness() -> None:
    from theorykit.check.bound_check import judge_bound

    meas = [1.0, 0.5, 0.25, 0.2]
    tr = _traj(meas)
    ok = judge_bound(tr, meas, tight=True)
    assert ok.status == Status.HOLDS and ok.tightness == "attained"
    half = judge_bound(tr, [m / 2 for m in meas])
    assert half.status == Status.CONTRADICTED and half.tightness == "violated"
    loose = judge_bound(tr, [1.0] + [3 * m for m in meas[1:]])
    assert loose.status == Status.HOLDS and loose.tightness == "loose"
    assert judge_bound(tr, [1.0] + [3 * m for m in meas[1:]],
                       tight=True).status == Status.CONTRADICTED
    # within SE of the bound is not a violation; the Bonferroni z grows with the points
    near = judge_bound(tr, [1.0] + [m - 0.02 for m in meas[1:]])
    assert near.status == Status.HOLDS and near.z > 3
    # a declared allowance widens both sides
    assert judge_bound(tr, [1.0] + [m + 0.2 for m in meas[1:]], tight=True,
                       allowance=0.2).status == Status.HOLDS


def test_judge_bound_shape_mismatch() -> None:
    from theorykit.check.bound_check import judge_bound

    with pytest.raises(ValueError):
        judge_bound(_traj([1.0, 0.5]), [1.0])
