"""Stationary moments (theorykit.rules.stationary): the SymPy derivations reproduce the closed
forms of docs/theory/sde_papers.md §2.3(b)/(c) symbolically, and the numbers match simulations
of the real methods (tail averages, n and seed stated, 3·SE)."""

from __future__ import annotations

import pytest
import sympy as sp

from theorykit.compressors.registry import make
from theorykit.errors import DerivationError
from theorykit.methods import DCSGD, DSGD, DSignSGD, GenericUnbiased
from theorykit.noise import Gaussian, StudentT
from theorykit.problems import Quadratic
from theorykit.rules.stationary import stationary_discrete, stationary_sde
from theorykit.sde import derive
from theorykit.simulate import run_discrete

pytestmark = pytest.mark.usefixtures("one_thread_module")

ETA = sp.Symbol("eta", positive=True)
B = sp.Symbol("B", integer=True, positive=True)
LAM = sp.symbols("lambda_1:3", positive=True)
H = sp.diag(*LAM)


def test_dcsgd_heterogeneous_matches_digest_formulas():
    """§2.3(b), N = 2 workers with omega_i and per-worker, per-coordinate std s_ij:
    SDE:      Σ_j η S_j / (2NB(2 - η λ_j ω̄/N)),       S_j = (1/N) Σ_i (1+ω_i) s_ij²
    discrete: Σ_j η S_j / (2NB(2 - η λ_j (1 + ω̄/N)))."""
    N = 2
    om = [sp.Symbol(f"omega_{i}", nonnegative=True) for i in (1, 2)]
    s = [[sp.Symbol(f"s_{i}{j}", positive=True) for j in (1, 2)] for i in (1, 2)]
    noise = Gaussian(sigma=[[s[0][0], s[0][1]], [s[1][0], s[1][1]]])
    m = DCSGD([GenericUnbiased(o) for o in om])
    sde = derive(m, None, noise, 2, n_workers=N, batch=B)
    wbar = sum(om) / N
    S = [sum((1 + om[i]) * s[i][j] ** 2 for i in range(N)) / N for j in range(2)]
    f_sde = sum(ETA * S[j] / (2 * N * B * (2 - ETA * LAM[j] * wbar / N)) for j in range(2))
    f_dis = sum(ETA * S[j] / (2 * N * B * (2 - ETA * LAM[j] * (1 + wbar / N)))
                for j in range(2))
    st = stationary_sde(sde, H)
    sd = stationary_discrete(m, noise, H, N, B, ETA)
    assert sp.simplify(st.loss - f_sde) == 0
    assert sp.simplify(sd.loss - f_dis) == 0
    assert st.kind == "sde" and sd.kind == "discrete" and not st.linearized
    # numerically at one point, and the residual of the Lyapunov equation vanishes
    vals = {ETA: 0.1, B: 2, LAM[0]: 1.0, LAM[1]: 3.0, om[0]: 1.0, om[1]: 3.0,
            s[0][0]: 1.0, s[0][1]: 0.5, s[1][0]: 2.0, s[1][1]: 1.5}
    assert st.value(vals) == pytest.approx(float(f_sde.subs(vals)), rel=1e-12)
    M_sym = [e for e in st.equation.free_symbols if e.name.startswith("M_")]
    rep = {e: st.M[int(e.name[2]) - 1, int(e.name[3]) - 1] for e in M_sym}
    assert all(sp.simplify(e.xreplace(rep)) == 0 for e in st.equation)


def test_classic_sgd_limit_and_euler_step():
    """omega = 0, N = 1: the SDE gives the classic E f = η tr Σ/(4B) = η Σ_j s_j²/(4B); the EM
    stationary moment with step h = η equals the discrete one (same recursion)."""
    s = sp.symbols("s_1:3", positive=True)
    noise = Gaussian(sigma=[list(s)])
    sde = derive("dsgd", None, noise, 2, n_workers=1, batch=B)
    st = stationary_sde(sde, H)
    assert sp.simplify(st.loss - ETA * (s[0] ** 2 + s[1] ** 2) / (4 * B)) == 0
    em = stationary_sde(sde, H, step=ETA)
    dis = stationary_discrete(DSGD(), noise, H, 1, B, ETA)
    assert sp.simplify(em.loss - dis.loss) == 0
    assert sp.simplify(dis.loss - sum(ETA * s[j] ** 2 / (2 * B * (2 - ETA * LAM[j]))
                                      for j in range(2))) == 0


