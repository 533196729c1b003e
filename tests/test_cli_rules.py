"""``theorykit rules``: each rule printed as an equation and in words; JSON; bad input is one
line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from theorykit.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """User compressors are imported from the current directory (the repository root)."""
    monkeypatch.chdir(ROOT)


def run_json(capsys, argv):
    rc = main([*argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_dsgd_text(capsys):
    assert main(["rules", "--method", "dsgd"]) == 0
    out = capsys.readouterr().out
    assert "kappa = alpha*delta" in out
    assert "samples seen" in out
    assert "[exact] linear scaling rule" in out


def test_dsignsgd_json_and_numbers(capsys):
    rc, data = run_json(capsys, ["rules", "--method", "dsignsgd", "--noise", "student-t",
                                 "--nu", "3", "--alpha", "8", "--delta", "8"])
    assert rc == 0
    kinds = [d["kind"] for d in data]
    assert kinds == ["exact", "regime", "regime"]
    p3 = next(d for d in data if "Phase 3" in d["name"])
    assert p3["equation"] == "kappa = alpha*sqrt(delta)"
    assert p3["at"]["kappa"] == pytest.approx(8 * 8 ** 0.5)
    assert "not_applicable" in data[0]["at"]  # exact rule needs delta = 1


def test_dcsgd_catalog_compressor(capsys):
    rc, data = run_json(capsys, ["rules", "--method", "dcsgd", "--compressor", "randk",
                                 "-p", "k=1", "-p", "d=4"])
    assert rc == 0
    assert data[0]["kind"] == "exact" and data[0]["pinned"] == {"delta": "1",
                                                                "omega'": "omega"}
    assert any("omega = 3" in a for a in data[0]["assumptions"])
    assert any("(1+omega)" in d["equation"].replace(" ", "").replace("omega+1", "1+omega")
               for d in data)


def test_user_compressor_module_object(capsys):
    rc, data = run_json(capsys, ["rules", "--method", "dcsgd", "--compressor",
                                 "examples.my_compressor:MyCompressor", "-p", "d=8"])
    assert rc == 0
    assert data[0]["equation"].startswith("kappa = alpha")
    assert any("omega = 7" in a for a in data[0]["assumptions"])


def test_no_exact_rule_from_dsgd_to_dcsgd(capsys):
    rc = main(["rules", "--method", "dsgd", "--to-compressor", "bernoulli", "--to-param",
               "p=0.25"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "No exact rule" in out and "[exact]" not in out
    assert "kappa = alpha*delta/4" in out


def test_latex(capsys):
    assert main(["rules", "--method", "dsignsgd", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\kappa = \alpha \sqrt{\delta}" in out


def test_no_rule_for_infinite_variance(capsys):
    rc = main(["rules", "--method", "dcsgd", "--compressor", "omega", "--noise", "student-t",
               "--nu", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "[none]" in out and "infinite variance" in out


@pytest.mark.parametrize("argv, message", [
    (["rules", "--method", "adam"], "unknown method"),
    (["rules", "--method", "dcsgd"], "needs a compressor"),
    (["rules", "--method", "dcsgd", "--compressor", "topk", "-p", "k=1"], "not unbiased"),
    (["rules", "--method", "dcsgd", "--compressor", "randk", "-p", "k=0"], "k"),
    (["rules", "--method", "dcsgd", "--compressor", "nope:Thing"], "cannot load"),
    (["rules", "--method", "dsgd", "-p", "p=0.5"], "no compressor"),
    (["rules", "--method", "dsgd", "--noise", "laplace"], "gaussian or student-t"),
    (["rules", "--method", "dsgd", "--alpha", "-2"], "positive"),
    (["rules", "--method", "dsgd", "--alpha", "two"], "number"),
    (["rules", "--method", "dsignsgd", "--compressor", "sign"], "no compressor"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("theorykit: error:")
    assert message in lines[0]
