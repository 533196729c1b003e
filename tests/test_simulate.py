"""The simulation driver: discrete runs and SDE runs report the right moments (exact
recursions on linear problems), the Richardson coupling works, schedules, divergence,
reproducibility and bad input. Sample sizes and seeds are fixed in each test; statistical
checks use z = 3·SE (or Bonferroni over the recorded points)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from theorykit.check.stats import bonferroni_z
from theorykit.errors import DivergenceError, InputError
from theorykit.methods import DSGD
from theorykit.noise import Gaussian
from theorykit.problems import LocalQuadratics, Quadratic
from theorykit.schedules import GradientNormalized, PolynomialDecay
from theorykit.sde import derive
from theorykit.simulate import resolve_stats, run_discrete, run_sde

pytestmark = pytest.mark.usefixtures("one_thread_module")

EIGS = [1.0, 2.0, 0.5]
Q = Quadratic(eigs=EIGS)
NZ = Gaussian(sigma=1.0)
N, B = 4, 2


def exact_sqnorm(eta: float, steps: int, x0: float, h: float | None = None) -> np.ndarray:
    """E||x_k||^2 of x <- (1 - h λ) x + noise, Var(noise) = h·eta·σ²/(NB) per coordinate (h =
    eta: DSGD itself, and EM with dt = eta on its SDE)."""
    h = eta if h is None else h
    r = round(eta / h)
    out = [3 * x0**2]
    m = np.full(3, x0**2)
    for _ in range(steps):
        for _ in range(r):
            m = (1 - h * np.array(EIGS)) ** 2 * m + h * eta / (N * B)
        out.append(m.sum())
    return np.array(out)


def test_discrete_dsgd_follows_exact_moment_recursion():
    r = run_discrete(DSGD(), Q, NZ, eta=0.2, steps=30, replicas=4000, n_workers=N, batch=B,
                     x0=1.0, seed=3, record_every=5, stats=("sqnorm", "loss"))
    assert r.steps.tolist() == [0, 5, 10, 15, 20, 25, 30]
    ex = exact_sqnorm(0.2, 30, 1.0)[r.steps]
    z = bonferroni_z(len(ex) - 1)
    assert np.all(np.abs(r.mean["sqnorm"][1:] - ex[1:]) <= z * r.se["sqnorm"][1:])
    assert r.mean["sqnorm"][0] == 3.0 and r.se["sqnorm"][0] == 0.0
    assert r.t.tolist() == pytest.approx([0, 1, 2, 3, 4, 5, 6])
    assert not r.diverged and r.x.shape == (4000, 3)


@pytest.mark.parametrize("sub", [1, 4])
def test_sde_run_follows_euler_recursion(sub):
    """The derived DSGD SDE solved by EM with dt = eta/sub: E||X||^2 follows the EM recursion
    (sub = 1 is the same law as DSGD itself)."""
    sde = derive("dsgd", None, NZ, Q, n_workers=N, batch=B)
    eta = 0.2
    r = run_sde(sde, Q, eta=eta, steps=30, replicas=4000, x0=1.0, dt=eta / sub, seed=4,
                record_every=10, stats=("sqnorm",))
    assert r.steps.tolist() == [0, 10, 20, 30]
    ex = exact_sqnorm(eta, 30, 1.0, h=eta / sub)[r.steps]
    z = bonferroni_z(3)
    assert np.all(np.abs(r.mean["sqnorm"][1:] - ex[1:]) <= z * r.se["sqnorm"][1:])


def test_generic_gradient_sde_equals_problem_sde():
    """An SDE derived for a generic gradient, composed with the problem's torch gradient,
    gives the same paths as the SDE derived with the problem's symbolic gradient."""
    a = derive("dsgd", None, NZ, Q, n_workers=N, batch=B)
    b = derive("dsgd", None, NZ, 3, n_workers=N, batch=B)
    kw = dict(eta=0.1, steps=20, replicas=50, x0=[1.0, -1.0, 0.5], seed=9, record_every=20)
    ra, rb = run_sde(a, Q, **kw), run_sde(b, Q, **kw)
    assert torch.allclose(ra.x, rb.x, atol=1e-12)


def test_richardson_coupling_shares_the_brownian_path():
    """Zero drift, constant diffusion: the dt and dt/2 solves end at the same point, so the
    extrapolated statistics equal the fine solve's exactly."""
    f = (lambda t, X: torch.zeros_like(X), lambda t, X: torch.ones_like(X))
    kw = dict(eta=0.1, steps=10, replicas=200, x0=0.0, seed=5, record_every=5,
              stats={"x1": lambda X: X[:, 0]})
    ex = run_sde(f, Q, dt=0.1, extrapolate=True, **kw)
    fine = run_sde(f, Q, dt=0.05, **kw)
    assert np.allclose(ex.mean["x1"], fine.mean["x1"], atol=1e-12)
    assert np.allclose(ex.se["x1"], fine.se["x1"], atol=1e-12)


