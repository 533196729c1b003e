"""Quantizer and rounding constants: the symbolic omegas and ratio bounds (SymPy
``simplify(a - b) == 0``) against their closed forms and Monte Carlo (sample size, seed and
tolerance stated in each test), the natural-dithering exponent counterexample and the
certifier on every claimed constant."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from _quantizer_cases import LEVELS5, SEED, gen

from theorykit.check.stats import agree, at_most, mean_se
from theorykit.compressors import D, make
from theorykit.compressors.catalog.quantizers import (
    NaturalDithering,
    qsgd_omega_sharp,
)
from theorykit.compressors.catalog.rounding import (
    NearestRounding,
    UnbiasedRounding,
    derive_nearest_constants,
    derive_unbiased_omega,
)
from theorykit.compressors.certify import certify
from theorykit.compressors.classes import Unbiased


# =========================================================================== symbolic constants
def test_unbiased_rounding_omega_is_derived_and_closed_form():
    base = make("unbiased_rounding").sym("base")
    om = derive_unbiased_omega()
    assert sp.simplify(om - (base - 1) ** 2 / (4 * base)) == 0
    assert sp.simplify(make("unbiased_rounding").omega() - om) == 0
    for b, expected in [(2, sp.Rational(1, 8)), (3, sp.Rational(1, 3)), (sp.Rational(3, 2),
                                                                         sp.Rational(1, 24))]:
        assert om.subs(base, b) == expected
    # numerically: the sup over a fine grid of t in [1, b] of (t-1)(b-t)/t^2
    for b in (1.1, 2.0, 3.0, 10.0):
        t = np.linspace(1.0, b, 200001)
        assert np.max((t - 1) * (b - t) / t**2) == pytest.approx(float(om.subs(base, b)),
                                                                 rel=1e-8)


def test_unbiased_rounding_omega_is_attained_at_harmonic_points():
    """The bound is tight: at |x_j| = (4/3) 2^k (the harmonic mean of the cell) the error
    ratio's mean is exactly 1/8. n = 4000 draws of x in R^64 (seed SEED); agree within
    3 SE (plus 1e-6 float32 allowance)."""
    spec = make("unbiased_rounding")
    k = torch.arange(64) % 9 - 4
    x = (4.0 / 3.0) * 2.0 ** k.double() * torch.where(k % 2 == 0, 1.0, -1.0).double()
    n = 4000
    y = spec.apply(x.expand(n, 64), gen()).double()
    ratio = ((y - x) ** 2).sum(1) / (x**2).sum()
    v = agree("unbiased_rounding.omega_tight", 1 / 8, mean_se(ratio.numpy()), model_tol=1e-6)
    assert v.status.value == "holds", (v.measured, v.tolerance)


def test_nearest_rounding_constants_are_derived_and_closed_form():
    base = make("nearest_rounding").sym("base")
    c = derive_nearest_constants()
    r_min, r_max = 2 / (1 + base), 2 * base / (1 + base)
    assert sp.simplify(c["r_min"] - r_min) == 0
    assert sp.simplify(c["r_max"] - r_max) == 0
    assert sp.simplify(c["alpha"] - r_min**2) == 0
    assert sp.simplify(c["gamma"] - r_min) == 0 and sp.simplify(c["beta"] - r_max) == 0
    assert sp.simplify(c["delta"] - (1 + base) ** 2 / (4 * base)) == 0
    # B3's delta is the digest's sup_k (a_k + a_{k+1})^2 / (4 a_k a_{k+1}) on a_k = base^k
    a = sp.Symbol("a", positive=True)
    assert sp.simplify(c["delta"] - (a + base * a) ** 2 / (4 * a * base * a)) == 0
    num = {cl.name: cl for cl in make("nearest_rounding").numeric_classes()}
    assert num["B1"].alpha == sp.Rational(4, 9) and num["B1"].beta == sp.Rational(4, 3)
    assert num["B2"].gamma == sp.Rational(2, 3) and num["B3"].delta == sp.Rational(9, 8)


def _dense_magnitudes(base: float) -> torch.Tensor:
    """Many values per cell over 6 cells, plus the exact midpoints and their neighbours."""
    lv = np.float32(base) ** np.arange(-3, 4, dtype=np.float32)
    pts = [np.linspace(lv[i], lv[i + 1], 4001, dtype=np.float32) for i in range(len(lv) - 1)]
    mids = ((lv[:-1].astype(np.float64) + lv[1:]) / 2).astype(np.float32)
    pts += [mids, np.nextafter(mids, np.float32(0)), np.nextafter(mids, np.float32(np.inf))]
    return torch.from_numpy(np.concatenate(pts))


@pytest.mark.parametrize("base", [2.0, 3.0, 1.5])
def test_nearest_rounding_ratio_bounds_on_a_grid(base):
    """C_j/x_j in [r_min, r_max] for every value of a dense grid (deterministic, float64
    ratios of the float32 codec); both ends are approached (r_max attained at midpoints).
    Tolerance: exact for base 2 (all grid points and midpoints are float32 numbers),
    4e-7 relative for other bases (float32 rounding of the grid)."""
    spec = make("nearest_rounding", base=base)
    t = _dense_magnitudes(base)
    x = torch.cat([t, -t])
    ratio = (spec.apply(x).double() / x.double()).numpy()
    r_min, r_max = 2 / (1 + base), 2 * base / (1 + base)
    tol = 0.0 if base == 2.0 else 4e-7
    assert ratio.min() >= r_min * (1 - tol) and ratio.max() <= r_max * (1 + tol)
    assert ratio.min() <= r_min * (1 + 1e-5) and ratio.max() >= r_max * (1 - tol)
    # the class inequalities hold exactly on this x (deterministic compressor)
    xd, cd = x.double(), spec.apply(x).double()
    nx, nc, inner = float(xd @ xd), float(cd @ cd), float(cd @ xd)
    c = {k: float(v.subs(spec.sym("base"), sp.nsimplify(base)))
         for k, v in derive_nearest_constants().items()}
    slack = 1e-6 if base != 2.0 else 1e-12
    assert nc >= c["alpha"] * nx * (1 - slack) and nc <= c["beta"] * inner * (1 + slack)
    assert inner >= c["gamma"] * nx * (1 - slack)
    assert float(((cd - xd) ** 2).sum()) <= (1 - 1 / c["delta"]) * nx * (1 + slack)


def test_base2_bit_path_equals_general_grid_path():
    """Base 2 uses float32 bit arithmetic; the general table path (forced here) gives the
    same codes and values, including subnormals, zero and values near float32's max."""
    x = torch.randn(3, 500, generator=gen(9)) * 10 ** (3 * torch.randn(3, 500,
                                                                      generator=gen(10)))
    x = torch.cat([x.reshape(-1), torch.tensor([0.0, -0.0, 1e-40, -3e-39, 3e38, -3.4e38,
                                                1.5, 1.4999999, 3.0, 2.0 ** -127])])
    for cls in (UnbiasedRounding, NearestRounding):
        fast, slow = cls(), cls()
        vals = np.float32(2.0) ** np.arange(-126, 128).astype(np.float32)
        ext = np.concatenate([[0.0], vals, [np.inf]]).astype(np.float32)
        slow._pow2, slow._kmin, slow._ncodes, slow._inv_lb = False, -126, 255, 1.0
        slow._table = torch.from_numpy(ext)
        slow._mids = torch.from_numpy(((ext[:-1].astype(np.float64) + ext[1:]) / 2)
                                      .astype(np.float32))
        p1, p2 = fast.encode(x, gen()), slow.encode(x, gen())
        assert torch.equal(p1.fields["codes"].data, p2.fields["codes"].data)
        assert torch.equal(fast.decode(p1), slow.decode(p2))


