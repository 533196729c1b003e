"""The class algebra: every relation proven in SymPy (and its certificate checked
numerically), derived constants of scaled/composed specs equal to their closed forms, the
derived codecs, and the certifier on derived specs."""

from __future__ import annotations

import random

import pytest
import sympy as sp
import torch

from theorykit.check.claim import Status
from theorykit.compressors import B1, B2, B3, D, Param, SymbolicSpec, Unbiased, make
from theorykit.compressors import algebra as A
from theorykit.compressors.catalog.natural import Natural
from theorykit.compressors.catalog.sparsifiers import TopK
from theorykit.compressors.certify import certify
from theorykit.errors import AssumptionError, InputError


# --------------------------------------------------------------------------- generic specs
class _Symbolic(SymbolicSpec):
    """Codec-less spec with generic positive constants (symbolic tests only)."""

    def bits(self):
        return 32 * D


def _p(name: str) -> Param:
    return Param(name, float, minimum=0, minimum_inclusive=False)


class GenU(_Symbolic):
    name = "t_gen_u"
    params = (_p("w"),)

    def classes(self):
        return (Unbiased(self.sym("w")),)


class GenV(_Symbolic):
    name = "t_gen_v"
    params = (_p("v"),)

    def classes(self):
        return (Unbiased(self.sym("v")),)


class GenUd(_Symbolic):
    """U(d): omega depends on the dimension (to test Q acting on k kept values)."""

    name = "t_gen_ud"

    def classes(self):
        return (Unbiased(D),)


class GenB1(_Symbolic):
    name = "t_gen_b1"
    params = (_p("a"), _p("b"))

    def classes(self):
        return (B1(self.sym("a"), self.sym("b")),)


class GenB2(_Symbolic):
    name = "t_gen_b2"
    params = (_p("g"), _p("b"))

    def classes(self):
        return (B2(self.sym("g"), self.sym("b")),)


class GenB3(_Symbolic):
    name = "t_gen_b3"
    params = (Param("t", float, minimum=1),)

    def classes(self):
        return (B3(self.sym("t")),)


w, v, a, b, g = (sp.Symbol(n, real=True, positive=True) for n in "wvabg")
t = sp.Symbol("t", real=True, positive=True)
k = sp.Symbol("k", real=True, integer=True, positive=True)
c = sp.Symbol("c", real=True, positive=True)


def same(x, y) -> bool:
    return sp.simplify(sp.sympify(x) - sp.sympify(y)) == 0


def membership(spec_or_list, name):
    items = spec_or_list if isinstance(spec_or_list, list) else list(spec_or_list.classes())
    found = [m for m in items if m.name == name]
    assert len(found) == 1, (name, items)
    return found[0]


# --------------------------------------------------------------------------- proofs
@pytest.mark.parametrize("key", sorted(A.RULES))
def test_rule_is_proven_symbolically(key):
    rule = A.RULES[key]
    assert rule.proofs, key
    for name, proof in rule.proofs.items():
        assert sp.simplify(proof.residual()) == 0, (key, name)
        assert proof.check(), (key, name)


@pytest.mark.parametrize("key", sorted(A.RULES))
def test_rule_certificate_holds_numerically(key):
    """The certificate identity at random points, and its multipliers >= 0 at random points
    of the domain (conditions satisfied), in plain floats."""
    rng = random.Random(hash(key) % 1000)
    for proof in A.RULES[key].proofs.values():
        for _ in range(20):
            free = proof.residual().free_symbols | set().union(
                *(e.free_symbols for e in proof.nonnegative_parts()))
            point = {s: rng.uniform(0.1, 3.0) for s in free}
            assert abs(float(proof.residual().subs(point))) < 1e-9
            dom = {s: rng.uniform(0.0, 3.0) if s in (A.U_, A.W_) else rng.uniform(0.1, 3.0)
                   for s in free | {A.U_, A.W_}}
            for part in proof.nonnegative_parts():
                val = float(sp.sympify(part).subs(proof.domain).subs(dom))
                assert val >= -1e-12, (key, part, dom)


