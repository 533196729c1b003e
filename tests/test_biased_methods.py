"""DCGD, EF and EF21 in torch (theorykit.methods.biased), the local quadratics
(theorykit.problems.LocalQuadratics), the run driver, and the EF bound module
(theorykit.rules.ef_bound)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.compressors.registry import make
from theorykit.errors import InputError
from theorykit.methods.biased import (
    DCGD,
    EF,
    EF21,
    run,
    single_thread_if_small,
)
from theorykit.problems import LocalQuadratics, make_problem
from theorykit.rules import ef_bound as efb
from theorykit.rules.rates import ETA, dcgd_counterexample


def test_local_quadratics_constants_and_gradients():
    p = LocalQuadratics.random(3, 5, mu=0.5, L=4.0, heterogeneity=2.0, seed=0)
    mu, lip, het = p.mu, p.L, p.D
    assert mu == pytest.approx(0.5)
    assert lip == pytest.approx(4.0)
    assert het == pytest.approx(2.0)
    assert torch.allclose(p.x_star, torch.zeros(5, dtype=torch.float64), atol=1e-12)
    x = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    # gradient of the mean loss equals the mean of the local gradients
    (gx,) = torch.autograd.grad(p.loss(x).sum(), x)
    assert torch.allclose(gx, p.worker_grads(x.detach()).mean(1))
    assert torch.allclose(p.gap(x.detach()), p.loss(x.detach()) - p.f_star)
    ce = LocalQuadratics.counterexample()
    mu, lip = ce.mu, ce.L
    assert mu == pytest.approx(7 / 6)
    assert lip == pytest.approx(103 / 6)


def test_local_quadratics_is_the_registered_problem():
    """One definition: the heterogeneous problem is the registered one."""
    A = LocalQuadratics.counterexample().A
    p = make_problem("local_quadratics", A=A)
    assert isinstance(p, LocalQuadratics) and p.n_workers == 3 and p.d == p.dim == 3


def test_local_quadratics_bad_input():
    with pytest.raises(InputError, match="shape"):
        LocalQuadratics(torch.eye(3))
    with pytest.raises(InputError, match="symmetric"):
        LocalQuadratics(torch.tensor([[[1.0, 2.0], [0.0, 1.0]]]))
    with pytest.raises(InputError, match="positive definite"):
        LocalQuadratics(torch.zeros(1, 2, 2))
    with pytest.raises(InputError, match="mu <= L"):
        LocalQuadratics.random(2, 3, mu=5, L=1)
    with pytest.raises(InputError, match="heterogeneity"):
        LocalQuadratics.random(2, 3, heterogeneity=-1)


@pytest.mark.parametrize("M", [DCGD, EF, EF21])
def test_identity_compressor_gives_gradient_descent(M):
    p = LocalQuadratics.random(3, 4, heterogeneity=1.0, seed=1)
    x0 = torch.ones(4, dtype=torch.float64)
    r = run(M(make("identity")), p, x0=x0, eta=0.05, steps=20)
    x = x0[None].clone()
    for _ in range(20):
        x = x - 0.05 * p.worker_grads(x).mean(1)
    assert torch.allclose(r.x, x, atol=1e-6)  # identity sends float32 values


def test_ef_virtual_iterate_is_sgd():
    """EF identity: x̃ = x - mean_i e_i follows x̃⁺ = x̃ - η mean_i g_i exactly."""
    p = LocalQuadratics.random(4, 6, heterogeneity=1.0, seed=2)
    m = EF(make("topk", k=2))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    grads = p.worker_grads(x)
    state = m.init(grads)
    xt = x.clone()
    for _ in range(25):
        grads = p.worker_grads(x)
        delta, state = m.update(state, grads, 0.03)
        x = x - delta
        xt = xt - 0.03 * grads.mean(1)
        assert torch.allclose(x - state["e"].mean(1), xt, atol=1e-12)


def test_ef21_tracks_local_gradients():
    """EF21's g_i converge to ∇f_i(x*) on the counterexample; the iterates to x* = 0."""
    p = LocalQuadratics.counterexample()
    m = EF21(make("topk", k=1))
    r = run(m, p, x0=torch.ones(3), eta=0.05, steps=600)
    assert r.dist[0, -1] < 1e-20 * r.dist[0, 0]
    compressed_init = EF21(make("topk", k=1), init_mode="compressed")
    r2 = run(compressed_init, p, x0=torch.ones(3), eta=0.05, steps=600)
    assert r2.dist[0, -1] < 1e-16 * r2.dist[0, 0]
    with pytest.raises(InputError):
        EF21(make("topk", k=1), init_mode="zeros")