def test_qsgd_omega_symbolic_and_numeric():
    spec = make("qsgd", s=4)
    s = spec.sym("s")
    assert sp.simplify(spec.omega() - sp.Min(D / s**2, sp.sqrt(D) / s)) == 0
    assert float(spec.omega().subs(spec.substitutions(100))) == pytest.approx(2.5)
    assert float(spec.omega().subs(spec.substitutions(4))) == pytest.approx(0.25)
    # the sharper derived bound never exceeds the paper's
    for sv in (1, 2, 4, 16):
        for dv in (1, 4, 16, 100, 10**4):
            sharp = float(qsgd_omega_sharp(sv, dv))
            paper = float(spec.omega().subs({s: sv, D: dv}))
            assert sharp <= paper + 1e-12


def test_qsgd_variance_never_exceeds_the_sharp_bound():
    """E||C(x)-x||^2/||x||^2 <= min(d/(4 s^2), sqrt(d)/s) [derived] at the worst cases:
    all coordinates with r_j = 1/2 (equal magnitudes, d = 4 s^2: the d/(4s^2) branch is
    attained) and a spike. n = 4000 draws (seed SEED), one-sided test with z = 3."""
    for s, d in [(2, 16), (3, 36)]:
        spec = make("qsgd", s=s)
        x = torch.ones(d, dtype=torch.float64)     # r_j = s/sqrt(d) = 1/2
        y = spec.apply(x.expand(4000, d), gen()).double()
        est = mean_se((((y - x) ** 2).sum(1) / (x @ x)).numpy())
        bound = float(qsgd_omega_sharp(s, d))
        assert at_most("qsgd.sharp", bound, est).status.value == "holds"
        v = agree("qsgd.sharp_attained", bound, est, model_tol=1e-6)
        assert v.status.value == "holds", (est, bound)


