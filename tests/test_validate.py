"""The one set of input checks (:mod:`theorykit.validate`): values, and the one-line
messages every caller prints (noise models, SDE derivation and lambdify, run drivers,
problems, rules)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from theorykit.errors import InputError
from theorykit.validate import (
    count_expr,
    finite_float,
    learning_rate,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    symbolic,
)


def test_finite_float():
    assert finite_float("x", "2.5") == 2.5
    assert finite_float("x", -1) == -1.0
    with pytest.raises(InputError, match=r"^x must be a number, got 'a'$"):
        finite_float("x", "a")
    with pytest.raises(InputError, match=r"^x must be a number or a symbol, got None$"):
        finite_float("x", None, expected="a number or a symbol")
    for bad in (math.inf, math.nan):
        with pytest.raises(InputError, match=r"^x must be finite, got "):
            finite_float("x", bad)


def test_positive_float_messages():
    assert positive_float("nu", 3) == 3.0
    assert positive_float("s", 0, allow_zero=True) == 0.0
    with pytest.raises(InputError, match=r"^nu must be > 0, got 0$"):
        positive_float("nu", 0)
    with pytest.raises(InputError, match=r"^s must be >= 0, got -1\.5$"):
        positive_float("s", -1.5, allow_zero=True)
    with pytest.raises(InputError, match=r"^c must be finite and > 0, got -1$"):
        positive_float("c", -1, one_message=True)
    with pytest.raises(InputError, match=r"^reg must be finite and >= 0, got inf$"):
        positive_float("reg", math.inf, allow_zero=True, one_message=True)


def test_nonneg_float():
    assert nonneg_float("L0", 0) == 0.0 and nonneg_float("L0", "2") == 2.0
    for bad in (-1, math.inf, math.nan):
        with pytest.raises(InputError, match=r"^L0 must be finite and >= 0, got "):
            nonneg_float("L0", bad)


def test_learning_rate():
    assert learning_rate("0.1") == 0.1
    with pytest.raises(InputError, match=r"^learning rate eta must be a number, got 'x'$"):
        learning_rate("x")
    for bad in (0, -0.1, math.nan, math.inf):
        with pytest.raises(InputError, match="learning rate eta must be finite and > 0"):
            learning_rate(bad)


@pytest.mark.parametrize("bad", [0, -1, 2.5, math.inf, math.nan, True, "two", None])
def test_positive_int_refuses(bad):
    with pytest.raises(InputError, match=r"^steps must be a positive integer, got "):
        positive_int("steps", bad)


def test_nonneg_int():
    assert nonneg_int("budget", 0) == 0 and nonneg_int("budget", 3.0) == 3
    for bad in (-1, 2.5, math.inf, True, "two", None):
        with pytest.raises(InputError, match=r"^budget must be an integer >= 0, got "):
            nonneg_int("budget", bad)


def test_positive_int_and_count_expr():
    assert positive_int("N", 3.0) == 3 and positive_int("N", "4") == 4
    assert count_expr("N", 3) == sp.Integer(3)
    n = count_expr("N", "N")
    assert n.is_integer and n.is_positive and n == sp.Symbol("N", integer=True, positive=True)
    k = sp.Symbol("k")
    assert count_expr("N", k) is k
    with pytest.raises(InputError, match="batch size B must be a positive integer"):
        count_expr("batch size B", 0)


def test_symbolic():
    assert symbolic("eta", positive=True) == sp.Symbol("eta", positive=True)
    assert symbolic(sp.Integer(2)) is None and symbolic(2.0) is None
    x = sp.Symbol("x")
    assert symbolic(x + 1) == x + 1


def test_callers_share_the_messages():
    """The callers that used to carry their own copies print the same lines."""
    from theorykit.noise import Gaussian, StudentT
    from theorykit.problems import CoshSum, L0L1Quartic
    from theorykit.rules.bounds import student_t_variance_factor
    from theorykit.rules.dynamic import dq_levels, waterfill
    from theorykit.rules.l0l1_check import check_l0l1
    from theorykit.rules.privacy import BinomialQuantizer
    from theorykit.rules.quantization import bits_per_coordinate

    with pytest.raises(InputError, match=r"^Student-t nu must be > 0, got -1$"):
        StudentT(-1)
    with pytest.raises(InputError, match=r"^sigma\[0\] must be a number or a symbol, got None$"):
        Gaussian(sigma=[None])
    with pytest.raises(InputError, match=r"^dimension d must be a positive integer, got 0$"):
        CoshSum(0)
    with pytest.raises(InputError, match=r"^quartic c must be finite and > 0, got 0$"):
        L0L1Quartic(c=0)
    with pytest.raises(InputError, match=r"^Student-t nu must be > 0, got 0$"):
        student_t_variance_factor(0)
    with pytest.raises(InputError, match=r"^eps_q must be finite and > 0, got 0$"):
        dq_levels(1.0, 0, 10, mu=0.1, eta=0.1, L=1, d=4, n_workers=1, eps_q=0)
    with pytest.raises(InputError, match=r"^budget must be an integer >= 0, got -1$"):
        waterfill(np.ones((2, 2)), None, -1)
    with pytest.raises(InputError, match=r"^m must be an integer >= 0, got -1$"):
        BinomialQuantizer(1.0, 4, -1)
    with pytest.raises(InputError, match=r"^s \(number of quantization intervals\) must be a "
                       "positive integer, got 0$"):
        bits_per_coordinate(0)
    with pytest.raises(InputError, match=r"^L0 must be finite and >= 0, got -1$"):
        check_l0l1(CoshSum(1), L0=-1, L1=1)


def test_number_text_is_a_number_not_a_symbol():
    """"4" and "0.5" are numbers (never a Symbol named "4"); a name is a symbol; other text
    is refused in one line."""
    from theorykit.validate import count_expr, symbolic

    assert symbolic("0.5") is None and count_expr("N", "4") == 4
    assert str(count_expr("N", "N")) == "N"
    with pytest.raises(InputError, match="neither a number nor a symbol"):
        symbolic("N + 1")