def test_richardson_removes_the_euler_bias():
    """OU dX = -X dt + dW from X0 = 1, T = 1: E X_T^2 = e^-2 + (1 - e^-2)/2. EM with step h has
    E X^2 from m <- (1-h)^2 m + h exactly; with h = 0.25 its bias is > 5 SE (R = 2·10^4), while
    the extrapolation 2 m(h/2) - m(h) leaves an O(h^2) residual, computed here, and the
    estimate is within 3 SE of exact + that residual."""
    f = (lambda t, X: -X, lambda t, X: torch.ones_like(X))
    exact = math.exp(-2) + (1 - math.exp(-2)) / 2

    def em(h):
        m = 1.0
        for _ in range(round(1 / h)):
            m = (1 - h) ** 2 * m + h
        return m

    kw = dict(eta=0.25, steps=4, replicas=20_000, x0=1.0, seed=6, record_every=4,
              stats={"x2": lambda X: X[:, 0] ** 2})
    plain = run_sde(f, Quadratic(eigs=[1.0]), dt=0.25, **kw).estimate("x2")
    rich = run_sde(f, Quadratic(eigs=[1.0]), dt=0.25, extrapolate=True, **kw).estimate("x2")
    assert abs(plain.mean - em(0.25)) <= 3 * plain.se
    assert abs(plain.mean - exact) > 5 * plain.se
    residual = abs(2 * em(0.125) - em(0.25) - exact)
    assert residual < abs(em(0.25) - exact) / 4
    assert abs(rich.mean - exact) <= 3 * rich.se + residual


def test_tail_average_matches_discrete_stationary_moment():
    """Per-replica time averages after burn-in: E_inf f of DSGD = Σ_j η s²/(2(2 - ηλ_j)),
    s² = σ²/(NB) (exact for the algorithm)."""
    eta = 0.2
    r = run_discrete(DSGD(), Q, NZ, eta=eta, steps=300, replicas=1000, n_workers=N, batch=B,
                     x0=0.0, seed=8, record_every=300, stats=("loss",), average_from=60)
    exact = sum(eta / (N * B) / (2 * (2 - eta * lam)) for lam in EIGS)
    est = r.tail["loss"]
    assert est.n == 1000 and r.info["tail_points"] == 241
    assert abs(est.mean - exact) <= 3 * est.se


def test_schedules_in_discrete_and_sde_runs():
    """Without noise both runs are deterministic: x_k = prod_j (1 - eta λ m_j) x_0."""
    quiet = Gaussian(sigma=0.0)
    sch = PolynomialDecay(0.5)
    r = run_discrete(DSGD(), Q, quiet, eta=0.3, steps=8, replicas=2, x0=1.0, schedule=sch,
                     record_every=8, seed=0)
    expected = np.ones(3)
    for k in range(8):
        expected = expected * (1 - 0.3 * np.array(EIGS) * sch(k))
    assert np.allclose(r.x[0].numpy(), expected)
    sde = derive("dsgd", None, quiet, Q, n_workers=1, batch=1)
    s = run_sde(sde, Q, eta=0.3, steps=8, replicas=2, x0=1.0, schedule=sch, record_every=8)
    assert np.allclose(s.x[0].numpy(), expected)
    # gradient-normalized: per replica multiplier with the true gradient norm
    gsch = GradientNormalized(c0=1.0, c1=2.0)
    X0 = torch.tensor([[1.0, 1.0, 1.0], [3.0, 0.0, -1.0]], dtype=torch.float64)
    r = run_discrete(DSGD(), Q, quiet, eta=0.5, steps=5, replicas=2, x0=X0, schedule=gsch,
                     grad_norm="true", record_every=5)
    X = X0.clone()
    for _ in range(5):
        G = Q.grad(X)
        X = X - 0.5 * G / (1 + 2 * G.norm(dim=1, keepdim=True))
    assert torch.allclose(r.x, X)


def test_divergence_reported_with_step():
    """eta λ = 3 > 2: |x_k| = 2^k from x0 = 1 (no noise), first above 1e6 at k = 20."""
    quiet = Gaussian(sigma=0.0)
    q1 = Quadratic(eigs=[1.0])
    r = run_discrete(DSGD(), q1, quiet, eta=3.0, steps=50, replicas=3, x0=1.0,
                     threshold=1e6, stats=("sqnorm",))
    assert r.diverged and r.diverged_step == 20 and r.divergence_text() == "diverged at step 20"
    assert torch.isfinite(r.x).all() and r.steps[-1] == 19
    with pytest.raises(DivergenceError) as ei:
        run_discrete(DSGD(), q1, quiet, eta=3.0, steps=50, replicas=3, x0=1.0,
                     threshold=1e6, on_divergence="raise")
    assert ei.value.step == 20
    sde = derive("dsgd", None, quiet, q1, n_workers=1, batch=1)
    s = run_sde(sde, q1, eta=3.0, steps=50, replicas=3, x0=1.0, threshold=1e6)
    assert s.diverged_step == 20


