"""Measured strong and weak orders of the batched SDE solvers (theorykit.sde.solvers).

Method. Every SDE in the table has an exact solution driven by the *same* Brownian path as
the solver: a fine Brownian path (2^J steps) is drawn once, the solver at step h = T/2^j
uses its sums over blocks of 2^(J-j) fine steps, and the exact X_T is computed from the
same fine path (GBM: closed form in W_T; OU: the exact recursion with the stochastic
integral sampled jointly with the increment, so it is exact, not a fine-step proxy).

* strong error  e_s(h) = E|X^h_T - X_T|                 (sample mean over P paths, SE)
* weak error    e_w(h) = |E g(X^h_T) - E g(X_T)|, g(x) = ||x||^2, estimated with common random
  numbers as the mean of g(X^h_T) - g(X_T) (unbiased; its SE is small because the two
  terms are coupled).

The slope of log e against log h is fitted by ``stats.loglog_slope`` with the per-point
SEs as weights; the test asserts |slope - order| <= 3·SE(slope) + 0.1, where 0.1 is a
declared pre-asymptotic allowance (the order is a limit h -> 0; at h in [2^-8, 2^-4] the
next term of the error expansion still bends the curve slightly). Each row also checks
that the measurement *discriminates*: the slope is farther than that tolerance from the
other candidate order (0.5 vs 1). Sample size P = 10^4, seed fixed per row.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from theorykit.check.stats import loglog_slope, mean_se
from theorykit.errors import DivergenceError, InputError
from theorykit.sde.solvers import (
    AbstractSolver,
    EulerMaruyama,
    Milstein,
    get_solver,
    solve,
)

DT = torch.float64
T = 1.0
J = 10
LEVELS = (4, 5, 6, 7, 8)
PRE_ASYMPTOTIC = 0.1


# ------------------------------------------------------------------ test SDEs with exact paths
def gbm(P: int, seed: int, mu=0.5, sig=0.5):
    """dX = mu X dt + sig X dW (diagonal noise, d=1): X_T = exp((mu - sig^2/2)T + sig W_T)."""
    g = torch.Generator().manual_seed(seed)
    dWf = torch.randn(2**J, P, 1, generator=g, dtype=DT) * math.sqrt(T / 2**J)
    exact = torch.exp((mu - sig**2 / 2) * T + sig * dWf.sum(0))
    return (lambda t, x: mu * x), (lambda t, x: sig * x), torch.ones(P, 1, dtype=DT), dWf, exact


def gbm_general(P: int, seed: int, mu=0.5, s=(0.3, 0.4)):
    """dX = mu X dt + X (s1 dW1 + s2 dW2): general noise (P, 1, 2) that depends on the path.
    X_T = exp((mu - (s1^2+s2^2)/2) T + s1 W1_T + s2 W2_T)."""
    g = torch.Generator().manual_seed(seed)
    dWf = torch.randn(2**J, P, 2, generator=g, dtype=DT) * math.sqrt(T / 2**J)
    sv = torch.tensor(s, dtype=DT)
    exact = torch.exp((mu - (sv**2).sum() / 2) * T + dWf.sum(0) @ sv[:, None])
    return ((lambda t, x: mu * x), (lambda t, x: x[:, :, None] * sv),
            torch.ones(P, 1, dtype=DT), dWf, exact)


def ou(P: int, seed: int, theta=(2.0, 0.5), G=((1.0, 0.0), (0.6, 0.8)), general=True):
    """dX = -diag(theta) X dt + G dW (additive noise). X_T is computed exactly from the same
    Brownian path: for every fine step and Brownian j the vector (dW_j, I_{theta_1,j}, ...),
    I_{theta,j} = int exp(-theta (t_{n+1}-s)) dW_j(s), is Gaussian with known covariance and
    is drawn jointly (Cholesky); then X_{n+1} = exp(-theta h) X_n + G-weighted I's.
    ``general=False``: diagonal noise G = diag(G[0][0], G[1][1])."""
    th = torch.tensor(theta, dtype=DT)
    Gm = torch.tensor(G, dtype=DT) if general else torch.diag(torch.tensor([G[0][0], G[1][1]],
                                                                            dtype=DT))
    d, m = Gm.shape
    h = T / 2**J
    rates = torch.cat([torch.zeros(1, dtype=DT), th])  # rate 0 <-> the increment itself
    S = rates[:, None] + rates[None, :]
    C = torch.where(S > 0, (1 - torch.exp(-S * h)) / torch.where(S > 0, S, 1.0), h)
    L = torch.linalg.cholesky(C)
    g = torch.Generator().manual_seed(seed)
    dWf = torch.empty(2**J, P, m, dtype=DT)
    x = torch.ones(P, d, dtype=DT)
    a = torch.exp(-th * h)
    GI = (Gm.T[:, :, None] * L[1:][None]).reshape(m, d, d + 1)  # (j, i, c): G_ij L_{1+i,c}
    for n in range(2**J):
        z = torch.randn(P, m, d + 1, generator=g, dtype=DT)  # (P, j, c) standard normals
        dWf[n] = z @ L[0]
        # component i: a_i x_i + sum_j G_ij I_{theta_i, j},  I_{theta_i, j} = z_j . L_{1+i}
        x = a * x + torch.einsum("pjc,jic->pi", z, GI)
    gm = Gm[None] if general else torch.diagonal(Gm)[None].expand(1, d)
    return (lambda t, x: -th * x), (lambda t, x: gm), torch.ones(P, d, dtype=DT), dWf, x


def measure(solver: AbstractSolver, sde, levels=LEVELS):
    drift, diff, x0, dWf, exact = sde
    P = x0.shape[0]
    hs, es, es_se, ws, ws_se = [], [], [], [], []
    for j in levels:
        r = 2 ** (J - j)
        blocks = dWf.reshape(2**j, r, *dWf.shape[1:]).sum(1)
        res = solver.solve(drift, diff, x0, 0.0, T, T / 2**j,
                           increments=lambda k, shape, b=blocks: b[k])
        assert res.n_steps == 2**j
        err = (res.x - exact).norm(dim=1)
        w = (res.x**2).sum(1) - (exact**2).sum(1)
        hs.append(T / 2**j)
        es.append(err.mean().item())
        es_se.append(err.std().item() / math.sqrt(P))
        ws.append(abs(w.mean().item()))
        ws_se.append(w.std().item() / math.sqrt(P))
    strong = loglog_slope(np.array(hs), np.array(es), np.array(es_se))
    weak = loglog_slope(np.array(hs), np.array(ws), np.array(ws_se))
    return strong, weak, np.array(ws), np.array(ws_se)


def _check(slope, order, what):
    tol = 3 * slope.se + PRE_ASYMPTOTIC
    assert slope.se < 0.08, f"{what}: slope SE {slope.se:.3f} too large to discriminate"
    assert abs(slope.slope - order) <= tol, (
        f"{what}: measured order {slope.slope:.3f} ± {slope.se:.3f}, theory {order}, tol {tol:.3f}")
    other = 1.0 if order == 0.5 else 0.5
    assert abs(slope.slope - other) > tol, f"{what}: cannot tell {order} from {other}"


# (solver, SDE, P, seed, expected strong order, expected weak order)
TABLE = [
    pytest.param(EulerMaruyama(), gbm, 10_000, 1, EulerMaruyama.strong_order, 1.0,
                 id="euler-gbm-diagonal"),
    pytest.param(Milstein(), gbm, 10_000, 2, Milstein.strong_order, 1.0,
                 id="milstein(autograd)-gbm-diagonal"),
    pytest.param(Milstein(derivative="fd"), gbm, 10_000, 3, 1.0, 1.0,
                 id="milstein(fd)-gbm-diagonal"),
    pytest.param(Milstein(diffusion_dx=lambda t, x: torch.full_like(x, 0.5)), gbm, 10_000, 4,
                 1.0, 1.0, id="milstein(given)-gbm-diagonal"),
    pytest.param(EulerMaruyama(), gbm_general, 10_000, 5, 0.5, 1.0,
                 id="euler-gbm-general(P,d,m)"),
    # additive noise: EM coincides with Milstein, strong order 1 (Kloeden-Platen §10.2)
    pytest.param(EulerMaruyama(), lambda P, s: ou(P, s, general=True), 10_000, 6, 1.0, 1.0,
                 id="euler-ou-general(1,d,m)-additive"),
    pytest.param(EulerMaruyama(), lambda P, s: ou(P, s, general=False), 10_000, 7, 1.0, 1.0,
                 id="euler-ou-diagonal-additive"),
]


@pytest.mark.parametrize(("solver", "sde", "P", "seed", "strong", "weak"), TABLE)
def test_measured_orders(solver, sde, P, seed, strong, weak):
    s, w, ws, ws_se = measure(solver, sde(P, seed))
    assert np.all(ws > 3 * ws_se), "weak error not resolved above the Monte Carlo error"
    _check(s, strong, f"{solver.name} strong")
    _check(w, weak, f"{solver.name} weak")


def test_declared_orders():
    assert (EulerMaruyama.strong_order, EulerMaruyama.weak_order) == (0.5, 1.0)
    assert (Milstein.strong_order, Milstein.weak_order) == (1.0, 1.0)
    assert Milstein.noise_types == ("diagonal",)
    with pytest.raises(TypeError, match="must declare"):
        class Bad(AbstractSolver):
            name = "bad"

            def step(self, *a):
                return a[3]


def test_exact_samplers_match_closed_form_moments():
    """The exact-path constructions used above have the right laws (E X_T^2 closed form)."""
    *_, ex = gbm(10_000, 11)
    est = mean_se((ex**2)[:, 0].numpy())
    assert abs(est.mean - math.exp(2 * 0.5 + 0.25)) <= 3 * est.se
    *_, ex = ou(10_000, 12, general=True)
    th = np.array([2.0, 0.5])
    G = np.array([[1.0, 0.0], [0.6, 0.8]])
    var = (G**2).sum(1) * (1 - np.exp(-2 * th)) / (2 * th)
    for i in range(2):
        est = mean_se((ex[:, i] ** 2).numpy())
        assert abs(est.mean - (np.exp(-2 * th[i]) + var[i])) <= 3 * est.se
    # cross moment: E X1 X2 = e^{-(th1+th2)} + (G G^T)_12 (1 - e^{-(th1+th2)})/(th1+th2)
    est = mean_se((ex[:, 0] * ex[:, 1]).numpy())
    s = th.sum()
    assert abs(est.mean - (np.exp(-s) + (G @ G.T)[0, 1] * (1 - np.exp(-s)) / s)) <= 3 * est.se


def test_euler_weak_error_matches_exact_discrete_moment():
    """EM on OU (diagonal): E X_n^2 follows the exact recursion m <- (1-th h)^2 m + s^2 h;
    the solver's MC mean (own generator, no shared path) agrees within 3 SE (n = 4·10^4)."""
    th, s, h, P = 1.5, 0.7, 0.1, 40_000
    res = EulerMaruyama().solve(lambda t, x: -th * x, lambda t, x: torch.full_like(x, s),
                                torch.ones(P, 1, dtype=DT), 0.0, 2.0, h,
                                generator=torch.Generator().manual_seed(3),
                                record={"x2": lambda x: (x**2).sum(1)}, record_every=5)
    m = 1.0
    for _ in range(20):
        m = (1 - th * h) ** 2 * m + s**2 * h
    assert res.steps == [0, 5, 10, 15, 20]
    assert res.mean["x2"].shape == (5,)
    assert abs(res.mean["x2"][-1].item() - m) <= 3 * res.se["x2"][-1].item()
    assert res.mean["x2"][0].item() == 1.0


