"""The option groups shared by ``derive``, ``rules``, ``check rule`` and ``check bound``
(:mod:`theorykit.cli.common`): one spelling of ``--method``/``--compressor``/``-p`` and
``--noise``/``--nu``/``--alpha``/``--sigma``, and the heavy-tailed noise law named ``lomax``
(``--noise pareto`` is a one-line error that points to it)."""

from __future__ import annotations

import argparse

import pytest

from theorykit.cli import build_parser, main


def _options(*path: str) -> set[str]:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {s for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("path", [("derive",), ("rules",), ("check", "rule"),
                                  ("check", "bound")])
def test_shared_groups_are_spelled_once(path):
    assert {"--method", "--compressor", "-p", "--noise", "--nu"} <= _options(*path)


def test_lomax_in_help_and_accepted(capsys):
    with pytest.raises(SystemExit):
        main(["derive", "--help"])
    out = capsys.readouterr().out
    assert "lomax" in out and "Lomax (Pareto II) tail index" in out and "pareto" not in out
    assert main(["derive", "--method", "dsgd", "--noise", "lomax", "--alpha", "3",
                 "-d", "1"]) == 0
    assert "Sigma[1,1] = s**2/(B*N)" in capsys.readouterr().out  # 2/((3-1)(3-2)) = 1


@pytest.mark.parametrize("argv, msg", [
    (["derive", "--method", "dsgd", "--noise", "pareto", "-d", "1"], "--noise lomax"),
    (["check", "bound", "--method", "dsgd", "--noise", "pareto", "--lr", "0.1", "--bound",
      "1"], "--noise lomax"),
    (["check", "bound", "--method", "dsgd", "--noise", "lomax", "--lr", "0.1", "--bound",
      "1"], "--noise lomax needs --alpha"),
    (["check", "bound", "--method", "dsgd", "--noise", "student-t", "--lr", "0.1",
      "--bound", "1"], "--noise student-t needs --nu"),
    (["derive", "--method", "dsgd", "-p", "k=1", "-d", "1"], "no compressor"),
])
def test_noise_and_compressor_errors_are_one_line(capsys, argv, msg):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("theorykit: error:") and msg in err and err.count("\n") == 1