def test_natural_dithering_omega_forms():
    """With r = 2 the implemented omega equals the digest's; the min(r, 2) only matters for
    r > 2. Symbolic identities are checked with simplify, then numbers."""
    nd = NaturalDithering(s=4)
    s, r = nd.sym("s"), nd.sym("r")
    a = D ** (1 / sp.Min(r, 2)) * 2 ** (1 - s)
    assert sp.simplify(nd.omega() - (sp.Rational(1, 8) + a * sp.Min(1, a))) == 0
    sub2 = nd.substitutions(1000)
    assert sp.simplify((nd.omega() - nd.omega_digest()).subs(sub2)) == 0
    om = float(nd.omega().subs(sub2))
    assert om == pytest.approx(1 / 8 + math.sqrt(1000) / 8)
    sharp = float(nd.omega_sharp().subs(sub2))
    assert sharp <= om


def test_natural_dithering_digest_exponent_is_contradicted_for_r_above_2():
    """Counterexample to the digest's omega with d^(1/r) (r = 8, d = 1000, s = 4):
    x = (1, e, ..., e), e = 2^-4, puts 999 coordinates in the bottom cell [0, 1/8] with
    variance ~1/256 each. Derived error ratio ~ (999/256)/(1 + 999/256) = 0.796; digest
    omega = 0.213; the implemented omega (d^(1/min(r,2))) = 4.08 holds.
    n = 2000 draws (seed SEED), one-sided tests with z = 3, plus the certifier."""
    spec = make("natural_dithering", s=4, r=8.0)
    d = 1000
    x = torch.full((d,), 2.0**-4, dtype=torch.float64)
    x[0] = 1.0
    y = spec.apply(x.expand(2000, d), gen()).double()
    est = mean_se((((y - x) ** 2).sum(1) / (x @ x)).numpy())
    digest = float(spec.omega_digest().subs(spec.substitutions(d)))
    implemented = float(spec.omega().subs(spec.substitutions(d)))
    assert digest == pytest.approx(0.2129, abs=1e-4)
    assert est.mean == pytest.approx((999 / 256) / (1 + 999 / 256), rel=0.01)
    assert at_most("nd.digest", digest, est).status.value == "contradicted"
    assert at_most("nd.implemented", implemented, est).status.value == "holds"

    class DigestOmega(NaturalDithering):
        name = "natural_dithering_digest_test"

        def classes(self):
            return (Unbiased(self.omega_digest()),)

    rep = certify(DigestOmega(s=4, r=8.0), d=d, n_samples=200, seed=SEED,
                  inputs={"counterexample": x})
    assert rep.constant("U.omega").status == "contradicted"


@pytest.mark.slow
def test_certifier_accepts_every_claimed_constant():
    """The Monte Carlo certifier (default input suite, d = 16, n = 400, seed SEED) finds no
    contradiction in the claimed classes of the class-bearing specs."""
    for name, kw in [("qsgd", {"s": 2}), ("natural_dithering", {"s": 3}),
                     ("natural_dithering", {"s": 3, "r": 8.0}), ("unbiased_rounding", {}),
                     ("unbiased_rounding", {"base": 3.0}), ("nearest_rounding", {}),
                     ("nearest_rounding", {"base": 1.5})]:
        rep = certify(make(name, **kw), d=16, n_samples=400, seed=SEED)
        assert rep.status.value == "holds", (name, kw, [c.summary() for c in rep.constants])


def test_truncated_quantizers_claim_no_class():
    """No class holds for all x (small-x variance blows up relative to ||x||^2); the specs
    say so by returning no class, and the blow-up is visible numerically."""
    tu = make("truncated_uniform", tau=1.0, s=3)     # 0 is not a level: C(0) != 0
    tn = make("truncated_nonuniform", tau=1.0, levels=LEVELS5)
    assert tu.classes() == () and tn.classes() == ()
    assert not tu.is_unbiased
    x = torch.full((8,), 1e-3, dtype=torch.float64)
    for spec in (tu, tn):
        y = spec.apply(x.expand(2000, 8), gen()).double()
        ratio = float((((y - x) ** 2).sum(1) / (x @ x)).mean())
        assert ratio > 100  # E||C - x||^2 / ||x||^2 is far beyond any omega < 1 or B3
