"""The beznosikov2023 claims hold and their mutants are killed (issue 10)."""

from __future__ import annotations

import pytest

from theorykit.check.claim import RunContext
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get


def _run(claim_id: str):
    v = run_claim(get(claim_id), RunContext(), mutants=True)
    return v, {m["name"]: m["status"] for m in v.mutants}


def test_dcgd_counterexample_holds_and_mutants_killed():
    v, muts = _run("beznosikov2023.dcgd_counterexample")
    assert v.status.value == "holds", v.measured
    assert len(muts) >= 2
    assert set(muts.values()) == {"killed"}, muts


def test_ef_converges_counterexample_holds_and_mutants_killed():
    v, muts = _run("beznosikov2023.ef_converges_counterexample")
    assert v.status.value == "holds", v.measured
    assert set(muts.values()) == {"killed"}, muts
    # the EF21 theorem's rate holds but is not 2x loose: the slow mode contracts at ~(1-γμ)²
    assert v.details["ef21_max_step_ratio"] <= v.details["ef21_rate"]


@pytest.mark.slow
def test_cgd_rates_tight_and_mutants_killed():
    v, muts = _run("beznosikov2023.cgd_rates")
    assert v.status.value == "holds", v.measured
    assert set(muts.values()) == {"killed"}, muts


@pytest.mark.slow
def test_ef_bound_exponent_and_mutants_killed():
    v, muts = _run("beznosikov2023.ef_bound")
    assert v.status.value == "holds", v.measured
    assert set(muts.values()) == {"killed"}, muts


def test_ef_floor_exact_recursion_is_additive_and_is_sgd_at_p1():
    """The exact floor is linear and additive in (C, D) and p = 1 (no compression) makes
    EF plain SGD, whose floor (ηC/(4d)) Σ 1/(1 - ηλ_i/2) is known in closed form."""
    import numpy as np

    from theorykit.problems import LocalQuadratics
    from theorykit.rules.ef_bound import ef_floor_exact

    p0 = LocalQuadratics.random(2, 4, mu=1.0, L=4.0, heterogeneity=0.0, seed=3)
    p1 = LocalQuadratics.random(2, 4, mu=1.0, L=4.0, heterogeneity=1.0, seed=3)
    p2 = LocalQuadratics.random(2, 4, mu=1.0, L=4.0, heterogeneity=2.0, seed=3)
    eta = 0.05
    a = ef_floor_exact(p0, p=0.5, eta=eta, C=1.0)
    b = ef_floor_exact(p1, p=0.5, eta=eta, C=0.0)
    both = ef_floor_exact(p2, p=0.5, eta=eta, C=3.0)
    assert both == pytest.approx(3 * a + 2 * b, rel=1e-8)
    # SGD noise floor: per eigen-direction E z² = η² (C/(n d)) / (1 - (1 - ηλ)²)
    lam = np.linalg.eigvalsh(p0.A.mean(0).numpy())
    n, d = 2, 4
    sgd = sum(0.5 * lm * eta**2 * (1.0 / (n * d)) / (1 - (1 - eta * lm) ** 2) for lm in lam)
    assert ef_floor_exact(p0, p=1.0, eta=eta, C=1.0) == pytest.approx(sgd, rel=1e-8)
