"""Optimal truncated quantization (theorykit.rules.quantization).

Oracles: the Laplace TNQSGD closed forms of Yan et al., arXiv 2402.01160 (E* read on a
summary page; α* derived in digest §2.1) re-derived here with SymPy from the model of
digest §2.0, and scipy brute force on objectives integrated independently with ``quad``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from theorykit.check import stats
from theorykit.compressors.registry import make
from theorykit.errors import InputError
from theorykit.rules import quantization as q

torch.set_num_threads(1)

gamma, s, alpha, g = sp.symbols("gamma s alpha g", positive=True)
C_Q = sp.Rational(1, 4)


def _laplace_model(cq: sp.Expr = C_Q) -> sp.Expr:
    """E(α) = B(α) + c_Q J(α)³/s² re-derived from p(g) = e^{-|g|/γ}/(2γ)."""
    p = sp.exp(-g / gamma) / (2 * gamma)
    bias = 2 * sp.integrate((g - alpha) ** 2 * p, (g, alpha, sp.oo))
    J = 2 * sp.integrate(p ** sp.Rational(1, 3), (g, 0, alpha))
    return bias + cq * J**3 / s**2


def test_laplace_nonuniform_closed_form_rederived() -> None:
    E = _laplace_model()
    a_pub = 3 * gamma * sp.log(1 + s * sp.sqrt(6) / 9)
    e_pub = 27 * gamma**2 / (s + 3 * sp.sqrt(6) / 2) ** 2
    # stationarity and value at the published threshold (symbolic identities)
    assert sp.simplify(sp.diff(E, alpha).subs(alpha, a_pub)) == 0
    assert sp.simplify(E.subs(alpha, a_pub) - e_pub) == 0
    # the library's closed form equals the published one
    opt = q.optimize(q.density("laplace"), 7, scheme="nonuniform", exact=False)
    g_lib = q.density("laplace").syms["gamma"]
    a_lib = opt.expression.subs(q.CQ, q.C_Q_WORST).subs(g_lib, gamma).subs(q.S, s)
    e_lib = opt.error_expression.subs(q.CQ, q.C_Q_WORST).subs(g_lib, gamma).subs(q.S, s)
    assert sp.simplify(sp.expand_log(a_lib - a_pub, force=True)) == 0
    assert sp.simplify(e_lib - e_pub) == 0
    # numerically: closed form = scipy brute force of the re-derived objective
    f = sp.lambdify(alpha, E.subs({gamma: 1, s: 7}))
    res = minimize_scalar(f, bounds=(1e-3, 30), method="bounded", options={"xatol": 1e-10})
    assert res.x == pytest.approx(float(a_pub.subs({gamma: 1, s: 7})), rel=1e-6)
    assert res.fun == pytest.approx(float(e_pub.subs({gamma: 1, s: 7})), rel=1e-9)
    assert opt.alpha == pytest.approx(res.x, rel=1e-6)
    assert opt.predicted_error == pytest.approx(res.fun, rel=1e-9)


def test_laplace_uniform_lambert_w() -> None:
    """TUQSGD under Laplace: α* = γ W(s²/(4 c_Q)) (digest §2.1 with c_Q = 1/4: γ W(s²))."""
    cq = sp.Symbol("c_Q", positive=True)
    E = 2 * gamma**2 * sp.exp(-alpha / gamma) + cq * (2 * alpha / s) ** 2
    a_w = gamma * sp.LambertW(s**2 / (4 * cq))
    z = s**2 / (4 * cq)
    stat = sp.diff(E, alpha).subs(alpha, a_w)
    # W's defining identity W(z) e^{W(z)} = z, i.e. e^{-W(z)} = W(z)/z
    assert sp.simplify(stat.subs(sp.exp(-sp.LambertW(z)), sp.LambertW(z) / z)) == 0
    assert float(stat.subs({gamma: 1.3, s: 5, cq: sp.Rational(1, 6)})) == pytest.approx(
        0, abs=1e-12)
    opt = q.optimize(q.density("laplace", gamma=2.0), 5, scheme="uniform", exact=False)
    assert opt.closed_form
    assert opt.alpha == pytest.approx(2.0 * float(sp.LambertW(25)), rel=1e-9)


def test_optimal_level_density_lagrangian() -> None:
    lam, vmin = q.optimal_level_density()
    p, J = sp.symbols("p J", positive=True)
    assert sp.simplify(lam - q.S * p ** sp.Rational(1, 3) / J) == 0
    assert sp.simplify(vmin - q.CQ * J**3 / q.S**2) == 0
    # numerically: on a Laplace(1), α = 3, s = 7, the p^{1/3} density beats perturbations
    # with the same integral (variance functional c_Q ∫ p/λ² on a fine grid)
    x = np.linspace(-3, 3, 20001)
    pd = np.exp(-np.abs(x)) / 2
    base = pd ** (1 / 3)
    base *= 7 / np.trapezoid(base, x)

    def var(lmb: np.ndarray) -> float:
        return 0.25 * np.trapezoid(pd / lmb**2, x)

    v0 = var(base)
    assert v0 == pytest.approx(0.25 * np.trapezoid(pd ** (1 / 3), x) ** 3 / 49, rel=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        pert = base * np.exp(0.3 * np.sin(rng.uniform(0.5, 4) * x + rng.uniform(0, 6)))
        pert *= 7 / np.trapezoid(pert, x)
        assert var(pert) > v0


def test_cubic_tradeoff() -> None:
    y, e = q.cubic_tradeoff()
    A, K = sp.symbols("A K", positive=True)
    Y = sp.Symbol("y", positive=True)
    E = A * Y**3 + K * (1 - Y) ** 3
    assert sp.simplify(sp.diff(E, Y).subs(Y, y)) == 0
    assert sp.simplify(E.subs(Y, y) - e) == 0
    assert float(e.subs({A: 2, K: 3})) == pytest.approx(
        minimize_scalar(lambda t: 2 * t**3 + 3 * (1 - t) ** 3, bounds=(0, 1),
                        method="bounded").fun, rel=1e-8)


def _quad_objective(pdf, a: float, s_: int, scheme: str, low: float = 0.0) -> float:
    """Independent objective by scipy quad (c_Q = 1/4; uniform with the 'bound' mass)."""
    bias = 2 * quad(lambda u: (u - a) ** 2 * pdf(u), max(a, low), np.inf, limit=200)[0]
    if a < low:
        bias += 0.0
    if scheme == "uniform":
        return bias + 0.25 * (2 * a / s_) ** 2
    J = 2 * quad(lambda u: pdf(u) ** (1 / 3), low, a, limit=200)[0]
    return bias + 0.25 * J**3 / s_**2


@pytest.mark.parametrize("name,params,pdf,low", [
    ("gaussian", {"sigma": 1.0}, lambda u: math.exp(-u * u / 2) / math.sqrt(2 * math.pi), 0.0),
    ("student_t", {"nu": 3.0, "scale": 1.0},
     lambda u: 2 / (math.pi * math.sqrt(3) * (1 + u * u / 3) ** 2), 0.0),
    ("pareto", {"rho": 5.0, "g_m": 1.0}, lambda u: 2.0 * u**-5.0, 1.0),
])
@pytest.mark.parametrize("scheme", ["nonuniform", "uniform"])
def test_numeric_optimum_vs_brute_force(name, params, pdf, low, scheme) -> None:
    d = q.density(name, **params)
    opt = q.optimize(d, 7, scheme=scheme, exact=False)
    lo = low + 1e-6 if scheme == "nonuniform" else max(low, 1e-3)
    grid = np.linspace(lo, 15, 300)
    vals = [_quad_objective(pdf, a, 7, scheme, low) for a in grid]
    i = int(np.argmin(vals))
    res = minimize_scalar(lambda a: _quad_objective(pdf, a, 7, scheme, low),
                          bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 299)]),
                          method="bounded", options={"xatol": 1e-9})
    assert opt.alpha == pytest.approx(res.x, rel=1e-4)
    assert opt.predicted_error == pytest.approx(res.fun, rel=1e-7)


def test_pareto_closed_form_matches_digest_formula() -> None:
    """α*_N = g_m[1 + s(ρ-3)√(2/(27(ρ-1)(ρ-2)))]^{3/(ρ-3)} (digest §2.2, derived there)."""
    for rho, s_ in ((5.0, 7), (3.5, 15), (4.0, 3)):
        opt = q.optimize(q.density("pareto", rho=rho, g_m=2.0), s_, exact=False)
        a = 2.0 * (1 + s_ * (rho - 3) * math.sqrt(2 / (27 * (rho - 1) * (rho - 2)))) ** (
            3 / (rho - 3))
        assert opt.closed_form and opt.alpha == pytest.approx(a, rel=1e-9)


def test_codec_mse_exact_integration_vs_quad() -> None:
    d = q.density("laplace")
    lv = q.nonuniform_levels(d, 3.0, 5)
    pdf = lambda u: math.exp(-abs(u)) / 2  # noqa: E731
    var = sum(quad(lambda x, a=a, b=b: (x - a) * (b - x) * pdf(x), a, b,
                   points=[0.0] if a < 0 < b else None)[0] for a, b in itertools.pairwise(lv))
    bias = 2 * quad(lambda x: (x - 3.0) ** 2 * pdf(x), 3.0, np.inf)[0]
    assert q.codec_mse(d, lv) == pytest.approx(bias + var, rel=1e-9)


@pytest.mark.parametrize("name,params,scheme", [
    ("laplace", {"gamma": 1.0}, "nonuniform"), ("gaussian", {"sigma": 2.0}, "uniform"),
    ("gaussian", {"sigma": 1.0}, "biscaled")])
def test_codec_mc_matches_exact_mse(name, params, scheme) -> None:
    """MC of the real catalog codec (float32 wire) vs codec_mse: n = 200000, seed 5,
    |mean - exact| <= 4 SE (z = 4 covers the 3 parametrized cases at family level < 2e-4)."""
    d = q.density(name, **params)
    opt = q.optimize(d, 7, scheme=scheme)
    gen = torch.Generator().manual_seed(5)
    x = d.sample(200_000, gen)
    spec = (make("truncated_nonuniform", tau=opt.alpha, levels=tuple(map(float, opt.levels)))
            if scheme != "uniform" else opt.compressor())
    y = spec.apply(x.reshape(1, -1).float(), gen).reshape(-1).double()
    est = stats.mean_se(((y - x) ** 2).numpy())
    assert abs(est.mean - opt.exact_error) <= 4 * est.se
    if scheme == "uniform":  # the c_Q = 1/4 formula bounds the uniform codec's MSE
        assert opt.exact_error <= opt.predicted_error


def test_levels_and_bits() -> None:
    d = q.density("laplace")
    opt = q.optimize(d, bits=3)
    assert opt.s == 7 and opt.bits == 3 and opt.levels.size == 8
    assert np.all(np.diff(opt.levels) > 0)
    assert np.allclose(opt.levels, -opt.levels[::-1])
    # non-uniform: finer near zero, where the density is larger
    assert np.diff(opt.levels)[3] < np.diff(opt.levels)[0]
    assert q.bits_per_coordinate(1) == 1 and q.bits_per_coordinate(8) == 4
    assert opt.message_bits(100) == 332


@pytest.mark.parametrize("call,match", [
    (lambda: q.density("cauchy"), "nu > 2"),  # the law registry's Student-t, nu = 1
    (lambda: q.density("nosuch"), "unknown density"),
    (lambda: q.density("student_t", nu=2), "nu > 2"),
    (lambda: q.density("pareto", rho=3), "rho > 3"),
    (lambda: q.density("laplace", gamma=-1), "gamma"),
    (lambda: q.density("custom"), "pdf=EXPR"),
    (lambda: q.density("custom", pdf="exp(-g**2)"), "integrates to"),
    (lambda: q.density("custom", pdf="exp(-(g-1)**2/2)/sqrt(2*pi)"), "symmetric"),
    (lambda: q.density("custom", pdf="1/(pi*(1+g**2))"), "second moment|converge"),
    (lambda: q.optimize(q.density("laplace"), 0), "s"),
    (lambda: q.optimize(q.density("laplace"), bits=0), "bits"),
    (lambda: q.optimize(q.density("laplace"), 3, bits=2), "either"),
    (lambda: q.optimize(q.density("laplace"), 3, scheme="log"), "scheme"),
])
def test_bad_input(call, match) -> None:
    with pytest.raises(InputError, match=match):
        call()