def test_counterexample_dcgd_diverges_ef_converges():
    ce = dcgd_counterexample(1)
    p = LocalQuadratics.counterexample()
    for eta in (0.02, 0.2):
        r = run(DCGD(make("topk", k=1)), p, x0=torch.ones(3), eta=eta, steps=30)
        growth = np.sqrt(r.dist[0, 1:] / r.dist[0, :-1])
        pred = float(ce.growth.subs(ETA, eta))
        # float32 wire values: |error| <= eta (11/6) 2^-23 + float64 rounding
        assert np.max(np.abs(growth - pred)) <= eta * 11 / 6 * 2.0**-23 + 1e-14
    r = run(EF(make("topk", k=1)), p, x0=torch.ones(3), eta=0.05, steps=600)
    assert r.dist[0, -1] < 1e-20
    r = run(DCGD(make("topk", k=1)), p, x0=torch.ones(3), eta=0.5, steps=2000,
            blowup=1e30)
    assert r.diverged_at is not None and np.isnan(r.gap[0, -1])


def test_replicas_workers_and_per_worker_compressors():
    p = LocalQuadratics.random(3, 6, heterogeneity=1.0, seed=3)
    specs = [make("topk", k=1), make("topk", k=2), make("identity")]
    r = run(DCGD(specs), p, x0=torch.ones(6), eta=0.02, steps=10, replicas=2)
    assert r.gap.shape == (2, 11) and r.x.shape == (2, 6)
    assert np.allclose(r.gap[0], r.gap[1])  # deterministic and same x0
    g = torch.Generator().manual_seed(0)
    r = run(EF(make("randk_unscaled", k=2)), p, x0=torch.ones(6), eta=0.02, steps=10,
            replicas=2, generator=g, noise=1.0, record_every=3)
    assert list(r.steps) == [0, 3, 6, 9, 10]
    assert not np.allclose(r.gap[0, 1:], r.gap[1, 1:])  # independent replicas
    assert r.bits_per_message == make("randk_unscaled", k=2).numeric_bits(6)


def test_noise_has_the_stated_second_moment():
    """E||xi||^2 = C: one DCGD step with identity from x* gives delta = eta mean_i xi_i, so
    E||delta||^2 = eta^2 C/n (4000 replicas, seed 0, 4 SE)."""
    from theorykit.check.stats import mean_se

    p = LocalQuadratics.random(4, 5, seed=4)
    g = torch.Generator().manual_seed(0)
    r = run(DCGD(make("identity")), p, x0=torch.zeros(5), eta=1.0, steps=1, replicas=4000,
            generator=g, noise=2.0)
    est = mean_se(r.dist[:, 1])
    assert abs(est.mean - 2.0 / 4) <= 4 * est.se


