"""``theorykit check rule``: right rules hold (exit 0), wrong rules are contradicted
(exit 1), bad or hostile input is a one-line error (exit 2)."""

from __future__ import annotations

import json

import pytest

from theorykit.cli import main

FAST = ["--replicas", "2000"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "rule", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, code, word", [
    (["--method", "dsgd", "--kappa", "alpha*delta", "--alpha", "2", "--delta", "2"],
     0, "holds"),
    (["--method", "dsgd", "--kappa", "2*alpha*delta", "--alpha", "2", "--delta", "2"],
     1, "contradicted"),
    (["--method", "dsignsgd", "--kappa", "alpha*sqrt(delta)", "--delta", "4"], 0, "holds"),
    (["--method", "dsignsgd", "--kappa", "alpha*delta", "--delta", "4"], 1, "contradicted"),
])
def test_rules_dsgd_dsignsgd(capsys, args, code, word) -> None:
    c, out, err = _run(capsys, *args, *FAST)
    assert c == code, out + err
    assert out.strip().splitlines()[-1].startswith(word)
    assert "D = " in out and "SE = " in out and "seeds" in out


@pytest.mark.slow
@pytest.mark.parametrize("args, code", [
    (["--kappa", "alpha", "--alpha", "4"], 0),
    # the rule that ignores omega: DSGD's linear rule with the 4x through the batch
    (["--kappa", "alpha*delta", "--delta", "4"], 1),
    (["--kappa", "alpha/2", "--alpha", "4"], 1),
])
def test_rules_dcsgd(capsys, args, code) -> None:
    c, out, err = _run(capsys, "--method", "dcsgd", "--compressor", "bernoulli",
                       "-p", "p=0.125", *args, *FAST)
    assert c == code, out + err


def test_json_output(capsys) -> None:
    c, out, _ = _run(capsys, "--method", "dsgd", "--kappa", "alpha*delta", "--alpha", "2",
                     "--json", *FAST)
    d = json.loads(out)
    assert c == 0 and d["status"] == "holds" and d["kappa"] == 2.0
    assert d["scaled"] == {"eta": 0.04, "n_workers": 2, "batch": 1}
    assert d["D"] <= d["z"]


@pytest.mark.parametrize("kappa", [
    "__import__('os').system('true')", "alpha.__class__", "exec(1)", "alpha; 1",
    "lambda: 1", "alpha**10**10", "(" * 100 + "alpha" + ")" * 100, "", "-alpha",
    "omega", "delta - delta", "sqrt(-alpha)", "x", "1/0",
])
def test_hostile_or_bad_kappa_is_exit_2(capsys, kappa) -> None:
    c, out, err = _run(capsys, "--method", "dsgd", f"--kappa={kappa}", "--alpha", "2")
    assert c == 2, (out, err)
    assert err.startswith("theorykit: error:") and err.count("\n") == 1
    assert out == ""


@pytest.mark.parametrize("args", [
    ["--method", "adam", "--kappa", "alpha"],
    ["--method", "dsgd", "--kappa", "alpha", "--alpha", "1.5"],
    ["--method", "dsgd", "--kappa", "alpha", "--alpha", "nan"],
    ["--method", "dcsgd", "--kappa", "alpha"],
    ["--method", "dsgd", "--compressor", "bernoulli", "-p", "p=0.5", "--kappa", "alpha"],
    ["--method", "dsgd", "--kappa", "alpha", "--noise", "student-t"],
    ["--method", "dsgd", "--kappa", "alpha", "--replicas", "0"],
    ["--method", "dsgd", "--kappa", "alpha", "--x0", "1,2,3"],
    ["--method", "dsgd", "--kappa", "alpha", "--seed", "abc"],
])
def test_bad_input_is_exit_2(capsys, args) -> None:
    c, out, err = _run(capsys, *args)
    assert c == 2, (out, err)
    assert err.startswith("theorykit: error:") and err.count("\n") == 1