def test_reproducible_and_generator_driven():
    f, g = (lambda t, x: -x), (lambda t, x: 0.3 * torch.ones_like(x))
    x0 = torch.zeros(100, 3, dtype=DT)
    a = solve(f, g, x0, 0, 1, 0.1, generator=torch.Generator().manual_seed(5)).x
    b = solve(f, g, x0, 0, 1, 0.1, generator=torch.Generator().manual_seed(5)).x
    c = solve(f, g, x0, 0, 1, 0.1, generator=torch.Generator().manual_seed(6)).x
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x0, torch.zeros(100, 3, dtype=DT)), "x0 must not be modified"


def test_milstein_derivative_modes_agree_with_exact_derivative():
    """One Milstein step: autograd and the given derivative agree to rounding; the
    derivative-free form differs by O(h^{3/2}) per step (the ratio of the gaps at h and
    h/4 tends to 4^{3/2} = 8)."""
    f = lambda t, x: 0.2 * x  # noqa: E731
    g = lambda t, x: torch.sin(x) + 1.5  # noqa: E731
    x0 = torch.linspace(-2, 2, 50, dtype=DT)[:, None]
    z = torch.randn(50, 1, generator=torch.Generator().manual_seed(0), dtype=DT)
    gaps = []
    for h in (1e-2, 2.5e-3):
        dW = z * math.sqrt(h)
        a = Milstein().step(f, g, 0.0, x0, h, dW, "diagonal")
        b = Milstein(diffusion_dx=lambda t, x: torch.cos(x)).step(f, g, 0.0, x0, h, dW,
                                                                   "diagonal")
        c = Milstein(derivative="fd").step(f, g, 0.0, x0, h, dW, "diagonal")
        assert torch.allclose(a, b, atol=1e-14)
        gaps.append((a - c).abs().max().item())
        e = EulerMaruyama().step(f, g, 0.0, x0, h, dW, "diagonal")
        assert not torch.allclose(a, e)
    assert 6.0 < gaps[0] / gaps[1] < 10.0


