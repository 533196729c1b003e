"""The yan2024 quantization claims hold and their mutants are killed (issue 10: every
verdict must be able to fail). Quick mode, default seed; each test runs one claim and all
its mutants through ``run_claim(..., mutants=True)``."""

from __future__ import annotations

import pytest

from theorykit.check.claim import RunContext
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get


def _run(cid: str):
    v = run_claim(get(cid), RunContext(), mutants=True)
    assert v.mutants is not None and len(v.mutants) >= 2
    return v


@pytest.mark.parametrize("cid", [
    "yan2024.tnqsgd-laplace-closed-form",
    "yan2024.tnqsgd-laplace-bound",
    "yan2024.private-mse",
    "yan2024.private-epsilon",
])
def test_claim_holds_and_mutants_killed(cid: str) -> None:
    v = _run(cid)
    assert v.status.value == "holds", v.details
    bad = [(m["name"], m["status"], m.get("error")) for m in v.mutants
           if m["status"] != "killed"]
    assert not bad


def test_bound_tightness_is_judged() -> None:
    """The Laplace bound claim reports and judges the tightness: a bound 2x too loose
    is contradicted (it used to hold: one-sided)."""
    v = _run("yan2024.tnqsgd-laplace-bound")
    loose = next(m for m in v.mutants if m["name"] == "bound_x2")
    assert loose["verdict"] == "contradicted"
    assert all(r["tight_ok"] and r["upper_ok"] for r in v.details["per_s"])
    lo, hi = v.details["tightness_range"]
    assert 0.6 < lo <= hi < 1.0
