"""The scaling.* claims hold and every mutant (a wrong rule) is killed by the same check
(issue 10), plus the statistic of theorykit.check.rule_check on its own."""

from __future__ import annotations

import numpy as np
import pytest

import derivations.compagnoni2025_scaling  # noqa: F401 - registers the claims
from theorykit.check.claim import RunContext
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get
from theorykit.check.rule_check import (
    Config,
    Curve,
    Prediction,
    allowance,
    curve_distance,
    plan,
    scaled_config,
)
from theorykit.errors import InputError


@pytest.mark.parametrize("cid", ["scaling.dsgd", "scaling.dsignsgd_gaussian"])
def test_claim_holds_and_mutants_are_killed(cid: str) -> None:
    v = run_claim(get(cid), RunContext(), mutants=True)
    assert v.status.value == "holds", v.details
    assert v.mutants and len(v.mutants) >= 3
    assert all(m["status"] == "killed" for m in v.mutants), v.mutants
    # the allowance is each side's own discretisation error: far below the gap of a wrong rule
    assert v.details["distance"]["max_allowance_over_se"] < min(v.details["resolution"].values())


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["scaling.dcsgd_bernoulli", "scaling.dcsgd_from_dsgd"])
def test_more_claims_hold_and_mutants_are_killed(cid: str) -> None:
    v = run_claim(get(cid), RunContext(), mutants=True)
    assert v.status.value == "holds", v.details
    assert all(m["status"] == "killed" for m in v.mutants), v.mutants


def _curve(m: list[float], se: float) -> Curve:
    return Curve(np.array(m), np.full(len(m), se), 100, 0)


def test_curve_distance_subtracts_the_allowance_and_skips_the_start() -> None:
    a, b = _curve([5.0, 1.0, 0.5], 0.01), _curve([0.0, 1.1, 0.5], 0.01)
    d = curve_distance(a, b, np.array([0.0, 0.05, 0.0]))
    assert d["at_checkpoint"] == 1
    assert d["D"] == pytest.approx((0.1 - 0.05) / np.hypot(0.01, 0.01))


def test_allowance_is_each_sides_own_error_not_the_gap() -> None:
    base = Prediction(np.array([1.0, 0.50]), np.array([1.0, 0.49]))
    other = Prediction(np.array([1.0, 0.30]), np.array([1.0, 0.28]))
    a = allowance(base, other)
    assert a[1] == pytest.approx(0.01 + 0.02)  # not |0.50 - 0.30|


def test_scaled_config_and_plan() -> None:
    base = Config(0.02, 2, 1)
    assert scaled_config(base, 2.0, 1.0, 4.0) == Config(0.04, 2, 4)
    with pytest.raises(InputError):
        scaled_config(base, 1.0, 0.75, 1.0)  # 1.5 workers
    with pytest.raises(InputError):
        scaled_config(base, float("nan"), 1.0, 1.0)
    samples, n = plan(256, 16, [Config(0.02, 1, 1), Config(0.1, 2, 3)])
    assert samples % 6 == 0 and samples <= 256 and n <= 16 and (samples // n) % 6 == 0