def test_record_modes_and_memory():
    f, g = (lambda t, x: -x), (lambda t, x: torch.ones_like(x))
    x0 = torch.ones(64, 4, dtype=DT)
    gen = torch.Generator().manual_seed(1)
    r = solve(f, g, x0, 0.0, 1.0, 0.1, generator=gen, record="trajectory", record_every=3)
    assert r.steps == [0, 3, 6, 9, 10] and r.trajectory.shape == (5, 64, 4)
    assert torch.equal(r.trajectory[0], x0) and torch.equal(r.trajectory[-1], r.x)
    assert r.t[-1] == pytest.approx(1.0)
    r = solve(f, g, x0, 0.0, 1.0, 0.1, generator=gen, record=None)
    assert r.trajectory is None and r.mean == {} and r.steps == [10]
    r = solve(f, g, x0, 0.0, 1.0, 0.1, generator=gen,
              record=lambda t, x: x.mean(0), record_every=5)
    assert r.records.shape == (3, 4)
    # last step shortened when dt does not divide the span
    r = solve(f, g, x0, 0.0, 1.0, 0.3, generator=gen, record="trajectory")
    assert r.n_steps == 4 and r.t[-1] == pytest.approx(1.0)


def test_divergence_detected_with_step():
    f, g = (lambda t, x: x**2), (lambda t, x: torch.zeros_like(x))
    x0 = torch.ones(4, 1, dtype=DT)  # dx = x^2 dt blows up at t = 1; EM with h=0.1 later
    with pytest.raises(DivergenceError) as ei:
        solve(f, g, x0, 0.0, 5.0, 0.1, threshold=1e6)
    # the exact EM recursion x <- x + 0.1 x^2 first exceeds 1e6 at step k0:
    x, k0 = 1.0, 0
    while x <= 1e6:
        x, k0 = x + 0.1 * x * x, k0 + 1
    assert ei.value.step == k0
    r = solve(f, g, x0, 0.0, 5.0, 0.1, threshold=1e6, on_divergence="flag",
              record={"x": lambda x: x[:, 0]})
    assert r.diverged and r.diverged_step == k0
    assert torch.isfinite(r.x).all() and torch.isfinite(r.mean["x"]).all()
    # NaN is divergence too
    with pytest.raises(DivergenceError):
        solve(lambda t, x: x * float("nan"), g, x0, 0.0, 1.0, 0.1)


