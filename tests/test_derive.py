"""derive(): the SDEs of DSGD / DCSGD / DSignSGD (docs/theory/sde_papers.md Sec. 2.2), the SDE
object's
faces (latex, pretty, json, subs, lambdify), caching, bad input, and ``theorykit derive``."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats as sst

from theorykit.cli import main
from theorykit.compressors import make
from theorykit.errors import AssumptionError, InputError
from theorykit.methods import DCSGD, DSignSGD
from theorykit.noise import Gaussian, StudentT
from theorykit.sde import B_SYMBOL, ETA, N_SYMBOL, SDE, derive

N, B = N_SYMBOL, B_SYMBOL
sigma = sp.Symbol("sigma", positive=True)


class Quad:
    """A minimal problem: f = 1/2 sum_j lam_j x_j^2 (anything with .symbols and .grad())."""

    def __init__(self, lam):
        self.symbols = list(sp.symbols(f"x_1:{len(lam) + 1}", real=True))
        self.lam = lam
        self.name = "quad"

    def grad(self):
        return sp.Matrix([sp.nsimplify(lj) * xj for lj, xj in zip(self.lam, self.symbols,
                                                                    strict=True)])


def simp0(m: sp.Matrix) -> bool:
    return all(sp.simplify(e) == 0 for e in m)


# --------------------------------------------------------------------------- the SDEs
def test_dsgd_sde():
    """dX = -∇f dt + sqrt(η/(NB)) σ dW (homogeneous isotropic Gaussian)."""
    s = derive("dsgd", noise=Gaussian(sigma="sigma"), problem_or_dim=2)
    g = sp.Matrix(s.grad_symbols)
    assert simp0(s.drift + g)
    assert simp0(s.diffusion_cov - sigma**2 / (N * B) * sp.eye(2))
    assert s.noise_type == "diagonal" and s.lr == ETA
    assert {"eta", "N", "B", "sigma"} <= set(s.params)


def test_dcsgd_generic_trace_identity_through_derive():
    """tr(N Σ) = ω||∇f||² + (1+ω) tr Σ_1/B for U(ω) (homogeneous, symbolic N)."""
    s = derive("dcsgd", "omega", Gaussian(sigma="sigma"), 3)
    w = s.params["omega"]
    g = sp.Matrix(s.grad_symbols)
    rhs = w * (g.T * g)[0] + (1 + w) * 3 * sigma**2 / B
    assert sp.simplify((N * s.diffusion_cov).trace() - rhs) == 0
    assert simp0(s.drift + g)


def test_dcsgd_bernoulli_matches_papers_full_form_on_problem():
    """On f = ½Σλ_j x_j² with Bernoulli(p_i), Σ_i = σ_i² I: N Σ = (1/N) Σ_i [σ_i²/B +
    ω_i diag(λ² x² + σ_i²/B)] and drift = -λ x (docs/theory/sde_papers.md Sec. 2.2, full matrix
    form)."""
    prob = Quad([1, 3])
    ps = [0.5, 0.25]
    s = derive(DCSGD([make("bernoulli", p=p) for p in ps]), noise=Gaussian([1.0, 2.0]),
               problem_or_dim=prob, batch=4)
    x = prob.symbols
    assert s.grad_symbols is None and s.x == x
    assert simp0(s.drift + sp.Matrix([x[0], 3 * x[1]]))
    want = sp.zeros(2, 2)
    for p, sg in zip(ps, (1, 2), strict=True):
        w = sp.nsimplify(1 / p - 1)
        for j, lam in enumerate((1, 3)):
            want[j, j] += sp.Rational(sg**2, 4) + w * (lam**2 * x[j] ** 2 + sp.Rational(sg**2,
                                                                                          4))
    assert simp0(2 * s.diffusion_cov - want / 2)
    assert s.meta["n_workers"] == "2"


def test_dcsgd_randk_is_general_noise_and_lambdify_factor():
    """rand-k has off-diagonal covariance -> general noise; diffusion_fn returns sqrt(η) L with
    L Lᵀ = Σ(x) (Cholesky or PSD square root)."""
    prob = Quad([1.0, 2.0, 0.5])
    s = derive("dcsgd", make("randk", k=1), Gaussian(0.5), prob, n_workers=2, batch=2)
    assert s.noise_type == "general"
    for backend in ("numpy", "torch"):
        f, g = s.lambdify(backend, {"eta": 0.04})
        X = np.random.default_rng(0).normal(size=(5, 3))
        XX = torch.tensor(X) if backend == "torch" else X
        L = np.asarray(g(0.0, XX))
        assert L.shape == (5, 3, 3)
        cov = np.asarray(s.lambdify_cov(backend, {"eta": 0.04})(0.0, XX))
        np.testing.assert_allclose(L @ np.swapaxes(L, 1, 2), 0.04 * cov, atol=1e-12)
        np.testing.assert_allclose(np.asarray(f(0.0, XX)), -X * [1.0, 2.0, 0.5], atol=1e-14)


def test_dsignsgd_gaussian_and_student_t_drifts():
    """Drift -(1/N) Σ_i erf(√B ∂_j f/(√2 σ_i)) (Gaussian) and -(1/N) Σ_i (2F_ν(√B ∂_j f/s_i) -
    1) (Student-t), numerically via lambdify against scipy; diffusion entries in [0, 1/N]."""
    prob = Quad([1.0, 2.0])
    X = np.random.default_rng(1).normal(size=(50, 2)) * 2
    grad = X * [1.0, 2.0]
    for noise, cdf in ((Gaussian([0.5, 2.0]), sst.norm.cdf),
                       (StudentT(3, [0.5, 2.0]), lambda z: sst.t.cdf(z, 3))):
        s = derive(DSignSGD(), noise=noise, problem_or_dim=prob, batch=4)
        for backend in ("numpy", "torch"):
            f, g = s.lambdify(backend, {"eta": 0.01})
            XX = torch.tensor(X) if backend == "torch" else X
            want = -np.mean([2 * cdf(grad * 2 / sc) - 1 for sc in (0.5, 2.0)], axis=0)
            np.testing.assert_allclose(np.asarray(f(0.0, XX)), want, atol=1e-12)
            diff = np.asarray(g(0.0, XX))
            assert diff.shape == (50, 2)
            assert np.all(diff**2 <= 0.01 / 2 + 1e-15) and np.all(diff >= 0)


def test_heavy_tails_dcsgd_fails_dsignsgd_ok():
    with pytest.raises(AssumptionError, match="infinite variance"):
        derive("dcsgd", make("bernoulli", p=0.5), StudentT(2), 2)
    s = derive("dsignsgd", noise=StudentT(1), problem_or_dim=2)
    assert s.drift[0].has(sp.hyper) or s.drift[0].has(sp.atan)


def test_symbolic_student_t_records_nu_condition():
    s = derive("dsgd", noise=StudentT.symbolic(), problem_or_dim=1)
    assert any("> 2" in a for a in s.assumptions)


# --------------------------------------------------------------------------- SDE object faces
def test_latex_pretty_json_subs():
    s = derive("dcsgd", make("bernoulli", p=0.5), Gaussian(sigma="sigma"), 2)
    tex = s.latex()
    assert tex.startswith(r"\begin{aligned}") and r"\partial_{1} f" in tex
    assert r"\sqrt{\eta}" in tex
    txt = s.pretty()
    assert "assumptions:" in txt and "E C(v) = v" in txt
    js = json.loads(json.dumps(s.to_json()))
    assert js["noise_type"] == "diagonal" and js["assumptions"] == s.assumptions
    with pytest.raises(InputError, match="generic gradient"):
        s.lambdify("numpy", {"eta": 0.1})
    # substituting the gradient (g_1 = x_1, g_2 = 0) makes it numeric
    s2 = s.subs({"sigma": 1, "N": 4, "B": 2, "g_1": s.x[0], "g_2": 0})
    assert s2.grad_symbols is None
    assert "sigma" not in s2.params and "N" not in s2.params
    f, g = s2.lambdify("numpy", {"eta": 0.5})
    X = np.array([[2.0, 7.0]])
    np.testing.assert_allclose(f(0.0, X), [[-2.0, 0.0]])
    # Σ_11 = (B x² + 2σ²)/(B N) = (8 + 2)/8, Σ_22 = 2/8
    np.testing.assert_allclose(g(0.0, X), np.sqrt(0.5 * np.array([[10 / 8, 2 / 8]])))


def test_lambdify_requires_lr_and_numbers():
    s = derive("dsgd", noise=Gaussian(1.0), problem_or_dim=Quad([1, 2]), n_workers=2, batch=1)
    with pytest.raises(InputError, match="learning rate"):
        s.lambdify("numpy")
    with pytest.raises(InputError, match="learning rate"):
        s.lambdify("numpy", {"eta": -1.0})
    with pytest.raises(InputError, match="finite"):
        s.lambdify("numpy", {"eta": float("inf")})
    _f, g = s.lambdify("torch", {"eta": 0.25})
    X = torch.ones(3, 2, dtype=torch.float64)
    assert g.constant
    np.testing.assert_allclose(g(0.0, X).numpy(), np.full((3, 2), np.sqrt(0.25 / 2)))
    with pytest.raises(InputError, match="unknown SDE parameter"):
        s.lambdify("numpy", {"eta": 0.1, "zeta": 1})


def test_sde_validates_shapes():
    x = list(sp.symbols("x_1:3"))
    with pytest.raises(InputError, match="drift"):
        SDE(x=x, drift=sp.Matrix([1]), diffusion_cov=sp.eye(2))
    with pytest.raises(InputError, match="diffusion_cov"):
        SDE(x=x, drift=sp.Matrix([1, 2]), diffusion_cov=sp.eye(3))


def test_cache_returns_independent_copies():
    a = derive("dsignsgd", noise=StudentT(3, [1.0, 2.0]), problem_or_dim=3, batch=2)
    a.assumptions.append("mutated")
    b = derive("dsignsgd", noise=StudentT(3, [1.0, 2.0]), problem_or_dim=3, batch=2)
    assert "mutated" not in b.assumptions
    assert b.drift == a.drift


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,exc,match", [
    ({"method": "adam"}, InputError, "unknown method"),
    ({"method": "dsgd", "noise": "no-such-law"}, InputError, "unknown noise"),
    ({"method": "dsgd", "n_workers": 0}, InputError, "positive integer"),
    ({"method": "dsgd", "n_workers": 2.5}, InputError, "positive integer"),
    ({"method": "dsgd", "batch": 0}, InputError, "positive integer"),
    ({"method": "dsgd", "lr_symbol": -0.1}, InputError, "finite and > 0"),
    ({"method": "dsgd", "lr_symbol": float("nan")}, InputError, "finite and > 0"),
    ({"method": "dsgd", "problem_or_dim": 0}, InputError, "dimension"),
    ({"method": "dcsgd"}, InputError, "needs a compressor"),
    ({"method": "dsgd", "compressor": "bernoulli"}, InputError, "takes no compressor"),
    ({"method": "dcsgd", "compressor": "topk"}, AssumptionError,
     r"needs E C\(x\) = x; topk is in"),
    ({"method": "dcsgd", "compressor": "nosuch"}, InputError, "unknown compressor"),
])
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        derive(**kwargs)


def test_bad_nu():
    with pytest.raises(InputError, match="nu must be > 0"):
        derive("dsignsgd", noise=StudentT(-2))


# --------------------------------------------------------------------------- CLI
def test_cli_derive_formats(capsys):
    assert main(["derive", "--method", "dcsgd", "--compressor", "bernoulli", "-p", "p=0.5",
                 "--dim", "2", "--workers", "4"]) == 0
    out = capsys.readouterr().out
    assert "Sigma[1,1] = (B*d1f**2 + 2*sigma**2)/(4*B)" in out
    assert main(["derive", "--method", "dsignsgd", "--noise", "student-t", "--nu", "3",
                 "--format", "latex", "-d", "1"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{aligned}" in out and "% assumption:" in out
    assert main(["derive", "--method", "dsgd", "--format", "json", "-d", "1", "-B", "8"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["diffusion_cov"] == [["sigma**2/(8*N)"]]


@pytest.mark.parametrize("argv,msg", [
    (["--method", "dcsgd", "--compressor", "topk", "-p", "k=1"], "needs E C(x) = x"),
    (["--method", "dsignsgd", "--noise", "student-t", "--nu", "0"], "nu must be > 0"),
    (["--method", "dsgd", "--workers", "0"], "positive integer"),
    (["--method", "dsgd", "--lr", "inf"], "finite"),
    (["--method", "dsgd", "--noise", "nope"], "unknown noise"),
    (["--method", "dcsgd", "--compressor", "randk", "-p", "k=5", "-d", "2"], "k=5"),
])
def test_cli_derive_errors(capsys, argv, msg):
    assert main(["derive", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("theorykit: error:") and msg in err and err.count("\n") == 1


def test_cli_derive_user_compressor(tmp_path, monkeypatch, capsys):
    """A user-declared compressor (module:Object) gets its SDE from the CLI."""
    (tmp_path / "user_comp_h4.py").write_text(textwrap.dedent('''
        import sympy as sp, torch
        from theorykit.compressors.base import D, Param, SymbolicSpec
        from theorykit.compressors.classes import Unbiased

        class Dropout(SymbolicSpec):
            """Keep each coordinate w.p. q, rescale by 1/q: U(1/q - 1)."""
            name = "user_dropout"
            params = (Param("q", float, minimum=0, minimum_inclusive=False, maximum=1),)
            def classes(self):
                return (Unbiased(1 / self.sym("q") - 1),)
            def bits(self):
                return 33 * D
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("user_comp_h4", None)
    assert main(["derive", "--method", "dcsgd", "--compressor", "user_comp_h4:Dropout",
                 "-p", "q=0.25", "-d", "1", "-N", "1", "-B", "1"]) == 0
    out = capsys.readouterr().out
    assert "Sigma[1,1] = 3*d1f**2 + 4*sigma**2" in out
    assert "bound attained" in out
