"""``theorykit quantize``: output, JSON, closed forms and one-line errors."""

from __future__ import annotations

import json
import math

import pytest

from theorykit.cli import main


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    rc = main(["quantize", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_laplace_nonuniform_text(capsys) -> None:
    rc, out, err = _run(capsys, "--density", "laplace", "--levels", "7")
    assert rc == 0 and err == ""
    a_pub = 3 * math.log(1 + 7 * math.sqrt(6) / 9)
    assert f"threshold alpha     = {a_pub:.6g}" in out
    assert "bits                = 3 per coordinate" in out
    assert "closed form (SymPy)" in out and "alpha* = 3*gamma*log(" in out
    assert f"{27 / (7 + 3 * math.sqrt(6) / 2) ** 2:.6g}" in out


def test_json_bits_uniform(capsys) -> None:
    rc, out, _ = _run(capsys, "--density", "laplace", "-p", "gamma=2", "--bits", "3",
                      "--scheme", "uniform", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["s"] == 7 and d["bits_per_coordinate"] == 3 and len(d["levels"]) == 8
    assert d["closed_form"] and "LambertW" in d["expression"]
    assert d["alpha"] == pytest.approx(d["levels"][-1])
    assert d["exact_error"] <= d["predicted_error"]  # c_Q = 1/4 bounds the uniform codec


def test_numeric_and_biscaled(capsys) -> None:
    rc, out, _ = _run(capsys, "--density", "student_t", "-p", "nu=3", "--bits", "2",
                      "--scheme", "biscaled")
    assert rc == 0 and "inner edge beta" in out and "closed form         : none" in out
    rc, out, _ = _run(capsys, "--density", "gaussian", "--levels", "3", "--latex")
    assert rc == 0 and out.startswith("% no closed form")


def test_latex_closed_form(capsys) -> None:
    rc, out, _ = _run(capsys, "--density", "pareto", "-p", "rho=5", "--levels", "7",
                      "--latex")
    assert rc == 0 and out.startswith("\\alpha^* =") and "E^* =" in out


@pytest.mark.parametrize("argv,match", [
    (("--density", "cauchy", "--levels", "3"), "need nu > 2"),
    (("--density", "nosuch", "--levels", "3"), "unknown density"),
    (("--density", "student_t", "-p", "nu=2", "--levels", "3"), "need nu > 2"),
    (("--density", "pareto", "-p", "rho=2.5", "--levels", "3"), "need rho > 3"),
    (("--density", "laplace", "--levels", "0"), "must be >= 1"),
    (("--density", "laplace", "--bits", "0"), "--bits must be >= 1"),
    (("--density", "laplace", "--levels", "two"), "must be an integer"),
    (("--density", "custom", "--levels", "3"), "pdf=EXPR"),
    (("--density", "laplace", "-p", "gamma", "--levels", "3"), "KEY=VALUE"),
    (("--density", "laplace", "--levels", "3", "--scheme", "log"), "--scheme"),
    (("--density", "laplace", "--levels", "3", "--cq", "-1"), "--cq"),
])
def test_bad_input_one_line(capsys, argv, match) -> None:
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("theorykit: error:")
    assert match in lines[0] and "Traceback" not in err


def test_missing_budget_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["quantize", "--density", "laplace"])
    assert exc.value.code == 2
    assert "--levels" in capsys.readouterr().err
