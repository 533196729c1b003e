"""DQ-SGD bit schedules and adaptive top-k water-filling (theorykit.rules.dynamic).

Oracles: the DQ-SGD schedule of digest §2.5 (a reconstruction of Yan et al., arXiv
2107.14575, derived there) re-checked symbolically; water-filling against exhaustive search
over all allocations on small traces; the simulator against the stationary loss of SGD on a
quadratic (derived: linear recursion with i.i.d. noise).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check import stats
from theorykit.compressors.registry import make
from theorykit.errors import InputError
from theorykit.noise import Gaussian
from theorykit.rules import dynamic as dy
from theorykit.run.quantized import run_quantized_sgd

torch.set_num_threads(1)


def test_qsgd_variance_bound() -> None:
    assert sp.simplify(dy.qsgd_variance_bound() - dy.D_SYM * dy.G2 / (4 * dy.S_T**2)) == 0


def test_dq_schedule_symbolic_matches_digest() -> None:
    sch = dy.derive_dq_schedule()
    T, L, eta, d, N, eps, t = (dy.T_SYM, dy.L_SYM, dy.ETA, dy.D_SYM, dy.N_SYM, dy.EPS_Q,
                                dy.T_IDX)
    digest = sp.sqrt(dy.G2) * dy.Q_C ** ((T - 1 - t) / 2) * sp.sqrt(
        T * L * eta**2 * d / (8 * N * eps))
    assert sp.simplify(sch.levels - digest) == 0
    assert sp.simplify(sch.per_step_error - eps / T) == 0
    # numerically: the schedule spends exactly the error budget
    rng = np.random.default_rng(1)
    Tn, mun, etan, Ln, dn, Nn, epsn = 50, 0.2, 0.3, 1.5, 64, 4, 0.05
    norms = rng.uniform(0.5, 3.0, Tn)
    tt = np.arange(Tn)
    s_t = dy.dq_levels(norms, tt, Tn, mu=mun, eta=etan, L=Ln, d=dn, n_workers=Nn, eps_q=epsn)
    w = (1 - mun * etan) ** (Tn - 1 - tt)
    total = Ln * etan**2 / 2 * np.sum(w * dn * norms**2 / (4 * Nn * s_t**2))
    assert total == pytest.approx(epsn, rel=1e-12)
    # s_t grows as fewer steps remain and with the gradient norm
    s_flat = dy.dq_levels(np.ones(Tn), tt, Tn, mu=mun, eta=etan, L=Ln, d=dn, n_workers=Nn,
                          eps_q=epsn)
    assert np.all(np.diff(s_flat) > 0)
    f_sym = sp.lambdify((dy.G2, t), sch.levels.subs({T: Tn, L: Ln, eta: etan, d: dn, N: Nn,
                                                     eps: epsn, dy.Q_C: 1 - mun * etan}))
    assert f_sym(norms[7] ** 2, 7) == pytest.approx(s_t[7], rel=1e-12)


def test_dq_bits_and_codec_levels() -> None:
    s = np.array([0.3, 1.0, 1.5, 3.0, 3.2, 7.0, 100.0])
    assert dy.dq_bits(s).tolist() == [1, 1, 2, 3, 3, 4, 8]
    lv = dy.dq_codec_levels(s)
    assert np.all(lv >= np.maximum(s, 1.0))
    for si, li in zip(s, lv, strict=True):  # the QSGD codec charges 1 + ceil(log2(s+1))
        assert make("qsgd", s=int(li)).numeric_bits(1) - 32 == 1 + math.ceil(
            math.log2(max(si, 1.0) + 1) - 1e-12)


def _brute_force(g: np.ndarray, w: np.ndarray, K: int) -> float:
    R = dy.topk_residuals(g)
    T, d = g.shape
    best = math.inf
    for ks in itertools.product(range(d + 1), repeat=T):
        if sum(ks) <= K:
            best = min(best, float(np.sum(w * R[np.arange(T), list(ks)])))
    return best


def test_waterfill_is_the_exact_optimum() -> None:
    rng = np.random.default_rng(3)
    for trial in range(6):
        g = rng.standard_t(3, size=(3, 4)) * rng.uniform(0.2, 3, size=(3, 1))
        w = rng.uniform(0.1, 2, size=3)
        for K in (0, 1, 3, 5, 12):
            wf = dy.waterfill(g, w, K)
            assert wf.used <= K
            assert wf.objective == pytest.approx(_brute_force(g, w, K), rel=1e-12, abs=1e-15)
            if trial == 0:
                for k in range(K // 3 + 1):
                    assert wf.objective <= dy.fixed_k_objective(g, w, k) * (1 + 1e-12)


def test_waterfill_beats_fixed_k_on_traces() -> None:
    """The former claim yan2024.adaptive-topk-waterfill, re-scoped as a test (it is true by
    construction: water-filling is the exact optimum of the objective it is compared on):
    on gradients recorded from uncompressed distributed SGD (Gaussian and Student-t noise,
    seed 20251), for w_t = (1-μη)^{T-1-t} and w_t = 1 and budgets of 2%, 5%, 20% of T·d,
    the water-filling objective is <= every constant-k schedule with T·k <= K."""
    from theorykit.noise import StudentT

    d, N, eta, mu, T = 64, 4, 0.2, 0.2, 150
    h = np.linspace(mu, 1.0, d)
    for noise in (Gaussian(sigma=0.3), StudentT(nu=3, scale=0.3)):
        r = run_quantized_sgd(h, np.full(d, 3.0), noise, n_workers=N, eta=eta, steps=T,
                                 replicas=1, compress=None, seed=20251, record=True)
        g = r.grad_trace
        for w in ((1 - mu * eta) ** (T - 1 - np.arange(T)), np.ones(T)):
            for frac in (0.02, 0.05, 0.2):
                K = int(frac * T * d)
                wf = dy.waterfill(g, w, K)
                best = min(dy.fixed_k_objective(g, w, k) for k in range(K // T + 1))
                assert wf.used <= K
                assert wf.objective <= best * (1 + 1e-12)


def test_dq_levels_decay_exponent() -> None:
    """decay_exponent scales the exponent of (1-μη) (1 = the derived schedule)."""
    kw = {"mu": 0.2, "eta": 0.2, "L": 1.0, "d": 8, "n_workers": 2, "eps_q": 0.1}
    t = np.arange(10)
    base = dy.dq_levels(np.ones(10), t, 10, **kw)
    assert np.allclose(dy.dq_levels(np.ones(10), t, 10, decay_exponent=1.0, **kw), base)
    flat = dy.dq_levels(np.ones(10), t, 10, decay_exponent=0.0, **kw)
    assert np.allclose(flat, flat[0])
    rev = dy.dq_levels(np.ones(10), t, 10, decay_exponent=-1.0, **kw)
    assert np.all(np.diff(rev) < 0)
    assert rev[-1] == pytest.approx(base[-1])


def test_topk_residuals() -> None:
    g = np.array([[3.0, -1.0, 2.0]])
    assert dy.topk_residuals(g).tolist() == [[14.0, 5.0, 1.0, 0.0]]


def test_simulator_stationary_loss() -> None:
    """Uncompressed DSGD on f = ½Σ h x² with N(0, σ²) noise: the stationary loss is
    Σ_j η σ²/(2N(2 - η h_j)) (derived). R = 400 replicas, T = 150 steps (transient
    (1 - 0.3·0.5)^300 negligible), seed 11, |mean - formula| <= 4 SE."""
    h = np.linspace(0.5, 2.0, 8)
    eta, N, sigma = 0.3, 2, 0.5
    r = run_quantized_sgd(h, np.ones(8), Gaussian(sigma=sigma), n_workers=N, eta=eta,
                             steps=150, replicas=400, compress=None, seed=11)
    pred = float(np.sum(eta * sigma**2 / (2 * N * (2 - eta * h))))
    est = stats.mean_se(r.final_loss)
    assert abs(est.mean - pred) <= 4 * est.se
    assert np.all(r.bits == 150 * 32 * 8 * N)


def test_dq_compress_uses_real_bits() -> None:
    h = np.linspace(0.2, 1.0, 16)
    comp = dy.dq_compress(lambda s: make("qsgd", s=s), T=20, mu=0.2, eta=0.2, L=1.0,
                          n_workers=2, eps_q=0.5)
    r = run_quantized_sgd(h, np.full(16, 2.0), Gaussian(sigma=0.3), n_workers=2, eta=0.2,
                             steps=20, replicas=4, compress=comp, seed=2)
    assert np.all(np.isfinite(r.final_loss)) and np.all(r.bits > 0)
    assert np.all(r.bits < 20 * 2 * 32 * 16)


@pytest.mark.parametrize("call,match", [
    (lambda: dy.dq_levels(1.0, 0, 10, mu=1.0, eta=1.0, L=1, d=4, n_workers=1, eps_q=1),
     "mu\\*eta < 1"),
    (lambda: dy.dq_levels(1.0, 0, 10, mu=0.1, eta=0.1, L=1, d=4, n_workers=1, eps_q=0),
     "eps_q"),
    (lambda: dy.waterfill(np.ones(3), None, 1), "shape"),
    (lambda: dy.waterfill(np.ones((2, 2)), [1.0, -1.0], 1), "weights"),
    (lambda: dy.waterfill(np.ones((2, 2)), None, -1), "budget"),
    (lambda: dy.fixed_k_objective(np.ones((2, 2)), None, 3), "k must be"),
])
def test_bad_input(call, match) -> None:
    with pytest.raises(InputError, match=match):
        call()


def test_quantized_run_raises_at_the_diverging_step() -> None:
    """A diverging quantized run raises DivergenceError at the step that produced the
    non-finite loss."""
    from theorykit.errors import DivergenceError

    with pytest.raises(DivergenceError) as err:
        run_quantized_sgd(np.full(4, 1e3), np.ones(4), Gaussian(sigma=0.1), n_workers=1,
                             eta=1.0, steps=400, replicas=2, compress=None)
    assert err.value.step is not None and 0 < err.value.step < 400