def test_relation_3_directly_from_the_definitions():
    """C ∈ U(zeta - 1) => C/zeta ∈ B3(zeta): with S = E||C||^2/||x||^2 and <E C, x> = ||x||^2,
    E||C/zeta - x||^2/||x||^2 - (1 - 1/zeta) = (S - zeta)/zeta^2 <= 0 because S <= zeta."""
    zeta, S, u = sp.symbols("zeta S u", positive=True)
    err_scaled = S / zeta**2 - 2 / zeta + 1  # E||C/zeta - x||^2 / ||x||^2, E C = x
    excess = err_scaled - (1 - 1 / zeta)
    assert sp.simplify(excess - (S - zeta) / zeta**2) == 0
    assert sp.simplify(excess.subs(S, zeta - u)).is_nonpositive  # S = zeta - u, u >= 0
    # numerically, for a sampled U(zeta - 1) compressor: rand-k, zeta = d/k
    spec = A.contractive(make("randk", k=2))
    x = torch.randn(4000, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    cx = spec.apply(x, torch.Generator().manual_seed(6))
    ratio = float((((cx - x) ** 2).sum(-1) / (x**2).sum(-1)).mean())
    se = float((((cx - x) ** 2).sum(-1) / (x**2).sum(-1)).std() / 4000**0.5)
    assert ratio <= (1 - 2 / 8) + 4 * se  # B3(d/k): 1 - 1/delta = 1 - k/d


def test_a_wrong_certificate_is_rejected():
    p = A.RULES["B2<B1"].proofs["alpha"]
    wrong = A.Proof(p.statement, p.target, p.hypotheses,
                    {**p.multipliers, "B2.gamma": A.I - A.GAMMA})  # I - gamma, not I + gamma
    assert not wrong.check()
    q = A.RULES["scale.B2>B3"].proofs["delta"]
    no_domain = A.Proof(q.statement, q.target, q.hypotheses, q.multipliers)
    assert sp.simplify(no_domain.residual()) == 0  # the identity alone holds ...
    assert not no_domain.check()  # ... but c (2 - c beta) >= 0 needs c beta <= 2


# --------------------------------------------------------------------------- inclusions
def test_implied_classes_closed_forms():
    der = A.implied_classes(GenU(w=0.5))
    cls = [x.cls for x in der]
    assert same(membership(cls, "B1").alpha, 1) and same(membership(cls, "B1").beta, 1 + w)
    assert same(membership(cls, "B2").gamma, 1) and same(membership(cls, "B2").beta, 1 + w)
    b3 = next(x for x in der if x.cls.name == "B3")
    assert same(b3.cls.delta, 1 / (1 - w)) and b3.condition == sp.StrictLessThan(w, 1)

    (d1,) = A.implied_classes(GenB1(a=1, b=2))
    assert same(d1.cls.gamma, a / b) and same(d1.cls.beta, b)
    (d2,) = A.implied_classes(GenB2(g=1, b=2))
    assert same(d2.cls.alpha, g**2) and same(d2.cls.beta, b)
    der3 = A.implied_classes(GenB3(t=2))
    assert same(membership([x.cls for x in der3], "B2").gamma, 1 / (2 * t))
    assert same(membership([x.cls for x in der3], "B2").beta, 2)
    assert same(membership([x.cls for x in der3], "B1").alpha, 1 / (4 * t**2))


def test_scaling_unbiased_by_inverse_zeta_gives_b3_zeta():
    s = A.scale(GenU(w=0.5), 1 / (1 + w))
    assert same(membership(s, "B3").delta, 1 + w)  # relation 3
    assert same(membership(s, "B1").alpha, 1 / (1 + w) ** 2)
    assert same(membership(s, "B1").beta, 1)
    assert same(membership(s, "B2").gamma, 1 / (1 + w))
    assert s.membership("U") is None  # scaled by c != 1 it is biased


def test_scaling_b2_and_b1_by_inverse_beta():
    assert same(membership(A.scale(GenB2(g=1, b=2), 1 / b), "B3").delta, b / g)  # rel. 6
    assert same(membership(A.scale(GenB1(a=1, b=2), 1 / b), "B3").delta, b**2 / a)  # rel. 7


def test_scaling_general_c_from_the_definitions():
    cls = A.scaled_class(GenU, "c")
    spec = cls(w=0.5, c=0.3)
    assert same(membership(spec, "B1").alpha, c**2)
    assert same(membership(spec, "B1").beta, c * (1 + w))
    assert same(membership(spec, "B2").gamma, c)
    assert same(membership(spec, "B2").beta, c * (1 + w))
    (cond,) = spec.conditional_classes()
    assert same(cond.cls.delta, 1 / (c * (2 - c * (1 + w))))
    # numerically: c (1 + w) = 0.45 < 2, so B3 enters numeric_classes with 1/(0.3*1.55)
    num = {m.name: m for m in spec.numeric_classes(8)}
    assert float(num["B3"].delta) == pytest.approx(1 / (0.3 * (2 - 0.45)))
    assert "B3" not in {m.name for m in cls(w=0.5, c=1.5).numeric_classes(8)}  # 1.5*1.5 > 2
    # plain scaling of B3: c <= 1 gives delta / c; both routes are combined with Min
    half = A.scale(GenB3(t=2), sp.Rational(1, 2))
    assert same(membership(half, "B3").delta, 2 * t)


def test_compose_unbiased_after_unbiased():
    spec = A.compose(GenU(w=0.5), GenV(v=0.25))
    assert same(membership(spec, "U").omega, (1 + w) * (1 + v) - 1)


def test_compose_after_topk_relation_9():
    spec = A.compose(GenU(w=0.5), TopK(k=4), support="k")
    d = A.D
    assert same(membership(spec, "B1").alpha, k / d) and same(membership(spec, "B1").beta,
                                                              1 + w)
    assert same(membership(spec, "B2").gamma, k / d) and same(membership(spec, "B2").beta,
                                                              1 + w)
    assert spec.membership("U") is None
    con = A.contractive(spec)  # scaled by 1/zeta
    assert same(membership(con, "B3").delta, (1 + w) * d / k)
    # Q's constant is taken at the dimension it acts on: U(d) on k values -> zeta = 1 + k
    spec_d = A.compose(GenUd(), TopK(k=4), support="k")
    assert same(membership(spec_d, "B1").beta, 1 + k)
    assert same(spec_d.bits(), k * sp.ceiling(sp.log(d, 2)) + 32 * k)


def test_scaled_randk_equals_unscaled_randk():
    """(k/d) * rand-k is unscaled rand-k: the derived classes equal the catalog's."""
    derived = A.contractive(make("randk", k=4))
    catalog = make("randk_unscaled", k=4)
    for m in catalog.classes():
        got = membership(derived, m.name)
        for name, val in m.constants().items():
            assert same(got.constants()[name], val), (m.name, name)


# --------------------------------------------------------------------------- codecs
def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_scaled_codec_matches_apply():
    spec = A.scale(make("randk", k=3), sp.Rational(1, 4))
    x = torch.randn(5, 12, generator=_gen(0), dtype=torch.float64)
    out = spec.decode(spec.encode(x, _gen(1)))
    assert torch.equal(out, spec.apply(x, _gen(1)))
    assert torch.equal(out, make("randk", k=3).apply(x, _gen(1)) * 0.25)
    assert spec.encode(x, _gen(1)).nbits == spec.numeric_bits(12) * 5


def test_composed_codec_matches_apply_and_bit_formula():
    spec = A.compose(Natural(), TopK(k=3), support="k")
    x = torch.randn(4, 16, generator=_gen(2), dtype=torch.float32)
    p = spec.encode(x, _gen(3))
    out = spec.decode(p)
    assert torch.equal(out, spec.apply(x, _gen(3)))
    assert p.nbits == spec.numeric_bits(16) * 4 == (3 * 4 + 9 * 3) * 4
    assert int((out != 0).sum(-1).max()) <= 3
    # the same as natural compression of the k kept values, scattered back
    idx = torch.topk(x.abs(), 3, dim=-1).indices
    kept = torch.zeros_like(x).scatter(-1, idx, x.gather(-1, idx))
    assert torch.equal((out != 0), (kept != 0))
    ratio = (out[out != 0] / kept[kept != 0]).abs()
    assert bool(((ratio > 0.49) & (ratio < 2.01)).all())  # rounding to a neighbouring 2^e

    full = A.compose(Natural(), make("randk", k=5))  # Q on the whole vector
    p2 = full.encode(x, _gen(4))
    assert torch.equal(full.decode(p2), full.apply(x, _gen(4)))
    assert p2.nbits == 9 * 16 * 4


@pytest.mark.parametrize(("name", "params"), [("topk_qsgd", {"k": 8, "s": 4}),
                                               ("topk_natural_dithering", {"k": 8, "s": 3})])
def test_catalog_composed_entries_round_trip(name, params):
    spec = make(name, **params)
    x = torch.randn(3, 64, generator=_gen(8))
    p = spec.encode(x, _gen(9))
    assert torch.equal(spec.decode(p), spec.apply(x, _gen(9)))
    assert p.nbits == spec.numeric_bits(64) * 3


# --------------------------------------------------------------------------- certification
@pytest.mark.parametrize("build", [
    lambda: A.contractive(make("randk", k=4)),
    lambda: A.compose(Natural(), TopK(k=4), support="k"),
    lambda: A.contractive(A.compose(Natural(), TopK(k=4), support="k")),
    lambda: A.scale(TopK(k=4), sp.Rational(1, 2)),
    lambda: A.compose(Natural(), make("randk", k=4)),
], ids=["contractive-randk", "topk-natural", "contractive-topk-natural", "half-topk",
        "randk-natural"])
def test_derived_specs_are_certified(build):
    spec = build()
    rep = certify(spec, d=16, n_samples=300, seed=11)
    assert rep.status == Status.HOLDS, [x.summary() for x in rep.constants]
    assert {x.cls for x in rep.constants} >= {m.name for m in spec.classes()}


# --------------------------------------------------------------------------- errors
def test_bad_scale_and_compose_inputs():
    with pytest.raises(InputError, match="must be > 0"):
        A.scale(TopK(k=2), -1)
    with pytest.raises(InputError, match="not a number"):
        A.scale(TopK(k=2), object())
    with pytest.raises(AssumptionError, match="unbiased outer"):
        A.compose(make("scaled_sign"), make("randk", k=3))
    bad = A.compose(Natural(), make("randk", k=4), support=1)
    with pytest.raises(InputError, match="more than the support"):
        bad.apply(torch.randn(2, 8, dtype=torch.float64), _gen(0))

    class OtherK(GenU):
        name = "t_other_k"
        params = (Param("k", float, minimum=0.5),)

    with pytest.raises(InputError, match="different definitions"):
        A.composed_class(OtherK, TopK)


def test_symbolic_spec_derives_but_refuses_to_run():
    """A SymbolicSpec has classes (so an SDE or a rule can use it) but no codec: encoding or
    decoding raises one AssumptionError line instead of a NotImplementedError."""
    spec = GenU(w=0.5)
    assert spec.omega().subs(spec.substitutions()) == sp.Rational(1, 2)
    for run in (lambda: spec.encode(torch.ones(3)), lambda: spec.decode(None),
                lambda: spec.apply(torch.ones(3))):
        with pytest.raises(AssumptionError, match="symbolic only"):
            run()


def test_text_factors_go_through_the_safe_parser():
    """A support or scale factor given as text is parsed by theorykit.expr (never sympify):
    code is refused in one line, a plain formula in the spec's symbols is accepted."""
    with pytest.raises(InputError, match="not allowed in a formula"):
        A.compose(Natural(), TopK(k=4), support='__import__("os")')
    with pytest.raises(InputError, match="scale factor"):
        A.scale(make("randk", k=3), "k.__class__")
    spec = A.compose(Natural(), TopK(k=4), support="k")
    assert spec.support_dim(16) == 4
