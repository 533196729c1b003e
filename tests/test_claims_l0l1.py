"""The (L0, L1) claims hold at the default seed and their mutants are killed
(``derivations/compagnoni2025_l0l1.py``), and the arithmetic of the former
``l0l1.schedule_condition`` claim (the cap's form and that the derived normalization meets
it for every gradient norm), now a unit test: it is true by construction of the SymPy
derivation, so it is checked here rather than reported as a verdict."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

# the two modules register the claims
import derivations.compagnoni2025_l0l1
import derivations.compagnoni2025_l0l1_schedules  # noqa: F401
from theorykit.check.claim import RunContext, Status
from theorykit.check.ledger import run_claim
from theorykit.check.registry import get
from theorykit.rules.l0l1_descent import SYM, degree_of_normalization, descent_inequality


def _run(cid: str):
    v = run_claim(get(cid), RunContext(), mutants=True)
    assert v.status == Status.HOLDS, (v.predicted, v.measured)
    statuses = {m["name"]: m["status"] for m in v.mutants}
    assert len(statuses) >= 2
    assert set(statuses.values()) == {"killed"}, statuses
    return v


def test_ito_drift_holds_and_mutants_killed():
    v = _run("l0l1.ito_drift")
    # the Itô part is a visible share of the drift, so dropping it is detectable
    assert v.details["ito_share_of_int_Lf"] > 0.1


def test_schedule_condition_holds_and_mutants_killed():
    v = _run("l0l1.schedule_condition")
    kept = {m["name"]: m for m in v.mutants}
    assert abs(v.details["fraction_of_descent_kept"] - 0.5) < 0.01
    assert "cap_x2" in kept and "cap_x1_2" in kept


def test_descent_identity_holds_and_mutants_killed():
    v = _run("l0l1.descent_identity")
    assert v.details["max_ito_ratio"]["quartic1"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_decay_vs_normalized_holds_and_mutants_killed():
    _run("l0l1.decay_vs_normalized")


def test_schedule_cap_arithmetic():
    """cap = N/(eta omega_eff (L0 + L1 G)) at theta = 1/2, its large-G form, c1 = eta L1
    omega_eff/N, and the normalized schedule with (c0, c1) meets the cap for every G."""
    s = SYM
    di = descent_inequality(sp.Rational(1, 2))
    om_eff = s["omega"] + (1 + s["omega"]) * s["sigma1"] ** 2
    assert sp.simplify(di.schedule_cap - s["N"] / (
        s["eta"] * om_eff * (s["L0"] + s["L1"] * s["G"]))) == 0
    assert sp.simplify(di.cap_large_g - s["N"] / (s["eta"] * s["L1"] * om_eff * s["G"])) == 0
    assert sp.simplify(di.c1_min - s["eta"] * s["L1"] * om_eff / s["N"]) == 0
    gap = sp.expand((di.c0_min + di.c1_min * s["G"]) * di.schedule_cap - 1)
    assert sp.simplify(gap) == 0
    c0, c1 = degree_of_normalization(0.1, 4, 1.0, 2.0, 3.0)
    G = np.concatenate([[0.0], np.geomspace(1e-3, 1e8, 500)])
    assert np.all(1.0 / (c0 + c1 * G) <= 4 / (0.1 * 3.0 * (1.0 + 2.0 * G)) * (1 + 1e-12))
