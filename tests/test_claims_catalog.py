"""The compressor-catalog certification claims hold and their mutants are killed.

Each test runs one claim of ``derivations/catalog_certification.py`` at the default seed
with ``mutants=True``: the claim must hold and every declared wrong theory (a constant x2
or x1/2, a biased map claimed unbiased, ...) must come out *contradicted* through the same
check on the same samples.
"""

from __future__ import annotations

import pytest

from theorykit.check.claim import RunContext, Status
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get


def _run(name: str):
    v = run_claim(get(f"compressors.{name}"), RunContext(), mutants=True)
    assert v.status == Status.HOLDS, (v.measured, v.details.get("contradicted"))
    assert v.mutants, "no mutants declared"
    survivors = [(m["name"], m["status"], m["measured"]) for m in v.mutants
                 if m["status"] != "killed"]
    assert not survivors, survivors
    return v


def test_topk_tight_constants_are_judged_two_sided():
    """Top-k's constants are all attained (equal magnitudes; ||C||^2 = <C, x> always), so
    both x2 and x1/2 of every constant are killed, and 'claimed unbiased' too."""
    v = _run("topk")
    names = {m["name"] for m in v.mutants}
    for key in ("B1.alpha", "B1.beta", "B2.gamma", "B2.beta", "B3.delta"):
        assert {f"{key}_x2", f"{key}_x1_2"} <= names
    assert "biased_claimed_unbiased" in names
    assert any("B3.delta.attained" in line for line in v.details["constants"])
    assert v.details["loose_by_design"] == {} and v.details["undecidable_mutants"] == []


def test_qsgd_loose_omega_reports_the_undecidable_mutant():
    """QSGD's Lemma 3.1 omega is a true but loose bound (attained ratio 0.75 at s = 1, 0.5
    at d = 4 s^2): omega x2 cannot be refuted and is reported, not declared."""
    v = _run("qsgd")
    names = {m["name"] for m in v.mutants}
    assert "U.omega_x2" not in names and "U.omega_x1_2" in names
    assert v.details["undecidable_mutants"] == ["U.omega_x2"]
    assert set(v.details["loose_by_design"]) == {"U.omega"}


def test_sign_and_truncated_quantizer_mutants():
    v = _run("sign")
    assert {m["name"] for m in v.mutants} == {"homogeneous", "scaled_sign_constants",
                                              "claimed_unbiased"}
    v = _run("truncated_uniform")
    assert {m["name"] for m in v.mutants} == {"slope_x2", "slope_x1_2", "bounded"}


@pytest.mark.slow
def test_randk_and_natural_dithering():
    v = _run("randk")
    assert len(v.mutants) == 11
    v = _run("natural_dithering")
    assert "digest_exponent" in {m["name"] for m in v.mutants}
