"""Measured contradiction rates (verify --seeds) and the parallel runner (verify --jobs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from theorykit.check.flake import binomial_tail, flake_rows

ROOT = Path(__file__).resolve().parents[1]


def test_binomial_tail() -> None:
    assert binomial_tail(0, 20, 0.1) == 1.0
    assert binomial_tail(1, 20, 0.0027) == pytest.approx(1 - (1 - 0.0027) ** 20)
    assert binomial_tail(20, 20, 0.5) == pytest.approx(0.5**20)
    assert math.isclose(sum(math.comb(5, j) * 0.3**j * 0.7 ** (5 - j) for j in (4, 5)),
                        binomial_tail(4, 5, 0.3))


def test_flake_rows_classify() -> None:
    rows = {r.claim_id: r for r in flake_rows({
        "ok1": ["holds"] * 19 + ["contradicted"],
        "flaky": ["holds"] * 17 + ["contradicted"] * 3,
        "finding": ["contradicted"] * 20,
        "err": ["holds"] * 19 + ["error"],
    })}
    assert rows["ok1"].verdict == "ok" and rows["ok1"].rate == pytest.approx(0.05)
    assert rows["flaky"].verdict == "flaky" and rows["flaky"].p_value < 0.01
    assert rows["finding"].verdict == "finding"
    assert rows["err"].verdict == "errors"


def test_cli_seeds_and_jobs(tmp_path) -> None:
    out = tmp_path / "flake.json"
    r = subprocess.run([sys.executable, "-m", "theorykit", "verify", "--claims",
                        "examples.my_claims", "--seeds", "3", "--jobs", "2", "--no-progress",
                        "--json", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert data["seeds"] == [20251, 20252, 20253]
    assert row["runs"] == 3 and row["holds"] == 3 and row["verdict"] == "ok"
    assert data["provenance"]["versions"]["theorykit"]


@pytest.mark.parametrize("bad", [["--jobs", "0"], ["--seeds", "0"]])
def test_cli_bounds(bad: list[str]) -> None:
    r = subprocess.run([sys.executable, "-m", "theorykit", "verify", "--claims",
                        "examples.my_claims", *bad], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_jobs_gives_the_serial_verdicts(tmp_path) -> None:
    """Two worker processes, same seed: the same verdicts, in the same order, as one."""
    def run(jobs: str) -> list[dict]:
        out = tmp_path / f"v{jobs}.json"
        r = subprocess.run([sys.executable, "-m", "theorykit", "verify", "--only",
                            "compressors.rand*", "--jobs", jobs, "--no-progress", "--json",
                            str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(out.read_text())["verdicts"]

    one, two = run("1"), run("2")
    assert [v["claim_id"] for v in one] == [v["claim_id"] for v in two]
    assert len(one) >= 2
    assert [(v["status"], v["measured"]) for v in one] == [(v["status"], v["measured"])
                                                          for v in two]
