"""Methods: symbolic one-step moments (identities from docs/theory/sde_papers.md Sec. 2.2) and
the torch
face checked against them by Monte Carlo.

MC checks: R replicas of one step at a fixed gradient, seed stated per case; each mean and
covariance entry must agree within z * SE with z = ``bonferroni_z`` over the entries of the
case (family-wise false-alarm rate 0.27%). The SE of a covariance entry is the SE of the mean
of the centred products."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check.stats import bonferroni_z, mean_se
from theorykit.compressors import catalog, make
from theorykit.errors import AssumptionError, InputError
from theorykit.methods import DCSGD, DSGD, DSignSGD, GenericUnbiased, make_method
from theorykit.noise import B_SYMBOL, Gaussian, StudentT

B = B_SYMBOL


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grad_syms(d: int) -> sp.Matrix:
    return sp.Matrix(sp.symbols(f"g_1:{d + 1}", real=True))


# --------------------------------------------------------------------------- symbolic identities
def _trace_identity(cov, g, n, omegas, sigmas, d):
    """tr Σ_DCSGD - (1/N) Σ_i [ω_i ||g||² + (1+ω_i) tr Σ_i / B], Σ_DCSGD = N Cov[D]."""
    sq = sum(gj**2 for gj in g)
    rhs = sum(w * sq + (1 + w) * d * s**2 / B for w, s in zip(omegas, sigmas, strict=True)) / n
    return (n * cov).trace() - rhs


def test_trace_identity_generic_unbiased_heterogeneous():
    """tr Σ_DCSGD = (1/N) Σ_i [ω_i ||∇f||² + (1+ω_i) tr Σ_i / B] for generic U(ω_i) at
    equality (symbolic, N = 3, d = 3) -- docs/theory/sde_papers.md Sec. 2.2 [D]."""
    n, d = 3, 3
    omegas = sp.symbols("omega_1:4", nonnegative=True)
    noise = Gaussian.symbolic(n_workers=n)
    sigmas = sp.symbols("sigma_1:4", positive=True)
    g = grad_syms(d)
    mean, cov = DCSGD([GenericUnbiased(w) for w in omegas]).step_moments(g, noise, n, B)
    assert mean == g
    diff = _trace_identity(cov, g, n, omegas, sigmas, d)
    assert sp.simplify(diff) == 0
    vals = dict(zip([*omegas, *sigmas, *g, B], [0.5, 2, 7, 1.1, 0.3, 2.2, 0.4, -1.3, 2.0, 5],
                    strict=True))
    assert abs(float(diff.subs(vals))) < 1e-12


@pytest.mark.parametrize("name,params", [("bernoulli", [{"p": 0.5}, {"p": 0.25}, {"p": 0.8}]),
                                         ("randk", [{"k": 1}, {"k": 2}, {"k": 3}])])
def test_trace_identity_catalog_compressors(name, params):
    """Bernoulli and rand-k attain their variance bound, so their exact covariances satisfy the
    trace identity (symbolic σ_i, B; N = 3 heterogeneous workers, d = 3)."""
    n, d = 3, 3
    comps = [make(name, **p) for p in params]
    omegas = [c.omega().subs({sp.Symbol("d", integer=True, positive=True): d}) for c in comps]
    omegas = [sp.sympify(w).subs(c.substitutions(d)) for w, c in zip(omegas, comps, strict=True)]
    noise = Gaussian.symbolic(n_workers=n)
    sigmas = sp.symbols("sigma_1:4", positive=True)
    g = grad_syms(d)
    m = DCSGD(comps).moments(g, noise, n, B)
    assert any("exact conditional covariance" in a for a in m.assumptions)
    assert sp.simplify(_trace_identity(m.cov, g, n, omegas, sigmas, d)) == 0


def test_bernoulli_full_matrix_form():
    """Bernoulli, diagonal Σ_i: Σ_DCSGD = (1/N) Σ_i [Σ_i/B + ω_i diag(∇f² + diag(Σ_i)/B)]
    entry-wise (symbolic; docs/theory/sde_papers.md Sec. 2.2, MC-checked there [D])."""
    n, d = 2, 3
    ps = [sp.Rational(1, 2), sp.Rational(1, 5)]
    sig = sp.Matrix(2, 3, sp.symbols("s_1:7", positive=True))
    noise = Gaussian(sigma=[[sig[i, j] for j in range(d)] for i in range(n)])
    g = grad_syms(d)
    cov = DCSGD([make("bernoulli", p=float(p)) for p in ps]).step_moments(g, noise, n, B)[1]
    expect = sp.zeros(d, d)
    for i, p in enumerate(ps):
        w = 1 / p - 1
        S = sp.diag(*[sig[i, j] ** 2 for j in range(d)])
        expect += S / B + w * sp.diag(*[g[j] ** 2 + S[j, j] / B for j in range(d)])
    expect /= n
    assert (n * cov - expect).applyfunc(sp.simplify) == sp.zeros(d, d)


def test_randk_offdiagonal_and_symbolic_n():
    """rand-k: off-diagonal entries v_a v_b (d(k-1)/(k(d-1)) - 1) / N after E over the noise;
    a symbolic N equals the numeric N after substitution (homogeneous workers)."""
    d, k = 4, 2
    g = grad_syms(d)
    N = sp.Symbol("N", integer=True, positive=True)
    noise = Gaussian(sigma="sigma")
    cov_sym = DCSGD(make("randk", k=k)).step_moments(g, noise, N, B)[1]
    cov_3 = DCSGD(make("randk", k=k)).step_moments(g, noise, 3, B)[1]
    assert (cov_sym.subs(N, 3) - cov_3).applyfunc(sp.simplify) == sp.zeros(d, d)
    c = sp.Rational(d * (k - 1), k * (d - 1)) - 1
    assert sp.simplify(cov_sym[0, 1] - c * g[0] * g[1] / N) == 0


def test_dsgd_and_dsignsgd_symbolic_forms():
    g = grad_syms(2)
    sig = sp.Symbol("sigma", positive=True)
    N = sp.Symbol("N", integer=True, positive=True)
    mean, cov = DSGD().step_moments(g, Gaussian(sigma="sigma"), N, B)
    assert mean == g and sp.simplify(cov[0, 0] - sig**2 / (N * B)) == 0 and cov[0, 1] == 0
    mean, cov = DSignSGD().step_moments(g, Gaussian(sigma="sigma"), N, B)
    m1 = sp.erf(sp.sqrt(B) * g[0] / (sp.sqrt(2) * sig))
    assert sp.simplify(mean[0] - m1) == 0
    assert sp.simplify(cov[0, 0] - (1 - m1**2) / N) == 0
    # majority vote with one worker is the plain sign
    mm, cm = DSignSGD("majority").step_moments(g, Gaussian(sigma="sigma"), 1, B)
    assert sp.simplify(mm[0] - m1) == 0 and sp.simplify(cm[0, 0] - (1 - m1**2)) == 0


def test_assumption_errors():
    g = grad_syms(2)
    with pytest.raises(AssumptionError, match=r"E C\(x\) = x; topk is in"):
        DCSGD(make("topk", k=1)).step_moments(g, Gaussian(), 2, 1)
    with pytest.raises(AssumptionError, match="infinite variance"):
        DCSGD(make("bernoulli", p=0.5)).step_moments(g, StudentT(2), 2, 1)
    with pytest.raises(AssumptionError, match="independent noise coordinates"):
        DSignSGD().step_moments(g, Gaussian(cov=[[1, 0.5], [0.5, 1]]), 2, 1)
    with pytest.raises(InputError, match="positive integer"):
        DSGD().step_moments(g, Gaussian(), 0, 1)
    with pytest.raises(InputError, match="per-worker"):
        DSGD().step_moments(g, Gaussian([1.0, 2.0]), 3, 1)
    with pytest.raises(InputError, match="unknown method"):
        make_method("adam")
    with pytest.raises(InputError, match="shape"):
        DSGD().direction(torch.zeros(3, 2))
    with pytest.raises(InputError, match="per-worker compressors"):
        DCSGD([make("bernoulli", p=0.5)] * 2).direction(torch.zeros(3, 4, 2), gen(0))


def test_biased_compressor_runs_in_torch():
    """DCSGD with a biased compressor is a valid *algorithm* (only its SDE needs unbiasedness)."""
    out = DCSGD(make("topk", k=1)).direction(torch.tensor([[[1.0, -3.0], [2.0, 0.5]]]))
    assert torch.equal(out, torch.tensor([[1.0, -1.5]]))


# --------------------------------------------------------------------------- Monte Carlo
def _mc_case(method, noise, g, n, batch, reps, seed):
    d = len(g)
    gt = torch.tensor(g, dtype=torch.float64)
    grads = gt + noise.sample(reps, n, d, batch, gen(seed))
    D = method.direction(grads, gen(seed + 1)).numpy()
    mean, cov = method.step_moments(sp.Matrix([sp.Float(v) for v in g]), noise, n, batch)
    mean = np.array([float(sp.sympify(e).evalf(20)) for e in mean])
    cov = np.array([[float(sp.sympify(e).evalf(20)) for e in cov.row(a)] for a in range(d)])
    zc = bonferroni_z(d + d * (d + 1) // 2)
    Dc = D - D.mean(0)
    for a in range(d):
        est = mean_se(D[:, a])
        assert abs(est.mean - mean[a]) <= zc * est.se + 1e-12, ("mean", a, est, mean[a])
        for b in range(a, d):
            est = mean_se(Dc[:, a] * Dc[:, b])
            assert abs(est.mean - cov[a, b]) <= zc * est.se + 1e-12, ("cov", a, b, est,
                                                                      cov[a, b])


G3 = [0.8, -0.4, 1.5]

CASES = [
    # id, method factory, noise, N, B, seed
    ("dsgd-gauss-het", lambda: DSGD(), Gaussian([0.5, 1.0, 2.0]), 3, 2, 11),
    ("dcsgd-bernoulli-het", lambda: DCSGD([make("bernoulli", p=p) for p in (0.5, 0.25, 0.8)]),
     Gaussian([0.5, 1.0, 2.0]), 3, 2, 12),
    ("dcsgd-randk", lambda: DCSGD(make("randk", k=2)), Gaussian(0.7), 2, 4, 13),
    ("dsignsgd-gauss-het", lambda: DSignSGD(), Gaussian([0.5, 1.0, 2.0]), 3, 2, 14),
    ("dsignsgd-t3-het", lambda: DSignSGD(), StudentT(3, [0.5, 2.0]), 2, 4, 15),
    ("dsignsgd-cauchy", lambda: DSignSGD(), StudentT(1, 1.0), 2, 1, 16),
    ("dsignsgd-majority", lambda: DSignSGD("majority"), Gaussian([0.5, 1.0, 2.0]), 3, 1, 17),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_direction_matches_step_moments(case):
    """MC mean and covariance of direction() at a fixed gradient vs step_moments
    (R = 40000 replicas, seed per case)."""
    _, factory, noise, n, batch, seed = case
    _mc_case(factory(), noise, G3, n, batch, 40000, seed)


@pytest.mark.skipif("qsgd" not in catalog(), reason="qsgd not in the catalog")
def test_direction_matches_step_moments_qsgd_noiseless():
    """QSGD's covariance (frac form) is exact without noise (R = 40000, seed 18)."""
    _mc_case(DCSGD(make("qsgd", s=2)), Gaussian(0.0), G3, 2, 1, 40000, 18)


@pytest.mark.skipif("qsgd" not in catalog(), reason="qsgd not in the catalog")
def test_qsgd_with_noise_falls_back_to_omega_bound():
    m = DCSGD(make("qsgd", s=2)).moments(grad_syms(2), Gaussian(1.0), 2, 1)
    assert any("not quadratic" in a for a in m.assumptions)
    assert any("bound attained" in a for a in m.assumptions)
