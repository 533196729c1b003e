"""Learning-rate schedules: values, symbolic forms, the standard conditions, bad input."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.schedules import Constant, GradientNormalized, PolynomialDecay, make_schedule


def test_constant_and_polynomial_values():
    assert Constant()(10) == 1.0
    p = PolynomialDecay(0.5)
    assert p(0) == 1.0 and p(3) == pytest.approx(0.5)
    assert p.at_time(0.3, eta=0.1) == pytest.approx(0.5)  # k = t / eta = 3
    k = sp.Symbol("k", nonnegative=True)
    assert sp.simplify(p.expr(k) - 1 / sp.sqrt(1 + k)) == 0
    for kk in (0, 1, 7, 100):
        assert float(p.expr(k).subs(k, kk)) == pytest.approx(p(kk))


@pytest.mark.parametrize(("a", "expected"), [(0.6, (True, True)), (1.0, (True, True)),
                                             (0.5, (True, False)), (1.5, (False, True)),
                                             (0.0, (True, False))])
def test_standard_conditions(a, expected):
    """sum m_k = oo and sum m_k^2 < oo iff a in (1/2, 1] (p-series)."""
    assert PolynomialDecay(a).standard() == expected


def test_gradient_normalized_per_replica():
    s = GradientNormalized(PolynomialDecay(1.0), c0=1.0, c1=2.0)
    gn = torch.tensor([0.0, 1.0, 4.5])
    m = s(1, gn)
    assert torch.allclose(m, torch.tensor([0.5, 0.5 / 3, 0.05]))
    assert s.needs_grad_norm and not PolynomialDecay().needs_grad_norm
    k, g = sp.symbols("k g", nonnegative=True)
    assert sp.simplify(s.expr(k, g) - 1 / ((1 + k) * (1 + 2 * g))) == 0
    assert "eta" in s.latex()
    with pytest.raises(InputError, match="gradient norm"):
        s(1)


def test_make_schedule_and_bad_input():
    assert isinstance(make_schedule(None), Constant)
    assert isinstance(make_schedule("poly", a=0.7), PolynomialDecay)
    n = make_schedule("normalized", c0=1.0, c1=0.5, a=0.6)
    assert isinstance(n, GradientNormalized) and isinstance(n.base, PolynomialDecay)
    with pytest.raises(InputError, match="unknown schedule"):
        make_schedule("cosine")
    with pytest.raises(InputError, match="decay exponent"):
        PolynomialDecay(-1)
    with pytest.raises(InputError, match="c0"):
        GradientNormalized(c0=0.0)
    with pytest.raises(InputError, match="c1"):
        GradientNormalized(c1=float("nan"))
    with pytest.raises(InputError, match="k must be"):
        PolynomialDecay()(-1)
