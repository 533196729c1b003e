"""The resilience claims hold at the default seed and their mutants (wrong theories) are
contradicted by the same check (issue 10: every verdict must be able to fail)."""

from __future__ import annotations

import pytest

import derivations.compagnoni2025_resilience
import derivations.compagnoni2025_resilience_heavy_tails
import derivations.compagnoni2025_resilience_stability  # noqa: F401  (registers the claims)
from theorykit.check import RunContext
from theorykit.check.claim import Status
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get


@pytest.mark.parametrize("cid", ["resilience.bound.dcsgd_nonconvex",
                                 "resilience.noise_slope.dcsgd"])
def test_claim_holds_and_every_mutant_is_killed(cid: str) -> None:
    c = get(cid)
    assert len(c.mutants) >= 2
    v = run_claim(c, RunContext(), mutants=True)
    assert v.status == Status.HOLDS, v.details
    assert v.mutants is not None and len(v.mutants) == len(c.mutants)
    not_killed = [(m["name"], m["status"]) for m in v.mutants if m["status"] != "killed"]
    assert not not_killed


def test_pl_bound_holds_two_sided_and_its_mutants_are_killed() -> None:
    v = run_claim(get("resilience.bound.dcsgd_pl"), RunContext(), mutants=True)
    assert v.status == Status.HOLDS, v.details
    assert {m["name"]: m["status"] for m in v.mutants or []} == {
        "bound_x2": "killed", "bound_x1_2": "killed", "rate_x2": "killed",
        "rate_x1_2": "killed", "drop_omega": "killed"}
    assert "two-sided" in v.tolerance
    assert v.details["tightness"] == "attained"
    # the anisotropic side is one-sided and reported loose, not contradicted
    assert v.details["one_sided"]["sde"]["status"] == "holds"


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["resilience.heavy_tails.dsignsgd_factor",
                                 "resilience.stability.dcsgd",
                                 "resilience.workers_slope.dsignsgd"])
def test_slow_claims_hold_and_mutants_killed(cid: str) -> None:
    v = run_claim(get(cid), RunContext(), mutants=True)
    assert v.status == Status.HOLDS
    assert all(m["status"] == "killed" for m in v.mutants or [])
