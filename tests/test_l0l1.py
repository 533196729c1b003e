"""(L0, L1)-smoothness: checker, descent inequality, schedule condition, normalization
(theorykit.rules.l0l1, guarded runs in theorykit.run.guarded; Compagnoni et al.,
arXiv 2506.00181, forms derived)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check import stats
from theorykit.compressors.registry import make
from theorykit.errors import AssumptionError, InputError
from theorykit.methods import DCSGD, GenericUnbiased
from theorykit.noise import Gaussian
from theorykit.problems import CoshSum, L0L1Quartic, Problem, Quadratic
from theorykit.rules.l0l1 import (
    SYM,
    check_l0l1,
    dcsgd_sigma,
    degree_of_normalization,
    descent_inequality,
    dynkin_check,
    generator,
    normalized_schedule,
    sign_noise_bound,
    smallest_l0,
)
from theorykit.run.guarded import discrete_step, guarded_run
from theorykit.schedules import GradientNormalized, PolynomialDecay
from theorykit.sde import derive

torch.set_num_threads(1)
S = SYM


# ---------------------------------------------------------------------- checker
@pytest.mark.parametrize("prob, l0, l1", [(L0L1Quartic(d=2), 1.0, 2.0),
                                          (CoshSum(d=2), 1.0, 1.0)])
def test_problems_are_l0l1_not_l_smooth(prob, l0, l1):
    rep = check_l0l1(prob, samples=600, seed=1)
    assert (l0, l1) == (rep.L0, rep.L1)
    assert rep.symbolic == "holds"
    assert [float(e) for e in rep.l0_min] == [l0, l0]  # the stated L0 is the smallest
    assert rep.max_rel_excess <= 1e-9
    assert rep.hessian_unbounded is True and not rep.l_smooth
    assert rep.hessian_growth > 2


def test_quadratic_is_l_smooth():
    rep = check_l0l1(Quadratic(eigs=[1.0, 3.0]), samples=300)
    assert rep.hessian_unbounded is False and rep.l_smooth
    assert [float(e) for e in rep.l0_min] == [1.0, 3.0]


def test_smallest_l0_quartic_symbolic_and_numeric():
    L1 = sp.Symbol("L1", positive=True)
    (l0,) = smallest_l0(L0L1Quartic(d=1), L1)
    assert sp.simplify(l0 - 4 / L1**2) == 0
    # numerically: max over a fine grid of 3x^2 - L1 x^3 at L1 = 0.5
    x = np.linspace(0, 20, 200_001)
    assert float(l0.subs(L1, 0.5)) == pytest.approx(np.max(3 * x**2 - 0.5 * x**3), rel=1e-8)


def test_non_separable_problem_numeric_only():
    x1, x2 = sp.symbols("x1 x2", real=True)
    p = Problem.from_expr((x1 + x2) ** 4 / 4 + x1**2 / 2, [x1, x2])
    rep = check_l0l1(p, L0=20.0, L1=4.0, radius=3.0, samples=300,
                     raise_on_violation=False)
    assert rep.symbolic == "n/a" and rep.l0_min is None
    assert rep.n_points > 0 and math.isfinite(rep.max_excess)


def test_violations_and_bad_input():
    with pytest.raises(AssumptionError, match=r"not .*smooth"):
        check_l0l1(L0L1Quartic(d=2), L0=0.99, L1=2.0, samples=300)
    with pytest.raises(AssumptionError, match="cosh"):
        check_l0l1(CoshSum(d=1), L0=1.0, L1=0.5, samples=300)
    with pytest.raises(InputError, match="L0"):
        check_l0l1(L0L1Quartic(d=1), L0=-1.0, L1=2.0)
    with pytest.raises(InputError, match="L1"):
        check_l0l1(L0L1Quartic(d=1), L0=1.0, L1=-2.0)
    x = sp.Symbol("x", real=True)
    with pytest.raises(InputError, match="declares no"):
        check_l0l1(Problem.from_expr(x**4, [x]))
    with pytest.raises(InputError):
        check_l0l1("quartic")
    with pytest.raises(InputError, match="L1"):
        degree_of_normalization(0.1, 4, 1.0, -2.0, 3.0)
    with pytest.raises(InputError, match="eta"):
        degree_of_normalization(0.0, 4, 1.0, 2.0, 3.0)
    with pytest.raises(InputError, match="theta"):
        descent_inequality(1.5)


# ---------------------------------------------------------------------- generator identity
def test_generator_identity_generic_omega():
    prob = L0L1Quartic(d=2)
    sde = derive(DCSGD(GenericUnbiased("omega")), None, Gaussian(sigma="sigma"), prob)
    N, B, sig, om = (sde.params[k] for k in ("N", "B", "sigma", "omega"))
    g = prob.grad()
    paper = -S["m"] * (g.T * g)[0, 0] + S["eta"] * S["m"] ** 2 / (2 * N) * (
        prob.hessian() * dcsgd_sigma(g, [sig**2 / B] * 2, om)).trace()
    lf = generator(sde, prob.f)
    assert sp.simplify(lf - paper) == 0
    # numerically at one point
    vals = {sde.x[0]: 0.7, sde.x[1]: -1.3, N: 3, B: 2, sig: 0.5, om: 2.0, S["eta"]: 0.1,
            S["m"]: 0.4}
    assert float(lf.subs(vals)) == pytest.approx(float(paper.subs(vals)), rel=1e-12)


def test_generator_bounded_by_derived_inequality():
    di = descent_inequality(sp.Rational(1, 2))
    prob = CoshSum(d=2)
    sde = derive(DCSGD(make("bernoulli", p=0.25)), None, Gaussian(1.0), prob, n_workers=4,
                 batch=1)
    rng = np.random.default_rng(0)
    for x in rng.standard_normal((30, 2)) * 3:
        at = dict(zip(sde.x, x, strict=True))
        lf = float(generator(sde, prob.f, sp.Float(0.7)).subs(sde.lr, 0.1).subs(at))
        G = float(np.linalg.norm(np.sinh(x)))
        bound = float(di.rhs.subs({S["m"]: 0.7, S["eta"]: 0.1, S["N"]: 4, S["L0"]: 1,
                                   S["L1"]: 1, S["omega"]: 3, S["sigma0"]: math.sqrt(2),
                                   S["sigma1"]: 0, S["G"]: G}))
        assert lf <= bound + 1e-9 * abs(bound)


def test_descent_inequality_terms():
    di = descent_inequality()
    om_eff = S["omega"] + (1 + S["omega"]) * S["sigma1"] ** 2
    eta, m, N, G = S["eta"], S["m"], S["N"], S["G"]
    assert sp.simplify(di.cubic - eta * m**2 / (2 * N) * S["L1"] * om_eff * G**3) == 0
    assert sp.simplify(di.omega_eff - om_eff) == 0
    th = S["theta"]
    cap = 2 * (1 - th) * N / (eta * om_eff * (S["L0"] + S["L1"] * G))
    assert sp.simplify(di.schedule_cap - cap) == 0
    assert sp.simplify(di.cap_large_g - 2 * (1 - th) * N / (eta * S["L1"] * om_eff * G)) == 0
    assert sp.simplify(di.c1_min - eta * S["L1"] * om_eff / (2 * (1 - th) * N)) == 0
    assert set(di.coeffs()) == {0, 1, 2, 3}
    # DSignSGD's Itô term is linear in G, DCSGD's bound is cubic
    assert sp.degree(sign_noise_bound(), G) == 1 and sp.degree(di.rhs, G) == 3
    # numerically: at the cap the G^2 and G^3 Itô terms equal (1 - theta) of the descent
    v = {eta: 0.1, N: 4, S["L0"]: 1, S["L1"]: 2, S["omega"]: 3, S["sigma1"]: 0.5, G: 7.0,
         th: 0.5}
    mc = float(cap.subs(v))
    ito = 0.1 * mc**2 / 8 * (1 + 2 * 7.0) * float(om_eff.subs(v)) * 49
    assert ito == pytest.approx(0.5 * mc * 49, rel=1e-12)


def test_degree_of_normalization_values():
    c0, c1 = degree_of_normalization(0.1, 4, 1.0, 2.0, 3.0)
    assert (c0, c1) == (1.0, pytest.approx(0.15))
    _, c1s = degree_of_normalization(0.1, 4, 1.0, 2.0, 3.0, sigma1=1.0)
    assert c1s == pytest.approx(0.1 * 2 * (3 + 4) / 4)  # omega_eff = omega + (1+omega)s1^2
    c0b, _ = degree_of_normalization(10.0, 1, 5.0, 2.0, 3.0)
    assert c0b == pytest.approx(150.0)
    sch = normalized_schedule(0.1, 4, 1.0, 2.0, 3.0)
    assert isinstance(sch, GradientNormalized) and sch.c1 == pytest.approx(0.15)
    g = torch.tensor([0.0, 10.0, 1e6], dtype=torch.float64)
    cap = 4 / (0.1 * 3 * (1 + 2 * g))
    assert torch.all(sch(0, g) <= cap)


# ---------------------------------------------------------------------- simulations
def test_dynkin_residual_vanishes_with_dt():
    prob = L0L1Quartic(d=2)
    sde = derive(DCSGD(make("bernoulli", p=0.25)), None, Gaussian(1.0), prob, n_workers=4,
                 batch=1)
    res = []
    for j, steps in enumerate((20, 40)):
        r = dynkin_check(sde, prob, {}, eta=0.1, schedule=PolynomialDecay(0.6),
                         x0=(1.3, 1.3), steps=steps, dt=0.05 / steps, replicas=2000,
                         seed=5 + j)
        res.append((stats.mean_se(r.delta - r.integral),
                    stats.mean_se(r.delta - r.integral_first_order)))
    ex = 2 * res[1][0].mean - res[0][0].mean
    se = math.hypot(2 * res[1][0].se, res[0][0].se)
    assert abs(ex) <= 3 * se  # n = 2000 per dt, seeds 5/6, z = 3
    ex1 = 2 * res[1][1].mean - res[0][1].mean
    se1 = math.hypot(2 * res[1][1].se, res[0][1].se)
    assert abs(ex1) > 3 * se1  # without the Itô term the residual does not vanish


def test_large_start_dcsgd_diverges_normalized_converges():
    prob = L0L1Quartic(d=2)
    noise = Gaussian(1.0)
    comp = make("bernoulli", p=0.25)
    base = PolynomialDecay(0.6)
    kw = dict(steps=300, replicas=200, seed=11, threshold=400.0)
    plain = guarded_run(discrete_step(DCSGD(comp), prob, noise, 0.1, base, 4), prob,
                        (4.0, 4.0), **kw)
    norm = guarded_run(discrete_step(DCSGD(comp), prob, noise, 0.1,
                                     normalized_schedule(0.1, 4, 1.0, 2.0, 3.0), 4), prob,
                       (4.0, 4.0), **kw)
    # n = 200: a diverging fraction near 0.47 (SE ~0.035) is far above 5%
    assert plain.frac_diverged >= 0.05 and plain.first_divergence is not None
    assert norm.frac_diverged == 0.0
    assert np.nanmean(norm.final_loss) < 0.01 * norm.f0
