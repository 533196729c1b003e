"""Property-based tests of the safe expression parser (issue 14, item 3).

Arbitrary text never raises anything but :class:`InputError` and never runs code; formulas
built from the grammar parse to the expression they denote.
"""

from __future__ import annotations

import builtins
import math

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from theorykit.errors import InputError
from theorykit.expr import parse_expr

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
SYMS = {"g": sp.Symbol("g", real=True), "x": sp.Symbol("x", real=True)}
HOSTILE = ["__import__", "os", ".system", "(", ")", "'", '"', "lambda", ":", "**", "^",
           "9" * 50, "1e308", "[", "]", ".__class__", "exec", "eval", "open", ",", " ",
           "g", "x", "sqrt", "exp", "log", "+", "-", "*", "/", "1", "0", "2.5", "=", ";",
           "\n", "\\", "{", "}", "@", "%", "//", "<", "==", "and", "not", "if", "else"]


@pytest.fixture
def no_code_execution(monkeypatch):
    """eval/exec/__import__ of user text would show up here."""
    calls: list[str] = []
    real_import = builtins.__import__

    def spy(name):
        def f(*a, **k):
            calls.append(name)
            raise AssertionError(f"{name} called while parsing")
        return f

    monkeypatch.setattr(builtins, "eval", spy("eval"))
    monkeypatch.setattr(builtins, "exec", spy("exec"))

    def guarded_import(name, *a, **k):
        if name in ("os", "subprocess", "shutil", "socket"):
            calls.append(f"import {name}")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", guarded_import)
    return calls


def _parse_only_input_error(text: str) -> None:
    try:
        out = parse_expr(text, SYMS)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(out, sp.Basic)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_input_error(text):
    _parse_only_input_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(HOSTILE), max_size=40).map("".join))
def test_hostile_token_soup_raises_only_input_error(text):
    _parse_only_input_error(text)


def test_no_code_runs(no_code_execution):
    for text in ['__import__("os").system("true")', "().__class__.__bases__", "lambda: 1",
                 "open('x')", "exec('1')", "g.__class__", "(" * 5000 + ")" * 5000,
                 "10**10**10", "9" * 5000]:
        with pytest.raises(InputError):
            parse_expr(text, SYMS)
    assert no_code_execution == []


_leaf = st.one_of(st.sampled_from(["g", "x"]), st.integers(1, 9).map(str))


def _combine(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(-{c})"),
        children.map(lambda c: f"exp({c})"),
        children.map(lambda c: f"({c})**2"),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_leaf, _combine, max_leaves=8), st.floats(-2, 2), st.floats(-2, 2))
def test_grammar_formulas_parse_to_what_they_denote(text, gv, xv):
    e = parse_expr(text, SYMS)
    assert e.free_symbols <= set(SYMS.values())
    try:  # the reference: Python's own arithmetic on our generated (not user) text
        ref = eval(text, {"exp": math.exp}, {"g": gv, "x": xv})
    except OverflowError:
        assume(False)
    got = float(e.subs({SYMS["g"]: gv, SYMS["x"]: xv}).evalf())
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-9)