def test_weighted_average_matches_direct_sum():
    p = LocalQuadratics.random(2, 3, heterogeneity=1.0, seed=5)
    q, steps = 0.9, 7
    m = EF(make("topk", k=1))
    r = run(m, p, x0=torch.ones(3), eta=0.05, steps=steps, average_q=q)
    xs, x = [], torch.ones(1, 3, dtype=torch.float64)
    state = m.init(p.worker_grads(x))
    for _ in range(steps):
        xs.append(x)
        delta, state = m.update(state, p.worker_grads(x), 0.05)
        x = x - delta
    w = torch.tensor([q ** -(k + 1) for k in range(steps)], dtype=torch.float64)
    xbar = sum(wk * xk for wk, xk in zip(w, xs, strict=True)) / w.sum()
    assert r.gap_avg[0] == pytest.approx(float(p.gap(xbar)[0]), rel=1e-10)


def test_run_bad_input():
    p = LocalQuadratics.counterexample()
    m = DCGD(make("topk", k=1))
    with pytest.raises(InputError, match="steps"):
        run(m, p, x0=torch.ones(3), eta=0.1, steps=0)
    with pytest.raises(InputError, match="noise"):
        run(m, p, x0=torch.ones(3), eta=0.1, steps=1, noise=-1)
    with pytest.raises(InputError, match="x0"):
        run(m, p, x0=torch.ones(4), eta=0.1, steps=1)
    with pytest.raises(InputError, match="average_q"):
        run(m, p, x0=torch.ones(3), eta=0.1, steps=1, average_q=1.5)
    with pytest.raises(InputError, match="CompressorSpec"):
        DCGD("topk")


def test_single_thread_context_restores():
    before = torch.get_num_threads()
    with single_thread_if_small(10):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- EF bound module
def test_ef_bound_symbolic():
    b = efb.ef_bound()
    expect = (efb.C1 * efb.DELTA * efb.L * efb.R0 * sp.exp(-efb.MU * efb.K /
              (efb.C2 * efb.DELTA * efb.L)) + efb.C3 * (efb.NOISE + efb.C4 * efb.DELTA * efb.HET)
              / (efb.MU * efb.K))
    assert sp.simplify(b.expr - expect) == 0
    assert b.evaluate(delta=4, L=10, mu=1, K=1000, C=1, D=1, R0=1) == pytest.approx(
        40 * math.exp(-25) + 5 / 1000)
    slopes = efb.floor_slopes()
    assert slopes == {"C": 1, "D": 1, "delta_fixed_eta": 1, "delta_at_cap": 0, "K": -1}
    assert sp.simplify(efb.constant_step_floor() - efb.C3 * efb.ETA *
                       (efb.NOISE + efb.C4 * efb.DELTA * efb.HET)) == 0


def test_stich_step_and_bad_input():
    assert efb.stich_step(1000, mu=1, d0=40, r0=1, c=5) == pytest.approx(
        min(1 / 40, math.log(1e6 / 5) / 1000))
    assert efb.stich_step(10, mu=1, d0=40, r0=1, c=0) == 1 / 40
    with pytest.raises(InputError, match="delta"):
        efb.ef_bound().evaluate(delta=0.5, L=10, mu=1, K=10, C=0, D=0, R0=1)
    with pytest.raises(InputError, match="mu"):
        efb.ef_bound().evaluate(delta=2, L=1, mu=10, K=10, C=0, D=0, R0=1)
    with pytest.raises(InputError, match="C and D"):
        efb.ef_bound().evaluate(delta=2, L=10, mu=1, K=10, C=-1, D=0, R0=1)
    with pytest.raises(InputError, match="K"):
        efb.stich_step(0, mu=1, d0=1, r0=1, c=1)


def test_measured_floor_is_linear_in_C():
    """Homogeneity: with the same seed, scaling C by 4 scales the floor by exactly 4."""
    kw = dict(n=2, d=6, k=2, D=0.0, eta=0.05, window=50, replicas=4, seed=3)
    a = efb.measure_floor(C=1.0, **kw)
    b = efb.measure_floor(C=4.0, **kw)
    assert b.mean == pytest.approx(4 * a.mean, rel=1e-5)  # float32 wire rounding
    with pytest.raises(InputError):
        efb.measure_floor(C=1.0, **(kw | {"window": 0}))
