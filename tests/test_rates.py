"""CGD rates derived in SymPy (theorykit.rules.rates): symbolic identities against the
closed forms of the digest (docs/theory/compression_papers.md §1.3, derived there independently),
numeric checks on real CGD runs, the identical-iterates observation, the counterexample,
and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.compressors.classes import B1, B2, B3, SignType, Unbiased
from theorykit.compressors.registry import make
from theorykit.errors import AssumptionError, InputError
from theorykit.rules import rates
from theorykit.rules.rates import (
    ALPHA,
    BETA,
    DELTA,
    ETA,
    GAMMA,
    MU,
    OMEGA,
    L,
    cgd_rate,
    dcgd_counterexample,
    derive,
    identical_iterates,
)

ZETA = 1 + OMEGA
# (class, rho(eta), cap, optimal step, optimal rho): digest §1.3
CLOSED = [
    ("B1", 1 - (ALPHA / BETA) * MU * ETA * (2 - ETA * BETA * L), 2 / (BETA * L), 1 / (BETA * L),
     1 - ALPHA * MU / (BETA**2 * L)),
    ("B2", 1 - GAMMA * MU * ETA * (2 - ETA * BETA * L), 2 / (BETA * L), 1 / (BETA * L),
     1 - GAMMA * MU / (BETA * L)),
    ("B3", 1 - MU * ETA / DELTA, 1 / L, 1 / L, 1 - MU / (DELTA * L)),
    ("U", 1 - MU * ETA * (2 - ETA * ZETA * L), 2 / (ZETA * L), 1 / (ZETA * L),
     1 - MU / (ZETA * L)),
]


@pytest.mark.parametrize(("cls", "rho", "cap", "eta_opt", "rho_opt"), CLOSED,
                         ids=[c[0] for c in CLOSED])
def test_derived_rate_equals_closed_form(cls, rho, cap, eta_opt, rho_opt):
    der = derive(cls)
    assert sp.simplify(der.contraction - rho) == 0
    assert sp.simplify(der.step_cap - cap) == 0
    assert sp.simplify(der.optimal_step - eta_opt) == 0
    assert sp.simplify(der.optimal_contraction - rho_opt) == 0
    # numerically too, at random admissible values
    rng = np.random.default_rng(0)
    for _ in range(5):
        vals = {MU: rng.uniform(0.1, 1), L: rng.uniform(1, 5), ALPHA: rng.uniform(0.1, 0.5),
                BETA: rng.uniform(1, 2), GAMMA: rng.uniform(0.1, 0.5),
                DELTA: rng.uniform(1, 10), OMEGA: rng.uniform(0, 5)}
        vals[ETA] = float(cap.subs(vals)) * rng.uniform(0.05, 1)
        assert float(der.contraction.subs(vals)) == pytest.approx(float(rho.subs(vals)),
                                                                  rel=1e-12)
    # the derivation records each inequality it used
    assert der.steps[0].text.startswith("descent lemma")
    assert "PL" in der.steps[-1].text


def test_contraction_is_minimal_at_optimal_step():
    for cls, *_ in CLOSED:
        der = derive(cls)
        vals = {MU: 0.3, L: 2.0, ALPHA: 0.25, BETA: 1.5, GAMMA: 0.2, DELTA: 4, OMEGA: 2}
        f = sp.lambdify(ETA, der.contraction.subs(vals))
        cap = float(der.step_cap.subs(vals))
        grid = np.linspace(cap / 1000, cap, 2001)
        best = grid[np.argmin([f(e) for e in grid])]
        assert best == pytest.approx(float(der.optimal_step.subs(vals)), rel=2e-3)


def test_identical_iterates_symbolic():
    ii = identical_iterates()
    assert ii.difference_at_natural == 0
    z = ii.zeta
    # rho_B3(zeta eta) - rho_U(eta) = mu eta (1 - zeta eta L) >= 0 for eta <= 1/(zeta L)
    assert sp.simplify(ii.gap - MU * ETA * (1 - z * ETA * L)) == 0
    assert sp.simplify(ii.natural_scaled - (1 - MU / (z * L))) == 0
    assert ii.gap.subs({z: 3, MU: 1, L: 10, ETA: sp.Rational(1, 60)}) > 0


def test_identical_iterates_numeric():
    """rand-k at 1/(zeta L) and its contractive scaling at 1/L give the same iterates."""
    from theorykit.compressors.algebra import contractive
    from theorykit.methods.biased import DCGD, run
    from theorykit.problems import LocalQuadratics

    u = make("randk", k=2, d=8)
    b3 = contractive(u)
    ru, rb = cgd_rate(u, 1, 10, cls="U"), cgd_rate(b3, 1, 10, cls="B3")
    assert sp.simplify(ru.contraction - rb.contraction) == 0
    p = LocalQuadratics.random(1, 8, mu=1, L=10, seed=3)
    x0 = torch.randn(4, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    outs = [run(DCGD(s), p, x0=x0, eta=float(r.eta), steps=30, replicas=4,
                generator=torch.Generator().manual_seed(5)) for s, r in ((u, ru), (b3, rb))]
    np.testing.assert_allclose(outs[0].dist, outs[1].dist, rtol=1e-10)


@pytest.mark.parametrize("name", ["topk", "randk_unscaled", "scaled_sign", "biased_bernoulli",
                                  "randk", "natural"])
def test_cgd_contracts_at_least_as_fast_as_the_bound(name):
    """Measured mean one-step ratio E[r_{k+1}/r_k] <= rho + 4 SE (16 replicas, 40 steps,
    seed 1); deterministic codecs: every single step <= rho (1 + 1e-6)."""
    from theorykit.check.stats import mean_se
    from theorykit.methods.biased import DCGD, run
    from theorykit.problems import LocalQuadratics

    d = 8
    params = {"k": 2} if "rand" in name or "top" in name else (
        {"p": 0.5} if "bernoulli" in name else {})
    spec = make(name, d=d, **params)
    rate = cgd_rate(spec, 1.0, 10.0)
    rho = float(rate.contraction)
    p = LocalQuadratics.random(1, d, mu=1, L=10, seed=2)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(16, d, generator=g, dtype=torch.float64)
    r = run(DCGD(spec), p, x0=x0, eta=float(rate.eta), steps=40, replicas=16, generator=g)
    ratios = r.gap[:, 1:] / r.gap[:, :-1]
    est = mean_se(ratios.mean(1))
    assert est.mean <= rho + 4 * est.se
    if not spec.randomized:
        assert ratios.max() <= rho * (1 + 1e-6)


def test_cgd_rate_instantiation_and_choice():
    topk = make("topk", k=2, d=8)
    r = cgd_rate(topk, 1, 10)
    # B1(1/4, 1), B2(1/4, 1), B3(4) all give 1 - 1/40 at their optimal steps
    assert float(r.optimal_contraction) == pytest.approx(1 - 1 / 40)
    assert set(r.alternatives) | {r.cls.name} == {"B1", "B2", "B3"}
    assert r.iterations(1e-3) == int(np.ceil(np.log(1e-3) / np.log(1 - 1 / 40)))
    r3 = cgd_rate(topk, 1, 10, eta=0.05, cls="B3")
    assert float(r3.contraction) == pytest.approx(1 - 0.05 / 4)
    fn = r3.contraction_fn()
    assert fn(0.05) == pytest.approx(float(r3.contraction))
    # symbolic constants stay symbolic
    rs = cgd_rate(B3(DELTA))
    assert sp.simplify(rs.optimal_contraction - (1 - MU / (DELTA * L))) == 0
    # unbiased with d symbolic: randk without d
    ru = cgd_rate(make("randk", k=2), 1, 10, cls="U")
    assert ru.optimal_contraction.free_symbols
    assert "rho" in r.latex() or "\\rho" in r.latex()
    assert r.as_floats()["class"].startswith(("B1", "B2", "B3"))


def test_bad_input_messages():
    topk = make("topk", k=2, d=8)
    with pytest.raises(AssumptionError, match="not in class U"):
        cgd_rate(topk, 1, 10, cls="U")
    with pytest.raises(AssumptionError, match="exceeds the admissible cap"):
        cgd_rate(topk, 1, 10, eta=0.5, cls="B3")
    with pytest.raises(AssumptionError, match="exceeds the admissible cap"):
        cgd_rate(topk, 1, 10, eta=0.5)
    with pytest.raises(AssumptionError, match=r"mu=20 > L=10"):
        cgd_rate(topk, 20, 10)
    with pytest.raises(InputError, match="mu must be > 0"):
        cgd_rate(topk, -1, 10)
    with pytest.raises(InputError, match="eta must be > 0"):
        cgd_rate(topk, 1, 10, eta=0)
    with pytest.raises(InputError, match="finite"):
        cgd_rate(topk, float("nan"), 10)
    with pytest.raises(AssumptionError, match="sign-type"):
        cgd_rate(SignType(), 1, 10)
    with pytest.raises(AssumptionError, match="sign-type"):
        cgd_rate(make("sign", d=4), 1, 10)
    with pytest.raises(AssumptionError, match="no class membership"):
        cgd_rate(make("truncated_uniform", tau=1.0, s=4, d=4), 1, 10)
    with pytest.raises(InputError, match="delta >= 1"):
        cgd_rate(B3(sp.Rational(1, 2)), 1, 10)
    with pytest.raises(InputError, match="alpha <= beta"):
        cgd_rate(B1(4, 1), 1, 10)
    with pytest.raises(InputError, match="gamma <= beta"):
        cgd_rate(B2(2, 1), 1, 10)
    with pytest.raises(InputError, match="omega >= 0"):
        cgd_rate(Unbiased(-1), 1, 10)
    with pytest.raises(InputError, match="unknown class"):
        cgd_rate(topk, 1, 10, cls="B7")
    with pytest.raises(InputError, match="instance"):
        cgd_rate(type(topk), 1, 10)
    with pytest.raises(InputError):
        derive("B9")


def test_counterexample_derived():
    ce = dcgd_counterexample(1)
    assert sp.simplify(ce.growth - (1 + sp.Rational(11, 6) * ETA)) == 0
    mu, lip = ce.mu, ce.L
    assert mu == sp.Rational(7, 6)
    assert lip == sp.Rational(103, 6)
    assert ce.minimizer == sp.zeros(3, 1)
    # Hessian (2/3)(25 I - 8 11^T) + I/2 (digest §1.4)
    H = sp.Rational(2, 3) * (25 * sp.eye(3) - 8 * sp.ones(3, 3)) + sp.eye(3) / 2
    assert sp.simplify(ce.hessian - H) == sp.zeros(3)
    assert rates.COUNTEREXAMPLE_A[0] == (-3, 2, 2)
