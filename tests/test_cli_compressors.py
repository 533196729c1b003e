"""``theorykit compressors`` / ``theorykit compressor NAME``: catalog listing, constants,
``--verify``, user-defined compressors and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from theorykit.cli import main
from theorykit.compressors.registry import catalog

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """User compressors are imported from the current directory (the repository root)."""
    monkeypatch.chdir(ROOT)


def run_json(capsys, argv: list[str]) -> tuple[int, dict]:
    rc = main(argv)
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_catalog_json_lists_every_entry_with_formulas(capsys):
    rc, data = run_json(capsys, ["compressors", "--json"])
    assert rc == 0
    by_name = {e["name"]: e for e in data["compressors"]}
    assert set(by_name) == set(catalog())
    randk = by_name["randk"]
    assert randk["bits"] == "k*(ceiling(log(d)/log(2)) + 32)"
    assert {"class": "U", "constants": {"omega": "d/k - 1"}} in randk["classes"]
    assert [p["name"] for p in randk["parameters"]] == ["k"]
    assert randk["parameters"][0]["minimum"] == 1
    # the composed entry's constants are derived (relation 9), not typed in
    topq = by_name["topk_qsgd"]
    assert {c["class"] for c in topq["classes"]} == {"B1", "B2"}
    b1 = next(c for c in topq["classes"] if c["class"] == "B1")["constants"]
    assert b1["alpha"] == "k/d" and "k/s**2" in b1["beta"]


def test_catalog_table(capsys):
    assert main(["compressors"]) == 0
    out = capsys.readouterr().out
    for name in ("identity", "topk", "qsgd", "sign"):
        assert name in out


def test_compressor_constants_as_formulas_and_numbers(capsys):
    rc, data = run_json(capsys, ["compressor", "randk", "-p", "k=4", "-p", "d=16", "--json"])
    assert rc == 0 and data["d"] == 16 and data["numeric_bits"] == 4 * (32 + 4)
    rows = {(r["class"], r["constant"]): r for r in data["constants"]}
    assert rows[("U", "omega")]["formula"] == "d/k - 1" and rows[("U", "omega")]["value"] == 3
    assert "verification" not in data
    # without d, d-dependent constants have no number
    rc, data = run_json(capsys, ["compressor", "randk", "-p", "k=4", "--json"])
    assert {r["value"] for r in data["constants"] if "d" in r["formula"]} == {None}


def test_verify_defaults_to_d64_and_holds(capsys):
    rc, data = run_json(capsys, ["compressor", "topk", "-p", "k=5", "--verify", "--samples",
                                 "50", "--seed", "3", "--json"])
    assert rc == 0
    ver = data["verification"]
    assert data["d"] == 64 and ver["dims"] == [64] and ver["seed"] == 3
    assert ver["status"] == "holds"
    assert {c["key"] for c in ver["constants"]} == {"B1.alpha", "B1.beta", "B2.gamma",
                                                     "B2.beta", "B3.delta"}


def test_verify_table_output(capsys):
    rc = main(["compressor", "scaled_sign", "-p", "d=8", "--verify", "--samples", "20"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Monte Carlo certification" in out and "verdict: holds" in out


def test_user_compressor_is_accepted(capsys):
    rc, data = run_json(capsys, ["compressor", "examples.my_compressor:MyCompressor", "-p",
                                 "d=16", "--verify", "--samples", "300", "--json"])
    assert rc == 0
    assert data["compressor"]["name"] == "stochastic_binary"
    om = next(c for c in data["verification"]["constants"] if c["key"] == "U.omega")
    assert om["status"] == "holds"
    # U(d - 1) is attained at one-hot inputs (err = d - 1 for every draw), so the input
    # closest to the bound has a point estimate at least d - 1: tightness >= 1
    assert om["claimed"] == 15 and om["tightness"] >= 1 - 1e-9


def test_wrong_user_compressor_is_contradicted(capsys):
    rc, data = run_json(capsys, ["compressor", "examples.wrong_compressor:WrongRandK", "-p",
                                 "k=4", "-p", "d=16", "--verify", "--samples", "300",
                                 "--json"])
    assert rc == 1
    om = next(c for c in data["verification"]["constants"] if c["key"] == "U.omega")
    assert om["status"] == "contradicted"
    assert om["claimed"] == pytest.approx(2.0) and om["estimate"] == pytest.approx(3.0)


def test_entry_point_subprocess_with_user_compressor():
    env = dict(os.environ, PYTHONPATH="")
    res = subprocess.run(
        [sys.executable, "-m", "theorykit", "compressor",
         "examples.wrong_compressor:WrongRandK", "-p", "k=2", "-p", "d=8", "--verify",
         "--samples", "100"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "contradicted" in res.stdout and "Traceback" not in res.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["compressor", "nosuch"], "unknown compressor 'nosuch'"),
    (["compressor", "topk"], "missing parameter(s) ['k']"),
    (["compressor", "topk", "-p", "k=100", "-p", "d=10"], "k=100 exceeds d=10"),
    (["compressor", "topk", "-p", "k=100", "--verify"], "d=64 by default"),
    (["compressor", "topk", "-p", "k=0"], "'k' must be >= 1"),
    (["compressor", "topk", "-p", "k=-3"], "'k' must be >= 1"),
    (["compressor", "qsgd", "-p", "s=0"], "'s' must be >= 1"),
    (["compressor", "topk", "-p", "k=abc"], "'k' must be int"),
    (["compressor", "bernoulli", "-p", "p=high"], "'p' must be float"),
    (["compressor", "topk", "-p", "k"], "not of the form KEY=VALUE"),
    (["compressor", "topk", "-p", "k=2", "-p", "q=1"], "unknown parameter(s) ['q']"),
    (["compressor", "nosuch.module:Thing"], "cannot load compressor"),
    (["compressor", "topk", "-p", "k=2", "--verify", "--samples", "1"], "--samples"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("theorykit: error: ")
