"""Noise laws on the command line: ``theorykit noise [--json]`` lists every law with its
declared parameters, and ``-p noise.KEY=VALUE`` sets them in every command that takes
``--noise`` (the same model as the shorthands ``--nu``/``--alpha``/``--sigma``; unprefixed
``-p`` keys stay the compressor's)."""

from __future__ import annotations

import json

import pytest

from theorykit.cli import main


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("theorykit: error:") and err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- listing
def test_noise_json_lists_laws_with_declared_parameters(capsys) -> None:
    rows = {r["name"]: r for r in json.loads(_out(capsys, "noise", "--json"))}
    assert {"gaussian", "student-t", "laplace", "lomax", "uniform", "custom"} <= set(rows)
    assert "pareto" not in rows  # type I has a gap at the origin: not a noise law
    params = {name: [p["name"] for p in r["parameters"]] for name, r in rows.items()}
    assert params["gaussian"] == ["sigma"] and params["student-t"] == ["nu", "scale"]
    assert params["lomax"] == ["alpha", "scale"] and params["laplace"] == ["scale"]
    nu = rows["student-t"]["parameters"][0]
    assert nu["required"] and nu["type"] == "float" and nu["domain"] == "> 0"
    assert nu["description"] == "degrees of freedom (tail index)"
    assert "cauchy" in rows["student-t"]["aliases"]
    assert rows["student-t"]["presets"] == {"cauchy": {"nu": 1}}
    assert "AISTATS 2025" in rows["gaussian"]["reference"]


def test_noise_table(capsys) -> None:
    out = _out(capsys, "noise")
    for word in ("gaussian", "student-t", "lomax", "nu: float", "noise.KEY=VALUE"):
        assert word in out


# --------------------------------------------------------------------------- -p noise.KEY
def _sde(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    return json.loads(_out(capsys, "derive", "--format", "json", "-d", "1", "-N", "2", *args))


@pytest.mark.parametrize("short, long", [
    (["--noise", "student-t", "--nu", "3"], ["--noise", "student-t", "-p", "noise.nu=3"]),
    (["--noise", "lomax", "--alpha", "3"], ["--noise", "lomax", "-p", "noise.alpha=3"]),
    (["--sigma", "0.5"], ["-p", "noise.sigma=0.5"]),
    (["--sigma", "1,2"], ["-p", "noise.sigma=1,2"]),
    (["--noise", "laplace", "--sigma", "2"], ["--noise", "laplace", "-p", "noise.scale=2"]),
])
def test_derive_noise_param_equals_shorthand(capsys, short, long) -> None:
    for method in ("dsgd", "dsignsgd"):
        a = _sde(capsys, "--method", method, *short)
        assert a == _sde(capsys, "--method", method, *long)


def test_unprefixed_p_still_reaches_the_compressor(capsys) -> None:
    base = ["--method", "dcsgd", "--compressor", "qsgd", "--noise", "student-t"]
    a = _sde(capsys, *base, "-p", "s=4", "-p", "noise.nu=5")
    assert a == _sde(capsys, *base, "-p", "s=4", "--nu", "5")
    assert a != _sde(capsys, *base, "-p", "s=2", "--nu", "5")  # s is the compressor's
    assert "qsgd" in a["title"]


def test_rules_noise_param_equals_shorthand(capsys) -> None:
    base = ["rules", "--method", "dsignsgd", "--noise", "student-t", "--json"]
    assert _out(capsys, *base, "--nu", "3") == _out(capsys, *base, "-p", "noise.nu=3")


def test_check_rule_verdict_is_the_same(capsys) -> None:
    base = ["check", "rule", "--method", "dsgd", "--kappa", "alpha*delta", "--alpha", "2",
            "--noise", "student-t", "--replicas", "400", "--steps", "32", "--json"]
    a = json.loads(_out(capsys, *base, "--nu", "5", "--sigma", "0.5"))
    b = json.loads(_out(capsys, *base, "-p", "noise.nu=5", "-p", "noise.scale=0.5"))
    assert a == b and a["status"] == "holds"


def test_check_bound_verdict_is_the_same(capsys) -> None:
    base = ["check", "bound", "--method", "dsgd", "--noise", "student-t", "--lr", "0.1",
            "--steps", "10", "--replicas", "200", "--checkpoints", "3", "--json",
            "--bound", "10 + nu*sigma*t"]
    a = json.loads(_out(capsys, *base, "--nu", "4", "--sigma", "2"))
    b = json.loads(_out(capsys, *base, "-p", "noise.nu=4", "-p", "noise.scale=2"))
    assert a == b and a["values"]["nu"] == 4 and a["values"]["sigma"] == 2


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("argv, msg", [
    (["derive", "--method", "dsgd", "--noise", "student-t", "-p", "noise.sigma=2"],
     "the noise law student-t has no parameter 'sigma'; its parameters: nu, scale"),
    (["derive", "--method", "dsgd", "-p", "noise.nu=3"],
     "the noise law gaussian has no parameter 'nu'; its parameters: sigma"),
    (["derive", "--method", "dsgd", "--noise", "student-t", "--nu", "3", "-p", "noise.nu=4"],
     "--nu and -p noise.nu both give the noise parameter nu"),
    (["derive", "--method", "dsgd", "--noise", "laplace", "--sigma", "1", "-p",
      "noise.scale=2"], "--sigma and -p noise.scale both give"),
    (["check", "bound", "--method", "dsgd", "--noise", "lomax", "--lr", "0.1", "--bound",
      "1"], "--noise lomax needs --alpha (or -p noise.alpha=VALUE)"),
    (["check", "rule", "--method", "dsgd", "--kappa", "alpha", "--noise", "student-t",
      "-p", "noise.nu=-1"], "-p noise.nu must be finite and > 0"),
    (["check", "rule", "--method", "dsgd", "--kappa", "alpha", "-p", "noise.alpha=2"],
     "its parameters: sigma"),
    (["rules", "--method", "dsignsgd", "--noise", "student-t", "-p", "noise.scale=2"],
     "do not depend on the noise scale"),
    (["derive", "--method", "dsgd", "--noise", "custom"], "needs -p noise.pdf=VALUE"),
])
def test_noise_param_errors_are_one_line(capsys, argv, msg) -> None:
    assert msg in _error(capsys, *argv)
