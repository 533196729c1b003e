"""Scaling rules derived by SymPy (theorykit.rules.scaling), checked symbolically and
numerically: substituting a rule into the SDE derived at the changed hyperparameters gives
back the original SDE per sample seen (simplify(diff) == 0, and at random numbers)."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import sympy as sp

from theorykit.compressors.registry import make
from theorykit.errors import AssumptionError, InputError
from theorykit.noise import Gaussian, StudentT
from theorykit.rules.scaling import (
    ALPHA,
    DELTA,
    KAPPA,
    OMEGA,
    OMEGA_NEW,
    derive_rules,
    per_sample,
    rules_by_kind,
)
from theorykit.sde import derive
from theorykit.sde.derive import B_SYMBOL, N_SYMBOL
from theorykit.sde.sde import ETA


# ----------------------------------------------------------------------------- helpers
def _changed_residual(method, compressor, noise, rule, dim=1):
    """Per-sample (drift, cov) of the SDE derived at (kappa*eta, delta*B, alpha*N) with the
    rule's kappa and pinned factors, minus the original's -- derived independently of the
    rule machinery."""
    kappa = rule.solution[KAPPA]
    delta = rule.solution.get(DELTA, DELTA)
    s0 = derive(method, compressor, noise, dim)
    s1 = derive(method, compressor, noise, dim, n_workers=ALPHA * N_SYMBOL,
                batch=delta * B_SYMBOL, lr_symbol=kappa * ETA)
    b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
    b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, delta * B_SYMBOL)
    return [*(b1 - b0), *(c1 - c0)], s0


def _numeric_zero(exprs, trials=5, seed=0):
    """Evaluate the residuals at random positive numbers (gradients may be any sign)."""
    rng = random.Random(seed)
    for _ in range(trials):
        syms = set().union(*(sp.sympify(e).free_symbols for e in exprs))
        vals = {s: (rng.uniform(-2, 2) if s.name.startswith("g") else rng.uniform(0.3, 3))
                for s in syms}
        for e in exprs:
            v = complex(sp.N(sp.sympify(e).xreplace(vals)))
            assert abs(v) < 1e-10, (e, v)


# ----------------------------------------------------------------------------- DSGD
def test_dsgd_linear_rule_exact():
    rules = derive_rules("dsgd")
    assert len(rules) == 1
    r = rules[0]
    assert r.kind == "exact"
    assert sp.simplify(r.kappa - ALPHA * DELTA) == 0
    assert not r.pinned
    res, _ = _changed_residual("dsgd", None, Gaussian(sigma="sigma"), r)
    assert all(sp.simplify(e) == 0 for e in res)
    _numeric_zero(res)
    assert all(e == 0 for e in r.residual())
    assert r.kappa_value(alpha=2, delta=4) == pytest.approx(8.0)
    assert "linear" in r.name and "samples seen" in r.words


def test_dsgd_rule_same_under_student_t():
    r = rules_by_kind(derive_rules("dsgd", noise="student-t"), "exact")
    assert sp.simplify(r.kappa - ALPHA * DELTA) == 0
    assert any("nu" in a and "> 2" in a for a in r.assumptions)


# ----------------------------------------------------------------------------- DCSGD
@pytest.mark.parametrize("comp", [
    make("bernoulli", p=0.25),
    make("randk", k=1, d=3),
    "omega",
])
def test_dcsgd_exact_rule_needs_fixed_batch_and_compression(comp):
    rules = derive_rules("dcsgd", comp)
    ex = rules_by_kind(rules, "exact")
    assert sp.simplify(ex.kappa - ALPHA) == 0
    assert ex.pinned[DELTA] == 1
    assert sp.simplify(ex.pinned[OMEGA_NEW] - OMEGA) == 0
    # the rule reproduces the SDE of the *same* compressor (its own covariance: rand-k has
    # off-diagonal terms) at N -> alpha N, eta -> alpha eta
    dim = comp.d if hasattr(comp, "d") and comp.d else 1
    spec = comp if not isinstance(comp, str) else "omega"
    res, _ = _changed_residual("dcsgd", spec, Gaussian(sigma="sigma"), ex, dim=dim)
    assert all(sp.simplify(e) == 0 for e in res)
    _numeric_zero(res)


def test_dcsgd_exact_rule_rechecked_on_the_compressors_own_sde():
    ex = rules_by_kind(derive_rules("dcsgd", make("randk", k=1, d=2)), "exact")
    assert any("verified on randk's own SDE" in a for a in ex.assumptions)


def test_dcsgd_linear_rule_breaks_only_the_compression_term():
    """kappa = alpha*delta with omega' = omega keeps drift and batch noise per sample but
    multiplies the omega*||grad f||^2 term per sample by delta (symbolically)."""
    rules = derive_rules("dcsgd", "omega")
    lin = rules_by_kind(rules, "nearest", "time scale")
    assert sp.simplify(lin.kappa - ALPHA * DELTA) == 0
    s0 = derive("dcsgd", "omega", Gaussian(sigma="sigma"), 1)
    s1 = derive("dcsgd", "omega", Gaussian(sigma="sigma"), 1, n_workers=ALPHA * N_SYMBOL,
                batch=DELTA * B_SYMBOL, lr_symbol=ALPHA * DELTA * ETA)
    b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
    b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, DELTA * B_SYMBOL)
    g = s0.grad_symbols[0]
    assert sp.simplify(b1[0] - b0[0]) == 0
    assert sp.simplify(c1[0].subs(g, 0) - c0[0].subs(g, 0)) == 0
    mult0 = sp.diff(c0[0], g, 2)
    mult1 = sp.diff(c1[0], g, 2)
    assert sp.simplify(mult1 / mult0 - DELTA) == 0
    assert any("x delta" in b for b in lin.breaks)


def test_dcsgd_nearest_floor_rule_has_the_1_plus_omega_structure():
    rules = derive_rules("dcsgd", "omega")
    fl = rules_by_kind(rules, "nearest", "stationary loss (leading")
    assert sp.simplify(fl.kappa - ALPHA * DELTA * (1 + OMEGA) / (1 + OMEGA_NEW)) == 0
    assert "No exact rule" in fl.words
    ex2 = rules_by_kind(rules, "nearest", "exactly")
    assert sp.simplify(ex2.kappa - ALPHA * OMEGA / OMEGA_NEW) == 0
    assert sp.simplify(ex2.pinned[DELTA]
                       - OMEGA * (1 + OMEGA_NEW) / (OMEGA_NEW * (1 + OMEGA))) == 0


def test_dcsgd_floor_rule_preserves_stationary_loss_numerically():
    """Stationary losses (Lyapunov, theorykit.rules.stationary) at numbers: equal to leading
    order in eta, the relative gap O(eta)."""
    from theorykit.rules.stationary import stationary_sde

    lam = [[sp.Rational(1)]]
    rule = rules_by_kind(derive_rules("dcsgd", make("bernoulli", p=0.5),
                                      to_compressor=make("bernoulli", p=0.25)),
                         "nearest", "stationary loss (leading")
    kappa = rule.kappa_value(alpha=2, delta=2)
    assert kappa == pytest.approx(2 * 2 * 2 / 4)
    gaps = []
    for eta in (0.02, 0.01):
        f0 = stationary_sde(derive("dcsgd", 1, Gaussian(sigma=1.0), 1, n_workers=1, batch=1,
                                   lr_symbol=eta), lam).value()
        f1 = stationary_sde(derive("dcsgd", 3, Gaussian(sigma=1.0), 1, n_workers=2,
                                   batch=2, lr_symbol=eta * kappa), lam).value()
        gaps.append(abs(f1 / f0 - 1))
    assert gaps[0] < 0.05
    assert gaps[1] == pytest.approx(gaps[0] / 2, rel=0.05)  # O(eta)


def test_dsgd_to_dcsgd_has_no_exact_rule():
    rules = derive_rules("dsgd", to_compressor=make("bernoulli", p=0.25))
    assert all(r.kind == "nearest" for r in rules)
    assert all("No exact rule" in r.words and "omega = 0" in r.words for r in rules)
    fl = rules_by_kind(rules, "nearest", "stationary loss")
    assert sp.simplify(fl.kappa - ALPHA * DELTA / (1 + OMEGA_NEW)) == 0
    assert fl.kappa_value() == pytest.approx(0.25)  # omega' = 3
    assert "kappa = alpha*delta/4" in fl.words
    assert any("appears" in b for b in fl.breaks)
    tm = rules_by_kind(rules, "nearest", "time scale")
    assert tm.kappa_value(alpha=2, delta=3) == pytest.approx(6.0)
    for r in rules:
        assert all(e == 0 for e in r.residual())


def test_same_compressor_target_keeps_the_exact_rule():
    rules = derive_rules("dcsgd", make("bernoulli", p=0.5),
                         to_compressor=make("bernoulli", p=0.5))
    assert rules[0].kind == "exact"
    rules = derive_rules("dcsgd", make("bernoulli", p=0.5),
                         to_compressor=make("bernoulli", p=0.25))
    assert all(r.kind != "exact" for r in rules)
    assert "omega = 1 and omega' = 3" in rules[0].words


# ----------------------------------------------------------------------------- DSignSGD
@pytest.mark.parametrize("noise, nu", [("gaussian", None), ("student-t", None),
                                       ("student-t", 3), ("student-t", 1)])
def test_dsignsgd_rules(noise, nu):
    rules = derive_rules("dsignsgd", noise=noise, nu=nu)
    ex = rules_by_kind(rules, "exact")
    assert sp.simplify(ex.kappa - ALPHA) == 0 and ex.pinned[DELTA] == 1
    p3 = rules_by_kind(rules, "regime", "Phase 3")
    assert sp.simplify(p3.kappa - ALPHA * sp.sqrt(DELTA)) == 0  # no nu dependence
    p1 = rules_by_kind(rules, "regime", "Phase 1")
    assert sp.simplify(p1.kappa - ALPHA * DELTA) == 0
    for r in (ex, p3, p1):
        assert all(e == 0 for e in r.residual())
    # exact rule re-derived independently on the full (erf / 2F1) SDE
    nz = Gaussian(sigma="sigma") if noise == "gaussian" else StudentT(
        nu="nu" if nu is None else nu, scale="s")
    res, _ = _changed_residual("dsignsgd", None, nz, ex)
    assert all(sp.simplify(e) == 0 for e in res)
    _numeric_zero(res)


def test_dsignsgd_phase3_rule_on_the_linearised_sde_and_wrong_rule_breaks_it():
    """Phase-3 linearisation (slope at g = 0, diffusion at g = 0), derived independently:
    kappa = alpha*sqrt(delta) preserves it per sample; the DSGD rule does not (the
    stationary loss grows by sqrt(delta))."""
    nz = Gaussian(sigma="sigma")
    s0 = derive("dsignsgd", None, nz, 1)
    g = s0.grad_symbols[0]

    def lin(kappa):
        s1 = derive("dsignsgd", None, nz, 1, n_workers=ALPHA * N_SYMBOL,
                    batch=DELTA * B_SYMBOL, lr_symbol=kappa * ETA)
        b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
        b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, DELTA * B_SYMBOL)
        return (sp.diff(b1[0], g).subs(g, 0) / sp.diff(b0[0], g).subs(g, 0),
                c1[0].subs(g, 0) / c0[0].subs(g, 0))

    r_drift, r_diff = lin(ALPHA * sp.sqrt(DELTA))
    assert sp.simplify(r_drift - 1) == 0 and sp.simplify(r_diff - 1) == 0
    w_drift, w_diff = lin(ALPHA * DELTA)
    assert sp.simplify(w_drift - sp.sqrt(DELTA)) == 0
    assert sp.simplify(w_diff - DELTA) == 0
    p3 = rules_by_kind(derive_rules("dsignsgd"), "regime", "Phase 3")
    assert any("Phase-1 speed" in b and "1/sqrt(delta)" in b for b in p3.breaks)


def test_dsignsgd_digest_grid_numbers():
    """(N, B) = (1, 1) -> (4, 4), (8, 8): kappa = 8 and 8*sqrt(8)
    (docs/theory/sde_papers.md §2.3(e))."""
    p3 = rules_by_kind(derive_rules("dsignsgd"), "regime", "Phase 3")
    assert p3.kappa_value(alpha=4, delta=4) == pytest.approx(8.0)
    assert p3.kappa_value(alpha=8, delta=8) == pytest.approx(8 * math.sqrt(8))
    ex = rules_by_kind(derive_rules("dsignsgd"), "exact")
    with pytest.raises(InputError, match="needs delta = 1"):
        ex.kappa_value(alpha=8, delta=8)
    assert ex.kappa_value(alpha=8) == pytest.approx(8.0)


# ----------------------------------------------------------------------------- output
def test_latex_text_json():
    for r in derive_rules("dcsgd", "omega") + derive_rules("dsignsgd"):
        tex = r.latex()
        assert tex.startswith(r"\kappa =")
        assert "omega'" not in tex or r"\omega'" in tex
        d = json.loads(json.dumps(r.to_json()))
        assert d["kind"] == r.kind and d["equation"].startswith("kappa =")
        assert isinstance(r.equation, sp.Eq)
        assert "samples seen" in d["time_variable"]
        assert r.pretty().startswith(f"[{r.kind}]")


def test_apply_gives_new_hyperparameters():
    r = derive_rules("dsgd")[0]
    assert r.apply(eta=0.01, batch=4, n_workers=2, alpha=2, delta=2) == {
        "eta": pytest.approx(0.04), "batch": 8, "n_workers": 4}


# ----------------------------------------------------------------------------- bad input
def test_no_sde_for_infinite_variance_is_an_explicit_none_rule():
    rules = derive_rules("dcsgd", "omega", noise="student-t", nu=2)
    assert len(rules) == 1 and rules[0].kind == "none"
    assert rules[0].equation is None and "infinite variance" in rules[0].words
    with pytest.raises(InputError):
        rules[0].kappa_value(alpha=2)


@pytest.mark.parametrize("kwargs, err, msg", [
    ({"method": "adam"}, InputError, "unknown method"),
    ({"method": "dcsgd"}, InputError, "needs a compressor"),
    ({"method": "dsignsgd", "compressor": "bernoulli"}, InputError, "takes no compressor"),
    ({"method": "dsgd", "compressor": "bernoulli"}, InputError, "takes no compressor"),
    ({"method": "dcsgd", "compressor": "topk"}, AssumptionError, "not unbiased"),
    ({"method": "dcsgd", "compressor": "nonexistent"}, InputError, "unknown compressor"),
    ({"method": "dsgd", "noise": "pareto"}, InputError, "gaussian or student-t"),
    ({"method": "dcsgd", "compressor": -1.0}, InputError, "omega must be"),
])
def test_bad_input(kwargs, err, msg):
    method = kwargs.pop("method")
    with pytest.raises(err, match=msg):
        derive_rules(method, **kwargs)


def test_kappa_value_missing_value_is_input_error():
    fl = rules_by_kind(derive_rules("dcsgd", "omega"), "nearest", "stationary loss (leading")
    with pytest.raises(InputError, match="needs a value"):
        fl.kappa_value(alpha=2)
    assert fl.kappa_value(alpha=1, delta=1, omega_new=3, omega=1) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- allowances
def test_moment_recursions_match_the_stationary_closed_forms():
    """The moment recursions behind the claims' allowances: with step h = eta they converge
    to the exact discrete stationary loss, and the exact ODE to the SDE's (both from
    theorykit.rules.stationary)."""
    from theorykit.check.rule_check import loss_curve as _loss_curve
    from theorykit.check.rule_check import moment_model as _model
    from theorykit.methods import DCSGD
    from theorykit.problems import Quadratic
    from theorykit.rules.stationary import stationary_discrete, stationary_sde

    prob = Quadratic(eigs=[1.0, 0.5])
    comp = make("bernoulli", p=0.5)
    noise = Gaussian(sigma=1.0)
    eta = 0.1
    sde = derive(DCSGD(comp), None, noise, prob, n_workers=2, batch=1)
    mod = _model(sde, np.diag([1.0, 0.5]), linearize=False)
    x0 = np.array([1.0, -1.0])
    disc, _, _ = _loss_curve(mod, eta, x0, 40.0, 1, eta)
    ode, _, _ = _loss_curve(mod, eta, x0, 40.0, 1, None)
    H = prob.hessian()
    f_dis = stationary_discrete(DCSGD(comp), noise, H, 2, 1, eta).value()
    f_sde = stationary_sde(sde, H).value({"eta": eta})
    assert disc[-1] == pytest.approx(f_dis, rel=1e-8)
    assert ode[-1] == pytest.approx(f_sde, rel=1e-8)
    assert disc[0] == pytest.approx(0.5 * (1.0 + 0.5))


@pytest.mark.slow
def test_dsignsgd_scaling_claim_holds_quick():
    """The quick claim (4000 replicas, fixed seed): the square-root rule's curves coincide
    within the discretisation allowance, and the run resolves a factor-2 error in kappa."""
    from theorykit.check.claim import RunContext
    from theorykit.check.registry import get

    v = get("scaling.dsignsgd_gaussian").run(RunContext())
    assert v.status.value == "holds", v.details
    assert v.details["distance"]["D"] <= v.interval[1]
    assert min(v.details["resolution"].values()) > v.interval[1] + 3
    assert len(v.series["samples"]) == len(v.series["base_mean"])
