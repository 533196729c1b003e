"""The safe expression parser: formulas parse to the right SymPy expressions, and hostile
text is refused with a one-line InputError without being executed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sympy as sp

from theorykit.errors import InputError
from theorykit.expr import MAX_LENGTH, parse_expr

A, D = sp.symbols("alpha delta", positive=True)
SYMS = {"alpha": A, "delta": D}


@pytest.mark.parametrize("text, expected", [
    ("alpha*delta", A * D),
    ("alpha * sqrt(delta)", A * sp.sqrt(D)),
    ("alpha^2 / delta", A**2 / D),
    ("-alpha + 2.5", -A + sp.Rational(5, 2)),
    ("exp(-alpha**2/2)/sqrt(2*pi)", sp.exp(-A**2 / 2) / sp.sqrt(2 * sp.pi)),
    ("max(alpha, delta)", sp.Max(A, D)),
    ("log(alpha, 2)", sp.log(A, 2)),
    ("1e-3*alpha", sp.Rational(1, 1000) * A),
])
def test_parses_formulas(text: str, expected: sp.Expr) -> None:
    assert sp.simplify(parse_expr(text, SYMS) - expected) == 0


HOSTILE = [
    '__import__("os").system("touch pwned")',
    "__import__",
    "alpha.__class__",
    "alpha.__class__.__bases__[0].__subclasses__()",
    "(lambda: 1)()",
    "lambda x: x",
    "10**10**10",
    "9**999**999",
    "(" * 5000 + "1" + ")" * 5000,
    "1+" * 3000 + "1",
    "a" * (MAX_LENGTH + 1),
    "open('f')",
    "exec('1')",
    "eval('1')",
    "getattr(alpha, 'x')",
    "[1,2]",
    "alpha if delta else 1",
    "alpha; import os",
    "x := 1",
    "f'{alpha}'",
    "unknown_symbol * 2",
    "sqrt",
    "sqrt(alpha, delta)",
    "sqrt(x=alpha)",
    "1" * 100,
    "alpha == delta",
    "",
    "   ",
    "alpha\ndelta",
    "Symbol('x')",
    "sympify('1')",
    "gamma(10**30)",
    "gamma(999**999)",
    "gamma(exp(exp(10)))",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_inputs_are_refused_with_one_line(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_expr(text, SYMS, what="--kappa")
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 400


def test_non_text_is_refused() -> None:
    with pytest.raises(InputError):
        parse_expr(123, SYMS)  # type: ignore[arg-type]


def test_cli_custom_density_runs_nothing(tmp_path) -> None:
    """The reviewer's exploit: the pdf string used to reach sympify and run a shell command."""
    marker = tmp_path / "pwned"
    cmd = [sys.executable, "-m", "theorykit", "quantize", "--density", "custom", "-p",
           f'pdf=__import__("os").system("touch {marker}")', "--levels", "3"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "COLUMNS": "200"}, timeout=120)
    assert r.returncode == 2, r.stderr
    assert not marker.exists()
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_custom_density_still_works(tmp_path) -> None:
    cmd = [sys.executable, "-m", "theorykit", "quantize", "--density", "custom", "-p",
           "pdf=exp(-g**2/2)/sqrt(2*pi)", "--levels", "3", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