def test_reproducible_from_seed():
    kw = dict(eta=0.1, steps=10, replicas=100, n_workers=N, batch=B, x0=1.0, record_every=10)
    a = run_discrete(DSGD(), Q, NZ, seed=1, **kw)
    b = run_discrete(DSGD(), Q, NZ, seed=1, **kw)
    c = run_discrete(DSGD(), Q, NZ, seed=2, **kw)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    assert a.series()["sqnorm_mean"] == b.series()["sqnorm_mean"]


def test_bad_input():
    kw = dict(steps=5, replicas=10, x0=1.0)
    with pytest.raises(InputError, match="eta"):
        run_discrete(DSGD(), Q, NZ, eta=-0.1, **kw)
    with pytest.raises(InputError, match="eta"):
        run_discrete(DSGD(), Q, NZ, eta=float("inf"), **kw)
    with pytest.raises(InputError, match="steps"):
        run_discrete(DSGD(), Q, NZ, eta=0.1, steps=0, replicas=10, x0=1.0)
    with pytest.raises(InputError, match="replicas"):
        run_discrete(DSGD(), Q, NZ, eta=0.1, steps=5, replicas=1.5, x0=1.0)
    with pytest.raises(InputError, match="number of workers"):
        run_discrete(DSGD(), Q, NZ, eta=0.1, n_workers=0, **kw)
    with pytest.raises(InputError, match="x0"):
        run_discrete(DSGD(), Q, NZ, eta=0.1, steps=5, replicas=10, x0=[1.0, 2.0])
    with pytest.raises(InputError, match="unknown statistic"):
        resolve_stats(Q, ["entropy"])
    with pytest.raises(InputError, match="divide"):
        run_sde(derive("dsgd", None, NZ, Q, n_workers=N, batch=B), Q, eta=0.1, dt=0.03, **kw)
    with pytest.raises(InputError, match="unknown method"):
        run_discrete("adam", Q, NZ, eta=0.1, **kw)


def test_local_objectives_reach_their_workers():
    """On a problem with local objectives worker i sees grad f_i: noiseless DSGD through
    run_discrete is gradient descent on the mean quadratic; N must equal the problem's n."""
    p = LocalQuadratics.random(3, 4, mu=1.0, L=4.0, heterogeneity=1.0, seed=2)
    x0 = torch.tensor([1.0, -0.5, 2.0, 0.25], dtype=torch.float64)
    r = run_discrete(DSGD(), p, Gaussian(sigma=0.0), eta=0.1, steps=25, replicas=2, x0=x0,
                     stats=("loss",))
    x = x0[None].expand(2, 4).clone()
    losses = [p.loss(x)]
    for _ in range(25):
        x = x - 0.1 * p.worker_grads(x).mean(1)
        losses.append(p.loss(x))
    assert r.info["n_workers"] == 3
    assert torch.allclose(r.x, x, rtol=0, atol=1e-13)
    assert np.allclose(r.series()["loss_mean"], torch.stack(losses)[:, 0].numpy(), atol=1e-13)
    # GD on the mean quadratic: x <- x - eta (Abar x - bbar) contracts to x*
    assert float(p.gap(r.x).max()) < float(p.gap(x0[None])[0])
    with pytest.raises(InputError, match="n_workers must be 3, got 2") as ei:
        run_discrete(DSGD(), p, NZ, eta=0.1, steps=5, replicas=2, x0=x0, n_workers=2)
    assert "\n" not in str(ei.value)
    # no heterogeneous-worker SDE is derived: run_sde refuses rather than ignore the f_i
    sde = derive("dsgd", None, NZ, Quadratic(eigs=[1.0, 1.0, 1.0, 1.0]), n_workers=3, batch=1)
    with pytest.raises(InputError, match="3 local objectives"):
        run_sde(sde, p, eta=0.1, steps=5, replicas=2, x0=x0)


def test_shared_run_options_are_checked_once():
    """Both runs take the shared keyword options (RunOptions) with the same defaults and
    reject an unknown keyword as Python does; a bad shared option is refused by both."""
    kw = dict(eta=0.1, steps=5, replicas=10, x0=1.0)
    sde = derive("dsgd", None, NZ, Q, n_workers=N, batch=B)
    for run, args in ((run_discrete, (DSGD(), Q, NZ)), (run_sde, (sde, Q))):
        name = run.__name__
        with pytest.raises(TypeError, match=f"{name}\\(\\) got an unexpected keyword .*'sed'"):
            run(*args, sed=1, **kw)
        with pytest.raises(InputError, match="average_from"):
            run(*args, average_from=6, **kw)
        with pytest.raises(InputError, match="on_divergence"):
            run(*args, on_divergence="ignore", **kw)
        r = run(*args, **kw)
        assert r.steps.tolist() == list(range(6)) and set(r.mean) == {"loss", "sqnorm"}
