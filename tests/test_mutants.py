"""The mutant machinery: a mutant runs through the same check with the same seed and the
shared measurement, is killed when that check says contradicted, and verify fails when one
survives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from theorykit.check import RunContext, Source, Status, Verdict
from theorykit.check.claim import Claim
from theorykit.check.ledger import mutant_summary, run_claim
from theorykit.check.mutants import Mutant, Theory, factor_mutants, mutant, mutant_status
from theorykit.check.stats import Estimate, agree

SRC = Source("test", "none", "derived")


def _claim(mutants: tuple[Mutant, ...], calls: list[str]) -> Claim:
    def run(ctx: RunContext) -> Verdict:
        est = ctx.memo("m", lambda: calls.append("measure") or Estimate(1.0, 0.01, 100))
        calls.append(ctx.theory.name)
        return agree("t", ctx.theory.factor("c"), est)
    return Claim("t", "t", SRC, run, mutants=mutants)


def test_mutants_share_the_measurement_and_are_judged_by_the_same_check() -> None:
    calls: list[str] = []
    c = _claim((*factor_mutants("c", "constant"), mutant("same", "no change", c=1.0)), calls)
    v = run_claim(c, RunContext(), mutants=True)
    assert v.status == Status.HOLDS
    assert calls.count("measure") == 1
    assert [m["status"] for m in v.mutants] == ["killed", "killed", "survived"]
    assert [m["predicted"] for m in v.mutants] == [2.0, 0.5, 1.0]
    assert mutant_summary(v) == "2/3"
    assert v.provenance["mutants_run"] is True
    assert v.against == "derived"


def test_without_mutants_nothing_extra_runs() -> None:
    calls: list[str] = []
    v = run_claim(_claim(factor_mutants("c", "constant"), calls), RunContext())
    assert v.mutants is None and calls == ["measure", "theory"]
    assert mutant_summary(v) == "-"


def test_mutant_knobs() -> None:
    t = Theory({"diffusion": 0.0, "drop_ito": True, "law": "gauss"}, "m")
    assert t.factor("diffusion") == 0.0 and t.factor("other") == 1.0
    assert t.flag("drop_ito") and not t.flag("x") and t.choice("law", "t") == "gauss"
    assert t.is_mutant and not Theory().is_mutant
    with pytest.raises(ValueError):
        Mutant("empty", "changes nothing", {})
    assert [mutant_status(s) for s in ("contradicted", "holds", "inconclusive", "error")] == [
        "killed", "survived", "inconclusive", "error"]
    assert [m.name for m in factor_mutants("k", "k")] == ["k_x2", "k_x1_2"]


def test_status_of_a_decided_check() -> None:
    """``Status.of(ok)``: the one holds-or-contradicted rule the claim modules use; a
    mutant is killed exactly when its check's ``ok`` is false."""
    assert Status.of(True) is Status.HOLDS and Status.of(False) is Status.CONTRADICTED
    assert Status.of(np.bool_(True)) is Status.HOLDS
    assert Status.of(not []) is Status.HOLDS and Status.of(not ["bad row"]) is Status.CONTRADICTED
    assert mutant_status(Status.of(False).value) == "killed"
    assert list(Status) == [Status.HOLDS, Status.CONTRADICTED, Status.INCONCLUSIVE,
                            Status.ERROR]  # ``of`` is a method, not a member


ROOT = Path(__file__).resolve().parents[1]


def _verify(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "theorykit", "verify", "--no-progress", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_user_claims_module_with_mutants(tmp_path) -> None:
    out = tmp_path / "v.json"
    r = _verify(ROOT, "--claims", "examples.my_claims", "--mutants", "--json", str(out))
    assert r.returncode == 0, r.stderr + r.stdout
    data = json.loads(out.read_text())
    (v,) = data["verdicts"]
    assert v["status"] == "holds" and data["mutants_run"] is True
    assert {m["status"] for m in v["mutants"]} == {"killed"}
    assert {"name", "description", "status", "predicted", "measured"} <= set(v["mutants"][0])


def test_surviving_mutant_fails_verify(tmp_path) -> None:
    (tmp_path / "weak_claims.py").write_text(textwrap.dedent('''
        from theorykit.check import claim, Source
        from theorykit.check.mutants import factor_mutants
        from theorykit.check.stats import Estimate, at_most

        @claim("weak.one_sided", "a loose one-sided bound", Source("t", "t", "derived"),
               mutants=factor_mutants("bound", "the bound"))
        def run(ctx):
            return at_most("weak.one_sided", 10.0 * ctx.theory.factor("bound"),
                           Estimate(1.0, 0.1, 50))
    '''))
    r = _verify(tmp_path, "--claims", "weak_claims.py", "--mutants")
    assert r.returncode == 1
    assert "mutant survived: weak.one_sided / bound_x2" in r.stdout.replace("\n", " ")


def test_bad_claims_module_is_one_line(tmp_path) -> None:
    r = _verify(tmp_path, "--claims", "no_such_module_xyz")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not found" in r.stderr


def test_journal_with_a_half_written_last_line_resumes(tmp_path) -> None:
    """A kill in the middle of writing a verdict leaves a truncated line: resume skips it."""
    from theorykit.check.ledger import Ledger

    calls: list[str] = []
    c = _claim((), calls)
    j = tmp_path / "j.jsonl"
    Ledger(j).run([c], RunContext())
    j.write_text(j.read_text() + '{"claim_id": "t", "status": "ho')
    calls.clear()
    (v,) = Ledger(j).run([c], RunContext(), resume=True)
    assert v.status == Status.HOLDS and calls == []


def test_at_most_with_a_non_finite_se_is_inconclusive():
    """A bound check cannot hold on an undefined standard error (measured 100 > bound 1)."""
    import math

    from theorykit.check.stats import Estimate, at_most

    for se in (math.nan, math.inf):
        assert at_most("x", 1.0, Estimate(100.0, se, 5)).status.value == "inconclusive"
