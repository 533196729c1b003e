"""The Monte Carlo certifier: inputs, verdicts on correct and wrong constants, the
confirmation stage, sign-type checks and the calibration of the unbiasedness test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
import torch

from theorykit.check.claim import Status, Verdict
from theorykit.compressors import B1, B3, D, SignType, Unbiased, make
from theorykit.compressors.catalog.identity import Identity
from theorykit.compressors.catalog.sparsifiers import RandK, RandKUnscaled, TopK
from theorykit.compressors.certify import (
    _sample_stats,
    _unbiased_test,
    certify,
    input_suite,
)
from theorykit.errors import InputError

SEED = 7


# --------------------------------------------------------------------------- test specs
class WrongOmegaRandK(RandK):
    """Rand-k claiming omega = d/k - 2 (true: d/k - 1)."""

    name = "t_wrong_randk"

    def classes(self):
        return (Unbiased(D / self.sym("k") - 2),)


class BiasedClaimingU(RandKUnscaled):
    """Unscaled rand-k (E C = (k/d) x) wrongly claiming unbiasedness with a true omega."""

    name = "t_biased_u"

    def classes(self):
        return (Unbiased(sp.Integer(1)),)


class TopKAlphaTooBig(TopK):
    """Top-k claiming alpha = 2k/d (true: k/d, attained at constant x)."""

    name = "t_topk_alpha"

    def classes(self):
        q = self.sym("k") / D
        return (B1(2 * q, sp.Integer(1)),)


class NaNOnTiny(Identity):
    """Identity that returns NaN for inputs of norm below 1e-10."""

    name = "t_nan_tiny"
    randomized = True

    def classes(self):
        return (B3(sp.Integer(1)),)

    def apply(self, x, generator=None):
        out = x.clone()
        small = x.norm(dim=-1, keepdim=True) < 1e-10
        return torch.where(small, torch.full_like(x, float("nan")), out)


class IdentityClaimingSign(Identity):
    """A homogeneous map wrongly flagged as sign-type."""

    name = "t_identity_sign"

    def classes(self):
        return (SignType(),)


# --------------------------------------------------------------------------- inputs
def test_input_suite_shapes_and_adversarial_members():
    g = torch.Generator().manual_seed(0)
    suite = input_suite(16, g)
    expected = {"gaussian", "one_hot", "constant", "alternating", "cauchy", "student_t3",
                "sparse", "spike_noise", "spike_flat", "geometric", "grid_midpoints",
                "harmonic_points", "tiny", "huge"}
    assert set(suite) == expected
    for name, x in suite.items():
        assert x.shape == (16,) and x.dtype == torch.float64, name
        assert bool(torch.isfinite(x).all()) and float(x.abs().max()) > 0, name
    assert float(suite["one_hot"].abs().sum()) == 1.0
    assert float(suite["tiny"].norm()) < 1e-18 and float(suite["huge"].norm()) > 1e14
    # grid midpoints are 1.5 * 2^j, harmonic points (4/3) * 2^j
    mant = suite["grid_midpoints"].abs() / torch.pow(2.0, torch.floor(
        torch.log2(suite["grid_midpoints"].abs())))
    assert torch.allclose(mant, torch.full_like(mant, 1.5))
    mant = suite["harmonic_points"].abs() / torch.pow(2.0, torch.floor(
        torch.log2(suite["harmonic_points"].abs())))
    assert torch.allclose(mant, torch.full_like(mant, 4 / 3))
    # reproducible from the generator state
    again = input_suite(16, torch.Generator().manual_seed(0))
    assert all(torch.equal(suite[k], again[k]) for k in suite)


def test_input_suite_rejects_bad_dimension():
    with pytest.raises(InputError, match="d must be >= 1"):
        input_suite(0, torch.Generator())


# --------------------------------------------------------------------------- verdicts
def test_identity_holds_exactly_with_deterministic_tolerance():
    rep = certify(Identity(), d=[8, 32], n_samples=400, seed=SEED)
    assert rep.status == Status.HOLDS
    assert rep.n_samples == 2  # deterministic: two evaluations suffice, SE = 0
    keys = {c.key for c in rep.constants}
    assert keys == {"U.omega", "U.unbiased", "B1.alpha", "B1.beta", "B2.gamma", "B2.beta",
                    "B3.delta"}
    beta = rep.constant("B1.beta")
    assert beta.estimate == pytest.approx(1.0, abs=1e-12) and beta.tightness == pytest.approx(1)
    assert rep.dims == [8, 32] and rep.seed == SEED


def test_catalog_randk_holds_and_is_tight():
    """Rand-k's omega = d/k - 1 is attained for every x: at the constant input the error
    ratio is deterministic (each k-subset keeps exactly k/d of the energy)."""
    rep = certify(make("randk", k=4), d=16, n_samples=400, seed=SEED)
    assert rep.status == Status.HOLDS, [c.summary() for c in rep.constants]
    const_row = next(r for r in rep.constant("U.omega").rows if r.input == "constant")
    assert const_row.mean == pytest.approx(3.0, rel=1e-6)
    assert const_row.tightness == pytest.approx(1.0, rel=1e-6)


def test_wrong_omega_is_contradicted_with_numbers():
    rep = certify(WrongOmegaRandK(k=4), d=16, n_samples=400, seed=SEED)
    assert rep.status == Status.CONTRADICTED
    om = rep.constant("U.omega")
    assert om.status == "contradicted"
    assert om.claimed == pytest.approx(2.0)
    # the clearest contradiction is deterministic: implied omega = d/k - 1 = 3 exactly
    assert om.worst_input == "constant"
    assert om.estimate == pytest.approx(3.0, rel=1e-6)
    assert om.tightness == pytest.approx(1.5, rel=1e-6)
    assert om.n >= 8000  # confirmed on fresh draws
    assert "confirmed" in om.note


def test_bias_is_detected_by_the_vector_mean_test():
    rep = certify(BiasedClaimingU(k=4), d=16, n_samples=400, seed=SEED)
    unb = rep.constant("U.unbiased")
    assert unb.status == "contradicted"
    # E C = x/4: ||E C - x||^2/||x||^2 = 9/16
    assert unb.estimate == pytest.approx(9 / 16, abs=6 * unb.se)


def test_lower_constant_too_large_is_contradicted():
    rep = certify(TopKAlphaTooBig(k=2), d=16, n_samples=100, seed=SEED)
    alpha = rep.constant("B1.alpha")
    assert alpha.status == "contradicted" and alpha.worst_input == "constant"
    assert alpha.estimate == pytest.approx(2 / 16) and alpha.tightness == pytest.approx(2.0)


def test_non_finite_output_is_inconclusive_not_contradicted():
    rep = certify(NaNOnTiny(), d=8, n_samples=50, seed=SEED)
    delta = rep.constant("B3.delta")
    assert delta.status == "inconclusive"
    bad = [r for r in delta.rows if r.status != "holds"]
    assert [r.input for r in bad] == ["tiny"] and "non-finite" in bad[0].note


def test_rare_event_rejection_is_sent_to_confirmation():
    """Rand-1 in d=64 on a one-hot input keeps the hot coordinate with probability 1/64; with
    20 draws it is often never kept, so the first stage sees E||C||^2 = 0 < alpha = 64. The
    confirmation on fresh draws (2000) must overturn it; the claim is true."""
    x = torch.zeros(64, dtype=torch.float64)
    x[3] = 1.0
    rep = certify(make("randk", k=1), d=64, n_samples=20, seed=0, inputs={"one_hot": x})
    alpha = rep.constant("B1.alpha")
    assert alpha.status == "holds"
    (row,) = alpha.rows
    # with seed 0 the first stage never sees the hot coordinate kept and rejects
    assert "first-stage rejection (n=20) not confirmed on 2000 fresh draws" in row.note
    assert row.n == 2000 and row.mean == pytest.approx(64, abs=row.threshold)


def test_sign_type_nonhomogeneity():
    rep = certify(make("sign"), d=16, n_samples=100, seed=SEED)
    c = rep.constant("sign-type.nonhomogeneous")
    assert c.status == "holds"
    assert c.estimate == pytest.approx(0.25)  # ||sign(2x)||^2 / 4 = ||sign(x)||^2 / 4
    rep2 = certify(IdentityClaimingSign(), d=16, n_samples=100, seed=SEED)
    assert rep2.constant("sign-type.nonhomogeneous").status == "inconclusive"


def test_report_json_and_verdict():
    rep = certify(make("topk", k=3), d=[8, 16], n_samples=50, seed=SEED)
    blob = json.dumps(rep.to_json())
    back = json.loads(blob)
    assert back["status"] == "holds" and len(back["constants"]) == 5
    assert all(math.isfinite(float(c["z"])) for c in [back])
    v = rep.verdict("compressors.topk")
    assert isinstance(v, Verdict) and v.status == Status.HOLDS
    assert v.series["constant"] == [c.key for c in rep.constants]
    assert v.seed == SEED


def test_bad_arguments():
    with pytest.raises(InputError, match="k=9 exceeds d=8"):
        certify(make("topk", k=9), d=8, n_samples=10, seed=0)
    with pytest.raises(InputError, match="n_samples"):
        certify(Identity(), d=8, n_samples=1, seed=0)
    with pytest.raises(InputError, match="shape"):
        certify(Identity(), d=8, n_samples=10, seed=0,
                inputs={"x": torch.ones(4, dtype=torch.float64)})
    with pytest.raises(InputError, match="still depends on"):
        certify(RandK(), d=8, n_samples=10, seed=0)  # k missing


@pytest.mark.slow
def test_unbiasedness_test_is_calibrated():
    """Under H0 (Bernoulli sparsification, unbiased) the Satterthwaite p-values should be
    roughly uniform: the fraction below 0.05 over R = 300 independent runs (n = 400 draws,
    d = 16, Gaussian input, seeds 0..299) must agree with 0.05 within 3 binomial SEs
    (sqrt(0.05*0.95/300) = 0.0126)."""
    spec = make("bernoulli", p=0.3)
    x = torch.randn(16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ps = []
    for r in range(300):
        stats, Y, err = _sample_stats(spec, x, 400, r)
        assert not err
        ps.append(_unbiased_test(stats, Y, 1, 0.0027, 1e-5)["p"])
    frac = float(np.mean(np.array(ps) < 0.05))
    se = math.sqrt(0.05 * 0.95 / 300)
    assert abs(frac - 0.05) <= 3 * se, frac


# --------------------------------------------------------------------------- tightness
class LooseOmegaRandK(RandK):
    """Rand-k claiming omega = 2 (d/k - 1): true (a one-sided bound cannot refute it) but
    2x loose at every x."""

    name = "t_loose_randk"

    def classes(self):
        return (Unbiased(2 * (D / self.sym("k") - 1)),)


def test_tightness_test_refutes_a_loose_constant_claimed_tight():
    spec = LooseOmegaRandK(k=4)
    assert certify(spec, d=16, n_samples=200, seed=SEED).status == Status.HOLDS
    rep = certify(spec, d=16, n_samples=200, seed=SEED, tight={"U.omega": ["constant"]})
    att = rep.constant("U.omega.attained")
    assert rep.status == Status.CONTRADICTED and att.status == "contradicted"
    # at the constant input the error ratio is exactly d/k - 1 = 3 against the claimed 6
    assert att.estimate == pytest.approx(3.0, rel=1e-6) and att.claimed == pytest.approx(6.0)
    assert "attained" in rep.rule()
    # the true constant passes the same two-sided test, counted in the Bonferroni z
    ok = certify(make("randk", k=4), d=16, n_samples=200, seed=SEED,
                 tight={"U.omega": ["constant"], "B1.alpha": ["constant"]})
    assert ok.status == Status.HOLDS
    assert ok.n_tests == certify(make("randk", k=4), d=16, n_samples=200,
                                 seed=SEED).n_tests + 2


def test_claimed_override_and_sample_cache_reuse_the_draws():
    calls = []

    class Counting(RandK):
        name = "t_counting_randk"

        def apply(self, x, generator=None):
            calls.append(x.shape[0])
            return super().apply(x, generator)

    spec = Counting(k=4)
    cache: dict = {}
    first = certify(spec, d=16, n_samples=100, seed=SEED, sample_cache=cache)
    n_first = len(calls)
    half = certify(spec, d=16, n_samples=100, seed=SEED, sample_cache=cache,
                   claimed=lambda d: (Unbiased(sp.Rational(d, 4) / 2 - sp.Rational(1, 2)),))
    assert first.status == Status.HOLDS and half.status == Status.CONTRADICTED
    assert half.constant("U.omega").claimed == pytest.approx(1.5)
    # the second certification drew only the confirmation samples of its rejections
    assert all(n >= 2000 for n in calls[n_first:])
    n_second = len(calls)
    again = certify(spec, d=16, n_samples=100, seed=SEED, sample_cache=cache,
                    claimed=lambda d: (Unbiased(sp.Rational(d, 4) / 2 - sp.Rational(1, 2)),))
    assert len(calls) == n_second  # everything came from the cache
    assert again.to_json(rows=False) | {"elapsed_s": 0} == half.to_json(rows=False) | {
        "elapsed_s": 0}


def test_tight_names_must_exist():
    with pytest.raises(InputError, match="not a claimed constant"):
        certify(make("randk", k=4), d=16, n_samples=10, seed=0, tight={"B3.delta": ["one_hot"]})
    with pytest.raises(InputError, match="not in the suite"):
        certify(make("randk", k=4), d=16, n_samples=10, seed=0, tight={"U.omega": ["nope"]})