def test_general_noise_matches_diagonal_when_matrix_is_diagonal():
    x0 = torch.randn(32, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    s = torch.tensor([0.5, 1.0, 2.0], dtype=DT)
    f = lambda t, x: -x  # noqa: E731
    a = solve(f, lambda t, x: s * torch.ones_like(x), x0, 0, 1, 0.1,
              generator=torch.Generator().manual_seed(9)).x
    b = solve(f, lambda t, x: torch.diag(s)[None], x0, 0, 1, 0.1,
              generator=torch.Generator().manual_seed(9)).x
    c = solve(f, lambda t, x: torch.diag(s)[None].expand(32, 3, 3), x0, 0, 1, 0.1,
              generator=torch.Generator().manual_seed(9)).x
    assert torch.allclose(a, b, atol=1e-12) and torch.allclose(a, c, atol=1e-12)


def test_memory_guard_counts_what_a_broadcast_diffusion_stores(monkeypatch):
    """A constant d x d diffusion broadcast over P paths (``expand``) stores d² numbers: the
    memory guard must not refuse it as if it held P·d² (found by benchmarks/sde_solver.py at
    P = 10^4, d = 1000, refused as 112 GiB), while a per-path matrix of that size is refused."""
    monkeypatch.setenv("THEORYKIT_MAX_MEMORY", "4M")
    P, d = 400, 60                                   # logical P·d²·8·3 = 34.6 MB > 4 MB
    x0 = torch.zeros(P, d, dtype=DT)
    C = 0.1 * torch.eye(d, dtype=DT)
    r = solve(lambda t, x: -x, lambda t, x: C.expand(P, d, d), x0, 0, 0.05, 0.01,
              generator=torch.Generator().manual_seed(0))
    assert r.x.shape == (P, d) and torch.isfinite(r.x).all()
    with pytest.raises(InputError, match="general-noise diffusion"):
        solve(lambda t, x: -x, lambda t, x: C.repeat(P, 1, 1), x0, 0, 0.05, 0.01,
              generator=torch.Generator().manual_seed(0))


def test_bad_input():
    f, g = (lambda t, x: -x), (lambda t, x: torch.ones_like(x))
    x0 = torch.ones(4, 2)
    with pytest.raises(InputError, match="dt"):
        solve(f, g, x0, 0, 1, -0.1)
    with pytest.raises(InputError, match="t1"):
        solve(f, g, x0, 1, 0, 0.1)
    with pytest.raises(InputError, match="x0"):
        solve(f, g, torch.ones(4), 0, 1, 0.1)
    with pytest.raises(InputError, match="dt"):
        solve(f, g, x0, 0, 1, float("nan"))
    with pytest.raises(InputError, match="diagonal"):
        Milstein().solve(f, lambda t, x: torch.ones(4, 2, 2), x0, 0, 1, 0.1)
    with pytest.raises(InputError, match="shape"):
        solve(f, lambda t, x: torch.ones(4, 2, 2, 2), x0, 0, 1, 0.1)
    with pytest.raises(InputError, match="unknown solver"):
        get_solver("rk45")
    with pytest.raises(InputError, match="record_every"):
        solve(f, g, x0, 0, 1, 0.1, record_every=0)


@pytest.mark.parametrize("method", ["euler", "milstein"])
def test_derived_coefficients_vectorised_path_matches_plain_path(method):
    """Solving a lambdified diagonal SDE (its d components evaluated as one vectorised
    template, sqrt taken in place) gives the same paths as the plain per-component
    lambdify with the out-of-place sqrt(eta Σ_jj), to 1e-12 in float64."""
    import sympy as sp

    from theorykit.sde.lambdify import sqrt_nonneg, vector_function
    from theorykit.sde.sde import SDE, TIME

    d, eta = 7, 0.05
    xs = sp.symbols(f"x_1:{d + 1}", real=True)
    lam = [sp.Rational(1, 2) + sp.Rational(j, 4) for j in range(d)]  # λ = 1 and 2 included
    drift = [-lam[j] * xs[j] for j in range(d)]
    cov = [lam[j] ** 2 * xs[j] ** 2 / 4 + sp.Rational(1, 2) for j in range(d)]
    sde = SDE(x=list(xs), drift=sp.Matrix(drift), diffusion_cov=sp.diag(*cov))
    f_fast, g_fast = sde.lambdify("torch", {"eta": eta})
    assert f_fast.paths["groups"] == 1
    assert sde.lambdify_cov("torch", {"eta": eta}).paths["groups"] == 1  # x_7**2 + 1/2 too
    f_plain = vector_function(drift, xs, "torch", t=TIME, fast=False)
    c_plain = vector_function(cov, xs, "torch", t=TIME, fast=False)

    def g_plain(t, x):
        return math.sqrt(eta) * sqrt_nonneg(c_plain(t, x))

    x0 = torch.linspace(-2, 2, 300 * d, dtype=DT).reshape(300, d)
    runs = [solve(f, g, x0, 0.0, 1.0, eta, method=method,
                  generator=torch.Generator().manual_seed(3)).x
            for f, g in ((f_fast, g_fast), (f_plain, g_plain))]
    assert torch.isfinite(runs[0]).all() and runs[0].std() > 0.1
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-12, atol=1e-14)