def test_dsignsgd_gaussian_phase3_formula():
    """§2.3(c): E f = Σ_j η σ_H √π/(4N√(2B)) with σ_H the harmonic mean over workers,
    independent of the curvatures."""
    sig = sp.symbols("sigma_1:3", positive=True)
    noise = Gaussian(sigma=list(sig))
    sde = derive(DSignSGD(), None, noise, 2, n_workers=2, batch=B)
    st = stationary_sde(sde, H, linearize=True)
    sigma_h = 2 / (1 / sig[0] + 1 / sig[1])
    expected = 2 * ETA * sigma_h * sp.sqrt(sp.pi) / (4 * 2 * sp.sqrt(2 * B))
    assert sp.simplify(st.loss - expected) == 0
    assert st.linearized
    with pytest.raises(DerivationError, match="linearize"):
        stationary_sde(sde, H)


@pytest.mark.parametrize("nu", [1, 3])
def test_dsignsgd_student_t_phase3_formula(nu):
    """Student-t with Z = s T_ν/√B: E f = Σ_j η s_H/(8 N f_ν(0) √B)."""
    s = sp.symbols("s_1:3", positive=True)
    noise = StudentT(nu=nu, scale=list(s))
    sde = derive(DSignSGD(), None, noise, 1, n_workers=2, batch=B)
    st = stationary_sde(sde, sp.Matrix([[LAM[0]]]), linearize=True)
    s_h = 2 / (1 / s[0] + 1 / s[1])
    f0 = noise.density_at_zero()
    expected = ETA * s_h / (8 * 2 * f0 * sp.sqrt(B))
    assert sp.simplify(st.loss - expected) == 0


def test_randk_general_noise_closed_form_matches_simulation():
    """rand-k (off-diagonal Σ): the exact discrete stationary loss vs the real DCSGD, tail
    average over 400 steps after 100, R = 2000, seed 5, within 3 SE."""
    q = Quadratic(eigs=[1.0, 2.0, 0.5])
    comp = make("randk", k=1)
    noise = Gaussian(sigma=1.0)
    eta = 0.1
    exact = stationary_discrete(DCSGD(comp), noise, q, 2, 1, eta).value()
    r = run_discrete(DCSGD(comp), q, noise, eta=eta, steps=500, replicas=2000, n_workers=2,
                     batch=1, x0=0.0, seed=5, record_every=500, stats=("loss",),
                     average_from=100)
    est = r.tail["loss"]
    assert abs(est.mean - exact) <= 3 * est.se
    sde = derive(DCSGD(comp), None, noise, q, n_workers=2, batch=1)
    assert sde.noise_type == "general"
    f_sde = stationary_sde(sde, q).value({"eta": eta})
    assert f_sde < exact  # the O(eta) gap has the sign of + eta J M J^T


def test_stability_cap_and_errors():
    """Beyond the discrete cap η λ (1 + ω/N) < 2 the 'stationary moment' is negative."""
    q = Quadratic(eigs=[1.0])
    m = DCSGD(GenericUnbiased(3))
    noise = Gaussian(sigma=1.0)
    ok = stationary_discrete(m, noise, q, 1, 1, 0.4)
    bad = stationary_discrete(m, noise, q, 1, 1, 0.6)  # 0.6 * 4 > 2
    assert ok.exists() and ok.value() > 0
    assert not bad.exists()
    sde = derive(m, None, noise, q, n_workers=1, batch=1)
    with pytest.raises(DerivationError, match="minimizer"):
        stationary_sde(sde, q, x_star=[1.0])
