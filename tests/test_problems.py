"""Problems: the closed-form torch face equals the lambdified SymPy face, the symbolic
gradient/Hessian are the derivatives of f, and the stated constants hold (symbolically
where derived, numerically by sampling)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.problems import (
    CoshSum,
    L0L1Quartic,
    LocalQuadratics,
    LogisticRegression,
    Problem,
    Quadratic,
    make_problem,
)

DT = torch.float64


def _X(d, R=16, seed=0, scale=1.0):
    return torch.randn(R, d, generator=torch.Generator().manual_seed(seed), dtype=DT) * scale


PROBLEMS = [
    pytest.param(lambda: Quadratic(eigs=[1.0, 0.5, 2.0]), id="quadratic-diag"),
    pytest.param(lambda: Quadratic(matrix=[[2.0, 0.5], [0.5, 1.0]], center=[1.0, -1.0]),
                 id="quadratic-general"),
    pytest.param(lambda: LogisticRegression(n=8, d=3, seed=1), id="logistic"),
    pytest.param(lambda: L0L1Quartic(d=2, c=0.5), id="quartic"),
    pytest.param(lambda: CoshSum(d=3), id="cosh"),
    pytest.param(lambda: LocalQuadratics.random(3, 4, mu=0.5, L=3.0, heterogeneity=1.0,
                                                seed=1), id="local-quadratics"),
    pytest.param(lambda: LocalQuadratics(
        [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 3.0]]], b=[[1.0, -0.5], [0.25, 2.0]],
        c=[0.5, -1.0]), id="local-quadratics-general"),
]


@pytest.mark.parametrize("make", PROBLEMS)
def test_torch_face_equals_lambdified_sympy(make):
    p = make()
    ref = Problem.from_expr(p.f, p.x)  # generic path: lambdify of f and sp.diff(f)
    X = _X(p.d)
    assert torch.allclose(p.loss(X), ref.loss(X), atol=1e-12, rtol=1e-10)
    assert torch.allclose(p.grad(X), ref.grad(X), atol=1e-12, rtol=1e-10)
    assert torch.allclose(p.hessian(X), ref.hessian(X), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("make", PROBLEMS)
def test_symbolic_gradient_and_hessian_are_derivatives(make):
    p = make()
    g = p.grad()
    H = p.hessian()
    assert g.shape == (p.d, 1) and H.shape == (p.d, p.d)
    for j, s in enumerate(p.x):
        assert _zero(g[j] - sp.diff(p.f, s), p.x)
        for k, t in enumerate(p.x):
            assert _zero(H[j, k] - sp.diff(p.f, s, t), p.x)


def _zero(e, xs) -> bool:
    """Symbolically zero; for expressions with float data (logistic) differentiation order
    leaves ~1e-20 round-off, so those must vanish numerically at random points."""
    if e == 0:
        return True
    if not e.has(sp.Float):
        return sp.simplify(e) == 0
    rng = np.random.default_rng(0)
    return all(abs(float(e.subs(dict(zip(xs, rng.standard_normal(len(xs)), strict=True)))))
               < 1e-12 for _ in range(3))


@pytest.mark.parametrize("make", PROBLEMS)
def test_torch_gradient_matches_autograd(make):
    p = make()
    X = _X(p.d).requires_grad_(True)
    (g,) = torch.autograd.grad(p.loss(X).sum(), X)
    assert torch.allclose(g, p.grad(X.detach()), atol=1e-10)


@pytest.mark.parametrize("make", PROBLEMS)
def test_minimizer_and_f_star(make):
    p = make()
    if p.minimizer is None:
        pytest.skip("no minimizer stated")
    xm = torch.as_tensor(p.minimizer[None], dtype=DT)
    assert p.grad(xm).abs().max() < 1e-9
    assert p.loss(xm)[0].item() == pytest.approx(p.f_star, abs=1e-12)
    assert (p.loss(_X(p.d, R=256)) >= p.f_star - 1e-12).all()
    assert torch.allclose(p.dist2(xm), torch.zeros(1, dtype=DT))


@pytest.mark.parametrize("make", PROBLEMS)
def test_smoothness_constants_hold_on_samples(make):
    """||H(x)||_2 <= L0 + L1 ||grad f(x)|| (and <= L, >= mu when stated) on 2000 points."""
    p = make()
    X = _X(p.d, R=2000, seed=3, scale=3.0)
    H = p.hessian(X)
    ev = torch.linalg.eigvalsh(H)
    spec = ev.abs().amax(-1)
    gn = p.grad(X).norm(dim=1)
    assert (spec <= p.L0 + p.L1 * gn + 1e-9).all()
    if p.L is not None:
        assert (spec <= p.L + 1e-9).all()
    if p.mu is not None:
        assert (ev.amin(-1) >= p.mu - 1e-9).all()


def test_quadratic_constants_and_validation():
    q = Quadratic(eigs=[1.0, 4.0, 0.25])
    assert q.L == 4.0 and q.mu == 0.25 and q.diagonal
    assert sp.simplify(q.f - (q.x[0] ** 2 / 2 + 2 * q.x[1] ** 2 + q.x[2] ** 2 / 8)) == 0
    g = Quadratic(matrix=[[2.0, 1.0], [1.0, 2.0]])
    assert not g.diagonal and pytest.approx(3.0) == g.L and g.mu == pytest.approx(1.0)
    assert Quadratic(eigs=[1.0, 0.0]).mu is None
    with pytest.raises(InputError, match="symmetric"):
        Quadratic(matrix=[[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(InputError, match="exactly one"):
        Quadratic()
    with pytest.raises(InputError, match=r"shape \(R, 3\)"):
        q.loss(torch.zeros(4, 2))


def test_local_quadratics_workers_and_mean():
    """grad f is the mean of the workers' gradients; the constants are those of the mean
    quadratic (shared with Quadratic); the registry builds it by name."""
    p = LocalQuadratics.random(4, 3, mu=0.5, L=3.0, heterogeneity=2.0, seed=0)
    X = _X(3)
    G = p.worker_grads(X)
    assert G.shape == (16, 4, 3) and torch.equal(p.grad(X), G.mean(1))
    mean = Quadratic(matrix=p.A.mean(0).numpy(), center=p.minimizer)
    assert (p.L, p.mu) == pytest.approx((mean.L, mean.mu))
    assert torch.allclose(p.gap(X), mean.loss(X), atol=1e-12)
    assert pytest.approx(2.0) == p.D
    assert p.constants()["n_workers"] == 4
    assert p.n_workers == 4 and Quadratic(eigs=[1.0]).n_workers is None
    assert Quadratic(eigs=[1.0, 2.0]).worker_grads(X[:, :2]).shape == (16, 1, 2)
    assert isinstance(make_problem("local_quadratics", A=p.A, b=p.b), LocalQuadratics)
    with pytest.raises(InputError, match=r"shape \(R, 3\)"):
        p.worker_grads(torch.zeros(2, 4))


def test_quartic_l0_l1_derivation():
    """L0(L1) = 4c/L1^2 is the exact max of 3cx^2 - L1 c|x|^3 (symbolic + numeric)."""
    c, L1 = L0L1Quartic.c_symbol, sp.Symbol("L_1", positive=True)
    assert sp.simplify(L0L1Quartic.l0_for(L1) - 4 * c / L1**2) == 0
    q = L0L1Quartic(d=1, c=0.5, L1=2.0)
    assert pytest.approx(0.5) == q.L0 and q.L1 == 2.0 and q.L is None and q.mu is None
    x = np.linspace(-5, 5, 100001)
    margin = q.L0 + q.L1 * 0.5 * np.abs(x) ** 3 - 3 * 0.5 * x**2
    assert margin.min() >= -1e-12 and margin.min() < 1e-6  # tight (attained at x = 2/L1)
    # smaller L0 fails somewhere
    assert (0.99 * q.L0 + q.L1 * 0.5 * np.abs(x) ** 3 - 1.5 * x**2).min() < 0


def test_cosh_l0_l1_derivation():
    x = sp.Symbol("x", real=True)
    # cosh^2 - sinh^2 = 1 and (1 + |sinh|)^2 - cosh^2 = 2|sinh| >= 0
    assert sp.simplify(sp.cosh(x) ** 2 - sp.sinh(x) ** 2) == 1
    a = sp.Symbol("a", nonnegative=True)  # a = |sinh x|, so cosh^2 = 1 + a^2
    assert sp.expand((1 + a) ** 2 - (1 + a**2)) == 2 * a  # >= 0, so cosh <= 1 + |sinh|
    xs = np.linspace(-8, 8, 10001)
    assert (1 + np.abs(np.sinh(xs)) - np.cosh(xs) >= -1e-9).all()
    p = CoshSum(d=2)
    assert (p.L0, p.L1, p.mu, p.L) == (1.0, 1.0, 1.0, None)


def test_logistic_constants_and_reproducibility():
    a = LogisticRegression(n=50, d=4, seed=7)
    b = LogisticRegression(n=50, d=4, seed=7)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.labels, b.labels)
    assert a.mu == 0.1
    # L is an upper bound of the Hessian spectrum and is attained up to the 1/4 factor
    X = _X(4, R=500, scale=0.01)
    top = torch.linalg.eigvalsh(a.hessian(X)).amax().item()
    assert top <= a.L + 1e-12 and top >= 0.9 * a.L - 0.1


def test_make_problem_and_bad_input():
    assert isinstance(make_problem("cosh", d=2), CoshSum)
    with pytest.raises(InputError, match="unknown problem"):
        make_problem("rosenbrock")
    with pytest.raises(InputError, match="dimension"):
        CoshSum(d=0)
    with pytest.raises(InputError, match="c"):
        L0L1Quartic(c=-1)
    with pytest.raises(InputError, match="problem quadratic"):
        make_problem("quadratic", eigs=[1.0], bogus=1)
