"""Private quantization: uniform quantization + binomial noise (theorykit.rules.privacy).

Oracles: the per-cell MSE Δ²(r(1-r) + m p(1-p)) (derived; digest §2.3 reconstruction of
Yan et al., arXiv 2304.13545 with the cpSGD binomial mechanism, recalled) checked by hand
algebra and Monte Carlo; the reported ε checked against an independent hockey-stick
computation written here from scipy's binomial PMF (not the module's code).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.stats import binom

from theorykit.check import stats
from theorykit.errors import InputError
from theorykit.rules import quantization as q
from theorykit.rules.privacy import BinomialQuantizer, exact_epsilon, mse_given_cell, pld_epsilon

torch.set_num_threads(1)


def test_mse_given_cell_symbolic() -> None:
    r, p, delta = sp.symbols("r p Delta", positive=True)
    m = sp.Symbol("m", positive=True, integer=True)
    assert sp.simplify(mse_given_cell() - delta**2 * (r * (1 - r) + m * p * (1 - p))) == 0


def test_mse_matches_monte_carlo() -> None:
    """n = 200000 Gaussian(1) draws, seed 3, |MC - formula| <= 4 SE, for 2 (s, m) cases."""
    d = q.density("gaussian")
    for s, m in ((7, 16), (3, 0)):
        mech = BinomialQuantizer(2.5, s, m)
        gen = torch.Generator().manual_seed(3 + s)
        x = d.sample(200_000, gen)
        est = stats.mean_se(((mech.apply(x, gen) - x) ** 2).numpy())
        assert abs(est.mean - mech.mse(d)) <= 4 * est.se
        assert mech.noise_mse() == pytest.approx((5.0 / s) ** 2 * m / 4)


def test_unbiased_for_clipped_value_and_bits() -> None:
    mech = BinomialQuantizer(1.0, 4, 10)
    assert mech.bits == math.ceil(math.log2(15)) == 4
    x = torch.tensor([0.3, -0.77, 1.5]).repeat(100_000, 1).double()
    gen = torch.Generator().manual_seed(8)
    y = mech.apply(x, gen)
    codes = mech.encode(x, gen)
    assert int(codes.min()) >= 0 and int(codes.max()) <= 14
    # SE of the mean is sqrt(var/n) with var <= Δ²(1/4 + m/4) = 0.25*2.75
    se = math.sqrt(0.25 * 2.75 / 100_000)
    assert torch.allclose(y.mean(0), torch.tensor([0.3, -0.77, 1.0]).double(), atol=5 * se)


def _independent_epsilon(m: int, k: int, d: int, delta: float) -> float:
    """ε(δ) of (Bin(m,1/2), Bin(m,1/2)+k)^{⊗d}: δ(ε) = max over both directions of
    Σ_y (P(y) - e^ε Q(y))_+ over the product space, inverted by bisection."""
    y = np.arange(m + k + 1)
    P1, Q1 = binom.pmf(y, m, 0.5), binom.pmf(y - k, m, 0.5)
    P, Q = P1, Q1
    for _ in range(d - 1):
        P, Q = np.outer(P, P1).ravel(), np.outer(Q, Q1).ravel()

    def dl(e: float) -> float:
        return max(np.clip(P - math.exp(e) * Q, 0, None).sum(),
                   np.clip(Q - math.exp(e) * P, 0, None).sum())

    lo, hi = 0.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if dl(mid) > delta else (lo, mid)
    return hi


@pytest.mark.parametrize("m,k,d,delta", [(16, 1, 1, 1e-3), (64, 2, 1, 1e-5),
                                         (100, 1, 2, 1e-5), (30, 1, 3, 1e-4)])
def test_reported_epsilon_upper_bounds_true_epsilon(m, k, d, delta) -> None:
    rep = pld_epsilon(m, 0.5, k, delta, d=d)
    true = _independent_epsilon(m, k, d, delta)
    assert rep >= true - 1e-9
    assert rep <= true + 0.05 * d  # the accountant's grid (1e-3 per loss) costs little
    assert exact_epsilon(m, 0.5, k, delta, d=d) == pytest.approx(true, abs=1e-6)


@pytest.mark.parametrize("m,k,d,delta", [(64, 1, 1, 1e-5), (40, 2, 2, 1e-4),
                                         (30, 1, 3, 1e-4)])
def test_pld_epsilon_is_tight_to_its_grid(m, k, d, delta) -> None:
    """Derived: losses rounded up by < h each, so exact <= reported <= exact + d·h (+ the
    bisection tolerances); rounding down (an invalid accountant) under-reports ε."""
    ex = exact_epsilon(m, 0.5, k, delta, d=d)
    for h in (1e-3, 1e-2):
        rep = pld_epsilon(m, 0.5, k, delta, d=d, grid=h)
        assert ex - 1e-7 <= rep <= ex + d * h + 1e-6
    assert pld_epsilon(m, 0.5, k, delta, d=d, grid=1e-2, round_up=False) < ex - 1e-4


def test_mechanism_epsilon_and_shift() -> None:
    mech = BinomialQuantizer(1.0, 8, 64)
    assert mech.shift() == 8  # full range 2α in grid units Δ = 0.25
    assert mech.shift(0.3) == 2
    assert mech.epsilon(1e-5, sensitivity=0.3) == pytest.approx(
        pld_epsilon(64, 0.5, 2, 1e-5), rel=1e-12)
    assert BinomialQuantizer(1.0, 8, 0).epsilon(1e-5) == math.inf


@pytest.mark.parametrize("call,match", [
    (lambda: BinomialQuantizer(0.0, 4, 4), "alpha"),
    (lambda: BinomialQuantizer(1.0, 0, 4), "s must"),
    (lambda: BinomialQuantizer(1.0, 4, -1), "m must"),
    (lambda: BinomialQuantizer(1.0, 4, 4, p=1.0), "p must"),
    (lambda: pld_epsilon(10, 0.5, 1, 0.0), "delta"),
    (lambda: BinomialQuantizer(1.0, 4, 4).shift(-1.0), "sensitivity"),
])
def test_bad_input(call, match) -> None:
    with pytest.raises(InputError, match=match):
        call()
