"""Top-k energy curves (theorykit.rules.topk_energy): the derived closed forms against the
digest's independently derived formulas (docs/theory/compression_papers.md §1.6), the marginal rule,
Monte Carlo with the real top-k codec, bad input, and the real-model script's tiny mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats as sst

from theorykit.compressors.registry import make
from theorykit.errors import AssumptionError, InputError
from theorykit.rules import topk_energy as te
from theorykit.rules.topk_energy import RHO, U

A = sp.Symbol("a", positive=True)
CLOSED = {
    "uniform": 1 - (1 - RHO) ** 3,
    "laplace": RHO * (1 + sp.log(1 / RHO) + sp.log(1 / RHO) ** 2 / 2),
    "pareto": RHO ** (1 - 2 / A),
}


@pytest.mark.parametrize("name", ["uniform", "laplace"])
def test_closed_forms_symbolic(name):
    curve = te.energy_fraction(te.law(name))
    assert sp.simplify(curve.fraction - CLOSED[name]) == 0


def test_pareto_closed_form_symbolic_index():
    curve = te.energy_fraction(te.pareto(A))
    assert sp.simplify(sp.powsimp(curve.fraction - CLOSED["pareto"], force=True)) == 0
    c4 = te.energy_fraction(te.pareto(4))
    assert sp.simplify(c4.fraction - sp.sqrt(RHO)) == 0


def test_gaussian_closed_form():
    """E_top = rho + 2 tau phi(tau), tau = Phi^{-1}(1 - rho/2): symbolically in terms of
    tau = sqrt(2) erfinv(1 - rho), and numerically against scipy's norm."""
    curve = te.energy_fraction(te.gaussian())
    tau = sp.sqrt(2) * sp.erfinv(1 - RHO)
    phi = sp.exp(-tau**2 / 2) / sp.sqrt(2 * sp.pi)
    assert sp.simplify(curve.threshold - tau) == 0
    assert sp.simplify(curve.fraction - (RHO + 2 * tau * phi)) == 0
    f = curve.numeric()
    for r in (0.3, 0.1, 0.01, 0.001):
        t = sst.norm.ppf(1 - r / 2)
        assert f(r) == pytest.approx(r + 2 * t * sst.norm.pdf(t), rel=1e-10)


@pytest.mark.parametrize("name,params", [("uniform", {}), ("gaussian", {}), ("laplace", {}),
                                         ("pareto", {"a": 5})])
def test_numeric_matches_closed_form_and_gain(name, params):
    curve = te.energy_fraction(te.law(name, **params))
    f = curve.numeric()
    rhos = np.logspace(-4, 0, 30)
    vals = f(rhos)
    ref = sp.lambdify(RHO, CLOSED.get(name, curve.fraction).subs(A, params.get("a", 4)),
                      modules=["scipy", "numpy"])(rhos)
    np.testing.assert_allclose(vals, ref, rtol=1e-10)
    assert np.all(vals / rhos >= 1 - 1e-12)  # gain >= 1
    assert vals[-1] == pytest.approx(1.0)  # rho = 1 keeps everything
    assert np.all(np.diff(vals) > 0)
    assert te.marginal_rule(curve) == 0


def test_gain_regression_values():
    """Digest §1.6 table at rho = 0.01 (derived and MC-checked there), 3 significant digits."""
    expect = {"uniform": 2.97, "gaussian": 8.45, "laplace": 16.2, "pareto": 10.0}
    for name, g in expect.items():
        lw = te.pareto(4) if name == "pareto" else te.law(name)
        assert te.energy_fraction(lw)(0.01) / 0.01 == pytest.approx(g, rel=6e-3)


def test_custom_law_derivation():
    """|x| with density 2u on [0, 1]: tau = sqrt(1 - rho), E_top = 1 - (1 - rho)^2."""
    lw = te.MagnitudeLaw("triangle", 2 * U, sp.Integer(0), sp.Integer(1))
    curve = te.energy_fraction(lw)
    assert sp.simplify(curve.fraction - (1 - (1 - RHO) ** 2)) == 0
    assert sp.simplify(curve.threshold - sp.sqrt(1 - RHO)) == 0
    with pytest.raises(InputError, match="no sampler"):
        lw.sample((2, 3))


def test_energy_fractions_equal_topk_codec():
    g = torch.randn(3, 200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fr = te.energy_fractions(g, [0.05, 0.5])
    for j, rho in enumerate([0.05, 0.5]):
        c = make("topk", k=te.ks_for(rho, 200)).apply(g)
        np.testing.assert_allclose(fr[:, j], ((c**2).sum(-1) / (g**2).sum(-1)).numpy(),
                                   rtol=1e-6)  # float32 wire values


def test_monte_carlo_matches_closed_form():
    """d = 20000, 8 replicas, seed 7: |MC - closed form| <= 4 SE for each law at rho = 0.1
    and 0.01; rand-k keeps rho (4 SE)."""
    for name, params in (("gaussian", {}), ("laplace", {}), ("uniform", {})):
        lw = te.law(name, **params)
        m = te.mc_energy(lw, [0.1, 0.01], d=20000, replicas=8, seed=7, with_randk=True)
        for est, pred, rho, rk in zip(m.topk, m.predicted, m.rhos, m.randk, strict=True):
            assert abs(est.mean - pred) <= 4 * est.se
            assert abs(rk.mean - rho) <= 4 * rk.se


def test_bad_input():
    with pytest.raises(AssumptionError, match="a > 2"):
        te.pareto(2)
    with pytest.raises(InputError, match="unknown law"):
        te.law("cauchy")
    with pytest.raises(InputError, match="rho"):
        te.energy_fraction(te.gaussian())(1.5)
    with pytest.raises(InputError, match="integrates to"):
        te.energy_fraction(te.MagnitudeLaw("bad", 3 * U, sp.Integer(0), sp.Integer(1)))
    with pytest.raises(InputError, match="rho"):
        te.ks_for(0.0, 10)
    with pytest.raises(InputError, match="replicas"):
        te.mc_energy(te.gaussian(), [0.1], d=100, replicas=1, seed=0)


def test_real_model_tiny_mode(tmp_path):
    """gpu_validation/topk_energy.py --tiny writes results with provenance; the measured
    curve is a valid energy fraction (in [rho, 1], increasing)."""
    from gpu_validation import topk_energy as script

    out = tmp_path / "res.json"
    rc = script.main(["--tiny", "--epochs", "1", "--captures", "3", "--out", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    prov = res["provenance"]
    for key in ("device", "versions", "date", "command", "seed"):
        assert key in prov
    assert "scikit-learn" in prov["versions"]
    mean = np.array(res["mean_fraction"])
    rhos = np.array(res["rhos_effective"])
    assert np.all(mean >= rhos - 1e-9) and np.all(np.diff(mean) >= -1e-12)
    assert len(res["captures"]) == 3
    assert script.main(["--tiny", "--hidden", "0", "--out", str(out)]) == 2
