r"""Hyperparameter scaling rules, found by SymPy from the SDE of a method.

A scaling rule says how to change the learning rate when the number of workers, the batch
size or the compression change, so that training *per sample seen* is unchanged. Write the
changes as

.. math:: \eta \to \kappa\eta,\qquad B \to \delta B,\qquad N \to \alpha N,\qquad
   \omega \to \omega' .

**Time variable.** The SDEs of :mod:`theorykit.sde` run in SDE time :math:`t = k\eta`
(k steps). After k steps :math:`s = kNB` samples have been seen, so
:math:`t = \eta s/(NB)` and, with :math:`dX = b\,dt + \sqrt\eta\,\Sigma^{1/2}dW_t`,

.. math:: dX = \underbrace{\frac{\eta}{NB}\,b}_{b_s}\,ds
   + \Big(\underbrace{\frac{\eta^2}{NB}\,\Sigma}_{\Sigma_s}\Big)^{1/2} dW_s .

Two runs see the same law of :math:`X` as a function of samples seen iff their per-sample
drift :math:`b_s` and per-sample diffusion :math:`\Sigma_s` coincide. :func:`derive_rules`
derives the SDE at :math:`(\eta, B, N, \omega)` and at :math:`(\kappa\eta, \delta B,
\alpha N, \omega')` with :func:`theorykit.sde.derive`, writes both per sample, turns
":math:`b_s' = b_s` and :math:`\Sigma_s' = \Sigma_s` for every gradient and noise scale"
into coefficient equations (rational entries: coefficients of the numerator; erf/₂F₁
entries: Taylor coefficients, the solution then re-checked on the full expressions) and
solves them with ``sympy.solve`` for the learning-rate factor κ (and, when κ alone cannot
do it, for the factors the rule has to pin, such as δ = 1).

Where exact invariance is impossible, the rule preserves *named quantities* only (the time
scale = drift per sample, the batch-noise and compression parts of the diffusion, the
stationary loss on a quadratic from :mod:`theorykit.rules.stationary`) and says which it
preserves and which it breaks, with the factor. Nothing here is typed in: the forms below
are what the solver returns (and ``tests/test_scaling.py`` re-derives them).

Results (*derived* by this module; compare sde_papers.md §2.3(e)):

* DSGD: :math:`\kappa = \alpha\delta` (linear scaling in the total batch NB), exact.
* DCSGD, any unbiased compressor :math:`\mathcal C \in U(\omega)`: exact only with
  :math:`\delta = 1, \omega' = \omega`, then :math:`\kappa = \alpha`. With
  :math:`\delta \ne 1` the DSGD rule :math:`\kappa = \alpha\delta` keeps the time scale,
  the batch noise and the leading-order stationary loss but multiplies the compression
  term :math:`\omega\|\nabla f\|^2` per sample by δ. Changing ω: no exact rule;
  :math:`\kappa = \alpha\delta(1+\omega)/(1+\omega')` keeps the leading-order stationary
  loss but slows the time scale by :math:`(1+\omega)/(1+\omega')`, the (1+ω) structure the
  paper's rule is recalled to have (sde_papers.md §2.3(e) [R]). From ω = 0 to ω' > 0 exact
  matching is impossible (the multiplicative term has no counterpart).
* DSignSGD (Gaussian or Student-t noise): exact only with δ = 1, then κ = α. In the
  Phase-3 (small-gradient) linearisation :math:`\kappa = \alpha\sqrt\delta` — the
  square-root rule of the digest [D] and, as recalled, of the paper's poster ("for
  DSignSGD it is enough to ensure that ... to preserve the performance", Compagnoni et al.,
  AISTATS 2025 [recalled]); it does not depend on the tail index ν. In Phase 1 (noise
  negligible) the linear rule :math:`\kappa = \alpha\delta` holds instead.

Provenance: that such rules exist is stated in the abstract of Compagnoni, Islamov,
Proske & Lucchi, AISTATS 2025 (*read*); the SDEs are the paper's as *recalled*; every
rule's form is *derived* here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import sympy as sp

from theorykit.errors import AssumptionError, DerivationError, InputError

__all__ = [
    "ALPHA",
    "DELTA",
    "KAPPA",
    "LAMBDA",
    "OMEGA",
    "OMEGA_NEW",
    "TIME_VARIABLE",
    "ScalingRule",
    "derive_rules",
    "per_sample",
]

KAPPA = sp.Symbol("kappa", positive=True)
"""Learning-rate factor: η -> κη."""
DELTA = sp.Symbol("delta", positive=True)
"""Per-worker batch-size factor: B -> δB."""
ALPHA = sp.Symbol("alpha", positive=True)
"""Worker-count factor: N -> αN."""
OMEGA = sp.Symbol("omega", nonnegative=True)
"""Compression constant before the change (C in U(ω))."""
OMEGA_NEW = sp.Symbol("omega'", nonnegative=True)
"""Compression constant after the change (ω -> ω')."""
LAMBDA = sp.Symbol("lambda", positive=True)
"""Curvature of the quadratic f = λx²/2 on which stationary losses are compared."""

TIME_VARIABLE = ("samples seen s = k*N*B (k steps, N workers, per-worker batch B); SDE time "
                 "t = k*eta = eta*s/(N*B); per sample: drift b_s = eta*b/(N*B), diffusion "
                 "covariance Sigma_s = eta^2*Sigma/(N*B)")

FACTORS = (KAPPA, DELTA, ALPHA, OMEGA_NEW)
_FACTOR_WORDS = {KAPPA: "learning rate", DELTA: "per-worker batch size",
                 ALPHA: "number of workers", OMEGA_NEW: "compression constant"}

Kind = Literal["exact", "regime", "nearest", "none"]


# =========================================================================== the rule
@dataclass
class ScalingRule:
    r"""One scaling rule (see the module doc).

    ``kind``: ``"exact"`` (the whole SDE per sample is preserved), ``"regime"`` (exact for
    the SDE in a named regime, e.g. DSignSGD's Phase-3 linearisation), ``"nearest"`` (no
    exact rule exists for the requested change; named quantities are preserved) or
    ``"none"`` (no rule at all; ``words`` says why). ``solution`` maps κ (and any factor the
    rule pins, e.g. δ -> 1) to its value; ``equation`` is ``Eq(kappa, ...)``.
    """

    method: str
    kind: Kind
    name: str
    equation: sp.Eq | None
    solution: dict[sp.Symbol, sp.Expr]
    words: str
    preserves: list[str] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    regime: str = "all phases"
    conditions: list[sp.Eq] = field(default_factory=list)
    """The invariance conditions that were solved (e.g. ``Eq(kappa/(alpha*delta), 1)``)."""
    pinned: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    """Factors other than κ that the rule fixes (e.g. ``{delta: 1}``)."""
    omega_values: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    """What ω and ω' are for the compressors involved (e.g. ``{omega: 1/p - 1}``)."""
    time_variable: str = TIME_VARIABLE
    residual_fn: Callable[[], list[sp.Expr]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ presentation
    def latex(self) -> str:
        """The rule as LaTeX: ``\\kappa = ...`` and the pinned factors."""
        if self.equation is None:
            return r"\text{no rule}"
        names = {OMEGA_NEW: r"\omega'"}
        parts = [sp.latex(self.equation, symbol_names=names)]
        parts += [sp.latex(sp.Eq(k, v), symbol_names=names) for k, v in self.pinned.items()]
        return r",\quad ".join(parts)

    def text(self) -> str:
        """The rule as a plain-text equation."""
        if self.equation is None:
            return "no rule"
        parts = [f"kappa = {sp.sstr(self.equation.rhs)}"]
        parts += [f"{k.name} = {sp.sstr(v)}" for k, v in self.pinned.items()]
        return ",  ".join(parts)

    def pretty(self) -> str:
        """Equation, words, what it preserves and breaks, assumptions."""
        out = [f"[{self.kind}] {self.name}"]
        if self.equation is not None:
            out.append(f"  {self.text()}")
        out.append(f"  {self.words}")
        if self.preserves:
            out.append("  preserves: " + "; ".join(self.preserves))
        if self.breaks:
            out.append("  breaks:    " + "; ".join(self.breaks))
        out.append(f"  regime:    {self.regime}")
        for a in self.assumptions:
            out.append(f"  assumes:   {a}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kind": self.kind,
            "name": self.name,
            "equation": self.text(),
            "latex": self.latex(),
            "solution": {k.name: sp.sstr(v) for k, v in self.solution.items()},
            "pinned": {k.name: sp.sstr(v) for k, v in self.pinned.items()},
            "words": self.words,
            "preserves": list(self.preserves),
            "breaks": list(self.breaks),
            "regime": self.regime,
            "assumptions": list(self.assumptions),
            "conditions": [sp.sstr(c) for c in self.conditions],
            "omega_values": {k.name: sp.sstr(v) for k, v in self.omega_values.items()},
            "time_variable": self.time_variable,
        }

    def __repr__(self) -> str:
        return f"ScalingRule({self.method}, {self.kind}: {self.text()})"

    # ------------------------------------------------------------------ numbers
    @property
    def kappa(self) -> sp.Expr | None:
        """κ as an expression (None for a ``"none"`` rule)."""
        return self.solution.get(KAPPA)

    def kappa_value(self, alpha: float = 1.0, delta: float = 1.0,
                    omega_new: float | None = None, **values: Any) -> float:
        """κ as a number for given factors (and values of ω or of compressor parameters
        such as ``p``). Raises :class:`InputError` when the factors violate a pinned one
        (e.g. δ != 1 for a rule that needs δ = 1) or when a value is missing."""
        if self.kappa is None:
            raise InputError(f"{self.method}: no scaling rule here ({self.words})")
        by_name: dict[str, Any] = {"alpha": alpha, "delta": delta, **values}
        if omega_new is not None:
            by_name["omega'"] = omega_new
        for om, expr in self.omega_values.items():
            if om.name not in by_name:
                by_name[om.name] = _xreplace_by_name(expr, by_name)
        for k, v in self.pinned.items():
            if k.name not in by_name:
                continue
            want = _xreplace_by_name(v, by_name)
            have = sp.sympify(by_name[k.name])
            if want.free_symbols or have.free_symbols:
                continue  # cannot decide without numbers
            if abs(float(want) - float(have)) > 1e-9 * max(1.0, abs(float(want))):
                raise InputError(f"this rule ({self.name}) needs {k.name} = {sp.sstr(v)}, "
                                 f"got {k.name} = {float(have):g}")
        val = _xreplace_by_name(self.kappa, by_name)
        if val.free_symbols:
            missing = ", ".join(sorted(s.name for s in val.free_symbols))
            raise InputError(f"kappa = {sp.sstr(self.kappa)} needs a value for {missing}")
        out = float(val)
        if not math.isfinite(out) or out <= 0:
            raise InputError(f"kappa = {out} is not a positive finite number here")
        return out

    def apply(self, eta: float, batch: int, n_workers: int, alpha: float = 1.0,
              delta: float = 1.0, omega_new: float | None = None, **values: Any
              ) -> dict[str, float]:
        """New hyperparameters ``{"eta", "batch", "n_workers"}`` after the change."""
        k = self.kappa_value(alpha, delta, omega_new, **values)
        return {"eta": eta * k, "batch": batch * delta, "n_workers": n_workers * alpha}

    def residual(self) -> list[sp.Expr]:
        """The simplified differences (per-sample SDE after the change, with the rule
        substituted, minus the original) over the quantities the rule claims to preserve
        exactly: all zero for an exact or regime rule."""
        if self.residual_fn is None:
            return []
        return self.residual_fn()


def _xreplace_by_name(e: Any, values: Mapping[str, Any]) -> sp.Expr:
    """Substitute values given by symbol *name* (assumptions on symbols may differ)."""
    e = sp.sympify(e)
    return e.xreplace({s: sp.sympify(values[s.name]) for s in e.free_symbols
                       if s.name in values})


# =========================================================================== per sample
def per_sample(sde: Any, n_workers: sp.Expr, batch: sp.Expr) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Drift and diffusion covariance of ``sde`` per sample seen:
    :math:`b_s = \eta b/(NB)`, :math:`\Sigma_s = \eta^2\Sigma/(NB)` (see the module doc)."""
    lr = sp.sympify(sde.lr)
    nb = sp.sympify(n_workers) * sp.sympify(batch)
    return sde.drift * (lr / nb), sde.diffusion_cov * (lr**2 / nb)


# =========================================================================== setup
@dataclass
class _Setup:
    method: str                      # dsgd | dcsgd | dsignsgd
    noise: Any                       # symbolic NoiseModel
    omega: sp.Expr                   # 0 or OMEGA
    omega_new: sp.Expr | None        # None (same method), OMEGA_NEW or a value
    omega_values: dict[sp.Symbol, sp.Expr]
    labels: dict[str, str]
    sign: bool
    assumptions: list[str]
    no_sde: str = ""
    spec: Any = None


def _noise(noise: Any, nu: Any) -> Any:
    from theorykit.noise import Gaussian, NoiseModel, StudentT

    if isinstance(noise, NoiseModel):
        if not isinstance(noise, Gaussian | StudentT):
            raise InputError(f"scaling rules support gaussian and student-t noise, got "
                             f"{noise.name}")
        if noise.heterogeneous:
            raise InputError("scaling rules assume homogeneous workers; give one noise scale "
                             "for all workers")
        return noise
    key = str(noise).lower().replace("_", "-")
    if key in ("gaussian", "normal"):
        if nu is not None:
            raise InputError("nu is a Student-t parameter; use --noise student-t")
        return Gaussian(sigma="sigma")
    if key in ("student-t", "t", "studentt", "cauchy"):
        return StudentT(nu=1 if key == "cauchy" and nu is None else ("nu" if nu is None
                                                                      else nu), scale="s")
    raise InputError(f"unknown noise {noise!r} for scaling rules; use gaussian or student-t")


def _omega_of(c: Any, prime: bool) -> tuple[sp.Expr, str]:
    """(ω expression, label) of a compressor given as a spec, a catalog name, an omega
    number/symbol or "omega"; parameters not given stay symbolic (primed for the target)."""
    from theorykit.compressors.base import CompressorSpec
    from theorykit.compressors.registry import make

    if isinstance(c, str) and c.startswith("omega"):
        return (OMEGA_NEW if prime else OMEGA), c
    if isinstance(c, str):
        c = make(c)
    if isinstance(c, type) and issubclass(c, CompressorSpec):
        raise InputError(f"pass a compressor instance, not the class {c.__name__}")
    if isinstance(c, CompressorSpec):
        om = sp.sympify(c.omega())  # AssumptionError if biased
        om = om.xreplace({k: sp.sympify(v) for k, v in c.substitutions().items()})
        if prime:
            om = om.xreplace({s: sp.Symbol(s.name + "'", **s.assumptions0)
                              for s in om.free_symbols})
        return sp.nsimplify(om) if om.is_Float else om, f"{c.name}{_vals(c)}"
    if isinstance(c, int | float | sp.Basic):
        v = sp.sympify(c)
        if v.is_number and (v < 0 or not v.is_finite):
            raise InputError(f"omega must be finite and >= 0, got {c!r}")
        return (sp.nsimplify(v) if v.is_Float else v), f"U({sp.sstr(v)})"
    raise InputError(f"not a compressor: {c!r}")


def _vals(c: Any) -> str:
    vals = ", ".join(f"{k}={v}" for k, v in c.values.items())
    if c.d is not None:
        vals = f"{vals}, d={c.d}" if vals else f"d={c.d}"
    return f"({vals})" if vals else ""


def _setup(method: str, compressor: Any, noise: Any, to_compressor: Any, nu: Any) -> _Setup:
    key = str(method).lower().replace("-", "").replace("_", "")
    if key not in ("dsgd", "dcsgd", "dsignsgd"):
        raise InputError(f"unknown method {method!r}; scaling rules know dsgd, dcsgd, dsignsgd")
    nz = _noise(noise, nu)
    labels = {"noise": f"{nz.name} ({nz.describe_params()})"}
    assumptions = ["homogeneous workers (same noise law and compressor on every worker)",
                   "the SDE is an order-1 weak approximation (small eta); rules are exact "
                   "for the SDE, the discrete method follows up to O(eta)"]
    omega_values: dict[sp.Symbol, sp.Expr] = {}
    omega: sp.Expr = sp.Integer(0)
    omega_new: sp.Expr | None = None
    spec: Any = None
    if key == "dsignsgd":
        if compressor is not None or to_compressor is not None:
            raise InputError("dsignsgd takes no compressor (its sign is the compression)")
        return _Setup(key, nz, omega, None, omega_values, labels, True, assumptions)
    if key == "dsgd" and compressor is not None:
        raise InputError("dsgd takes no compressor; use --method dcsgd, or --to-compressor "
                         "to move from DSGD to DCSGD")
    if key == "dcsgd":
        if compressor is None:
            raise InputError("dcsgd needs a compressor (catalog name, module:Object or omega)")
        om, lab = _omega_of(compressor, prime=False)
        labels["compressor"] = lab
        spec = compressor
        omega = OMEGA
        omega_values[OMEGA] = om
        assumptions.append(f"{lab} is unbiased with omega = {sp.sstr(om)}; the compressor "
                           "enters the rules through omega (its variance bound attained: the "
                           "trace form of Theorem 1); omega > 0")
    if to_compressor is not None:
        om2, lab2 = _omega_of(to_compressor, prime=True)
        labels["to_compressor"] = lab2
        omega_new = OMEGA_NEW  # kept symbolic in the derivation; its value is recorded
        if om2 != OMEGA_NEW:
            omega_values[OMEGA_NEW] = om2
        assumptions.append(f"after the change the compressor is {lab2} with omega' = "
                           f"{sp.sstr(om2)}")
    elif key == "dcsgd":
        omega_new = OMEGA_NEW
    if isinstance(nz.nu if hasattr(nz, "nu") else None, sp.Basic):
        nuv = nz.nu
        if nuv.is_number and nuv <= 2:
            st = _Setup(key, nz, omega, omega_new, omega_values, labels, False, assumptions)
            st.no_sde = (f"{key.upper()}'s SDE needs finite noise variance; Student-t noise "
                         f"with nu = {sp.sstr(nuv)} <= 2 has infinite variance, so there is no "
                         "SDE and no SDE scaling rule (DSignSGD's SDE exists for every nu)")
            return st
        assumptions.append(f"Student-t nu = {sp.sstr(nuv)} > 2 (finite variance)")
    return _Setup(key, nz, omega, omega_new, omega_values, labels, False, assumptions,
                  spec=spec)


# =========================================================================== SDE pair
def _derive_pair(st: _Setup) -> tuple[Any, Any]:
    """The original SDE at (eta, B, N, omega) and the changed one at
    (kappa*eta, delta*B, alpha*N, omega') for a generic gradient in R^1."""
    from theorykit.methods import DCSGD, DSGD, DSignSGD, GenericUnbiased
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL, derive
    from theorykit.sde.sde import ETA

    def method(om: sp.Expr | None) -> Any:
        if st.sign:
            return DSignSGD()
        if om is None or om == 0:
            return DSGD()
        return DCSGD(GenericUnbiased(om))

    new_om = st.omega_new if st.omega_new is not None else st.omega
    s0 = derive(method(st.omega), None, st.noise, 1)
    s1 = derive(method(new_om), None, st.noise, 1, n_workers=ALPHA * N_SYMBOL,
                batch=DELTA * B_SYMBOL, lr_symbol=KAPPA * ETA)
    return s0, s1


# =========================================================================== quantities
@dataclass
class _Quantity:
    key: str
    name: str
    pairs: list[tuple[sp.Expr, sp.Expr]]
    """(original, changed) expressions that must agree identically in the generators."""
    ratio: sp.Expr | None = None
    """changed/original when it is free of the generators (a scalar factor)."""
    series: bool = False


def _quantities(st: _Setup, s0: Any, s1: Any) -> dict[str, _Quantity]:
    from theorykit.noise import Gaussian
    from theorykit.rules.stationary import stationary_sde
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL

    g = s0.grad_symbols[0]
    b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
    b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, DELTA * B_SYMBOL)
    b0, c0, b1, c1 = b0[0], c0[0], b1[0], c1[0]
    q: dict[str, _Quantity] = {}
    q["sde"] = _Quantity("sde", "the whole SDE per sample seen (drift and diffusion)",
                         [(b0, b1), (c0, c1)], series=st.sign)

    def ratio(a: sp.Expr, b: sp.Expr) -> sp.Expr | None:
        if a == 0:
            return None
        r = sp.simplify(b / a)
        return r if not r.has(g) else None

    if not st.sign:
        q["time"] = _Quantity("time", "time scale (drift per sample seen)", [(b0, b1)],
                              ratio(b0, b1))
        a0, a1 = c0.subs(g, 0), c1.subs(g, 0)
        q["batch"] = _Quantity("batch", "batch-noise diffusion per sample (the sigma^2/B part)",
                               [(a0, a1)], ratio(a0, a1))
        m0 = sp.expand(sp.diff(c0, g, 2) / 2)
        m1 = sp.expand(sp.diff(c1, g, 2) / 2)
        if m0 != 0 or m1 != 0:
            q["compression"] = _Quantity(
                "compression", "compression diffusion per sample (the multiplicative "
                "omega*||grad f||^2 term)", [(m0, m1)], ratio(m0, m1))
        f0 = stationary_sde(s0, [[LAMBDA]]).loss
        f1 = stationary_sde(s1, [[LAMBDA]]).loss
        from theorykit.sde.sde import ETA

        l0 = sp.cancel(f0 / ETA).subs(ETA, 0)
        l1 = sp.cancel(f1 / ETA).subs(ETA, 0)
        q["floor0"] = _Quantity("floor0", "stationary loss on f = lambda*x^2/2, leading order "
                                "in eta", [(l0, l1)], ratio(l0, l1))
        q["floor"] = _Quantity("floor", "stationary loss on f = lambda*x^2/2, exact for every "
                               "curvature lambda", [(f0, f1)], ratio(f0, f1))
    else:
        s0_ = sp.diff(b0, g).subs(g, 0)
        s1_ = sp.diff(b1, g).subs(g, 0)
        d0, d1 = c0.subs(g, 0), c1.subs(g, 0)
        q["phase3"] = _Quantity(
            "phase3", "the Phase-3 (small-gradient, linearised) SDE per sample",
            [(s0_ * g, s1_ * g), (d0, d1)])
        q["time3"] = _Quantity("time3", "Phase-3 time scale (drift slope per sample)",
                               [(s0_, s1_)], ratio(s0_, s1_))
        q["diff3"] = _Quantity("diff3", "Phase-3 diffusion per sample", [(d0, d1)],
                               ratio(d0, d1))
        # Phase 1: noise negligible -> the method's moments at zero noise (sign(g) drift)
        from theorykit.methods import DSignSGD

        m0 = DSignSGD().moments([g], Gaussian(sigma=0), N_SYMBOL, B_SYMBOL).mean[0]
        m1 = DSignSGD().moments([g], Gaussian(sigma=0), ALPHA * N_SYMBOL,
                                DELTA * B_SYMBOL).mean[0]
        # sign(g) -> 1: the drift is odd in g, so g > 0 decides
        p0 = (-m0 * sp.sympify(s0.lr) / (N_SYMBOL * B_SYMBOL)).replace(sp.sign, lambda a: 1)
        p1 = (-m1 * sp.sympify(s1.lr) / (ALPHA * N_SYMBOL * DELTA * B_SYMBOL)).replace(
            sp.sign, lambda a: 1)
        q["phase1"] = _Quantity("phase1", "Phase-1 speed (SignGD drift per sample when "
                                "|grad f| >> noise)", [(p0, p1)], ratio(p0, p1))
        f0 = stationary_sde(s0, [[LAMBDA]], linearize=True).loss
        f1 = stationary_sde(s1, [[LAMBDA]], linearize=True).loss
        q["floor3"] = _Quantity("floor3", "stationary loss on f = lambda*x^2/2 (Phase-3 "
                                "linearisation)", [(f0, f1)], ratio(f0, f1))
    return q


def _generators(st: _Setup, s0: Any) -> list[sp.Symbol]:
    gens = list(s0.grad_symbols)
    for row in st.noise.scales.table:
        for e in row:
            gens += [s for s in e.free_symbols if s not in gens]
    return [*gens, LAMBDA]


def _core(c: sp.Expr) -> sp.Expr | None:
    """The part of a coefficient equation c = 0 that can vanish: factors free of the
    transformation factors, and powers of positive symbols, are dropped (nonzero)."""
    c = sp.factor(sp.sympify(c))
    if c == 0:
        return None
    if not c.has(*FACTORS):
        return sp.Integer(1)  # a nonzero constant: the condition can never hold
    try:
        _, facs = sp.factor_list(c)
    except sp.PolynomialError:  # not a polynomial in anything: keep it whole
        facs = [(c, 1)]
    keep = []
    for f, _p in facs:
        if not f.has(*FACTORS):
            continue
        if f.is_Symbol and f.is_positive:
            continue
        keep.append(f)
    if not keep:
        return sp.Integer(1)  # a nonzero constant: the condition can never hold
    return sp.Mul(*keep)


def _conditions(q: _Quantity, gens: list[sp.Symbol], series_order: int = 4) -> list[sp.Expr]:
    """Expressions (= 0) equivalent to 'changed == original for every value of the
    generators' (necessary conditions from Taylor coefficients for transcendental
    entries)."""
    out: list[sp.Expr] = []
    g = gens[0]
    for e0, e1 in q.pairs:
        diff = sp.sympify(e1) - sp.sympify(e0)
        if diff == 0:
            continue
        if q.series or not diff.is_rational_function(*gens):
            diff = sp.series(diff, g, 0, series_order).removeO()
        num = sp.numer(sp.together(sp.expand(diff)))
        num = sp.expand(num)
        if num == 0:
            continue
        present = [s for s in gens if num.has(s)]
        try:
            coeffs = sp.Poly(num, *present).coeffs() if present else [num]
        except sp.PolynomialError:
            coeffs = [num]
        for c in coeffs:
            k = _core(c)
            if k is not None and k not in out:
                out.append(k)
    return out


def _admissible(u: sp.Symbol, r: sp.Expr) -> bool:
    """κ, δ must be able to be positive, ω' nonnegative."""
    if r.has(sp.I) or r.is_real is False:
        return False
    if u in (KAPPA, DELTA):
        return r.is_nonpositive is not True
    if u == OMEGA_NEW:
        return r.is_negative is not True
    return True


def _sequential(conds: list[sp.Expr], unknowns: list[sp.Symbol],
                sol: dict[sp.Symbol, sp.Expr], depth: int = 0) -> list[dict[sp.Symbol, sp.Expr]]:
    """Solve the conditions one at a time (simplest first), substituting as we go."""
    pending = []
    for c in conds:
        k = _core(sp.simplify(c.xreplace(sol)))
        if k is None:
            continue
        if k == 1:
            return []  # a nonzero constant: inconsistent
        pending.append(k)
    if not pending:
        return [sol]
    if depth > 2 * len(unknowns) + 2:  # pragma: no cover - safety net
        return []
    for c in sorted(pending, key=sp.count_ops):
        for u in [u for u in unknowns if c.has(u) and u not in sol]:
            try:
                roots = sp.solve(c, u)
            except (NotImplementedError, ValueError):  # pragma: no cover
                continue
            out: list[dict[sp.Symbol, sp.Expr]] = []
            for r in roots:
                r = sp.simplify(r)
                if not _admissible(u, r):
                    continue
                new = {k: sp.simplify(v.xreplace({u: r})) for k, v in sol.items()}
                new[u] = r
                out += _sequential(conds, unknowns, new, depth + 1)
            if out:
                return out
        return []  # the simplest pending condition cannot be met with these unknowns
    return []


def _solve(conds: list[sp.Expr], unknowns: list[sp.Symbol]) -> dict[sp.Symbol, sp.Expr] | None:
    """A solution (positive κ, δ; ω' >= 0) of all conditions for the given unknowns (the
    other factors stay free), or None."""
    if not conds:
        return {}
    if any(c == 1 for c in conds):
        return None
    for sol in _sequential(conds, unknowns, {}):
        if all(sp.simplify(c.xreplace(sol)) == 0 for c in conds):
            return sol
    return None


def _residual(q: _Quantity, sol: Mapping[sp.Symbol, sp.Expr]) -> list[sp.Expr]:
    """Exact residuals (changed with the rule substituted minus original), simplified."""
    out = []
    for e0, e1 in q.pairs:
        r = sp.simplify(sp.sympify(e1).xreplace(dict(sol)) - e0)
        if r != 0:
            r = sp.simplify(sp.expand(r))
        out.append(r)
    return out


# =========================================================================== the search
def _unknown_sets(st: _Setup) -> list[list[sp.Symbol]]:
    sets = [[KAPPA], [KAPPA, DELTA]]
    if st.omega_new is not None:
        sets += [[KAPPA, OMEGA_NEW], [KAPPA, DELTA, OMEGA_NEW]]
    return sets


def _target_mismatch(st: _Setup, sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    """'' if a solution's pinned omega' is compatible with the requested target compressor,
    else why not (e.g. 'here omega = 1 and omega' = 3')."""
    if OMEGA_NEW not in sol or OMEGA_NEW not in st.omega_values:
        if OMEGA_NEW in sol and st.omega == 0 and st.omega_new is not None and \
                sp.simplify(sol[OMEGA_NEW]) == 0:
            return "it needs omega' = 0 (no compression after the change)"
        return ""
    want = sp.sympify(sol[OMEGA_NEW]).xreplace(
        {OMEGA: st.omega_values.get(OMEGA, st.omega)})
    have = st.omega_values[OMEGA_NEW]
    diff = sp.simplify(want - have)
    if diff == 0 or diff.free_symbols:
        return ""
    return (f"it needs omega' = {sp.sstr(sol[OMEGA_NEW])}, but here omega = "
            f"{sp.sstr(st.omega_values.get(OMEGA, st.omega))} and omega' = {sp.sstr(have)}")


def _describe_ratio(r: sp.Expr | None) -> str:
    if r is None:
        return "changes shape"
    return f"x {sp.sstr(sp.factor(r))}"


def _when_one(r: sp.Expr | None, free: list[sp.Symbol]) -> str:
    """' (unchanged only if omega' = omega)'-style note for a broken factor."""
    if r is None:
        return ""
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL
    from theorykit.sde.sde import ETA

    for s in free:
        if r.has(s):
            try:
                sol = sp.solve(sp.Eq(r, 1), s, dict=True)
            except NotImplementedError:  # pragma: no cover
                continue
            # only simple conditions (free of eta, lambda, N, B) are worth a note
            if sol and not any(x[s].has(ETA, LAMBDA, N_SYMBOL, B_SYMBOL) for x in sol):
                return " (unchanged only if " + " or ".join(
                    f"{s.name} = {sp.sstr(x[s])}" for x in sol) + ")"
    return ""


def _evaluate(qs: dict[str, _Quantity], conds: dict[str, list[sp.Expr]],
              sol: Mapping[sp.Symbol, sp.Expr], free: list[sp.Symbol]
              ) -> tuple[list[str], list[str]]:
    preserves, breaks = [], []
    for k, q in qs.items():
        if k == "sde":
            continue
        ok = all(sp.simplify(c.xreplace(dict(sol))) == 0 for c in conds[k])
        if ok and q.series:
            ok = all(r == 0 for r in _residual(q, sol))
        if ok:
            preserves.append(q.name)
        else:
            r = None if q.ratio is None else sp.simplify(q.ratio.xreplace(dict(sol)))
            if q.ratio is None and all(e0 == 0 for e0, _ in q.pairs):
                breaks.append(f"{q.name}: appears (absent before the change)")
            else:
                breaks.append(f"{q.name}: {_describe_ratio(r)}{_when_one(r, free)}")
    return preserves, breaks


def derive_rules(method: str, compressor: Any = None, noise: Any = "gaussian", *,
                 to_compressor: Any = None, nu: Any = None) -> list[ScalingRule]:
    r"""Scaling rules of ``method`` (``"dsgd" | "dcsgd" | "dsignsgd"``), derived by SymPy.

    * ``compressor`` (DCSGD): a :class:`~theorykit.compressors.base.CompressorSpec`, a
      catalog name (parameters left symbolic, e.g. ω = 1/p − 1), an ω (number/symbol) or
      ``"omega"``; any unbiased compressor (its ``omega()`` is used).
    * ``to_compressor``: the compressor after the change (ω -> ω' = its ω); with
      ``method="dsgd"`` this asks for the move from uncompressed DSGD to DCSGD. Without it
      DCSGD rules keep ω' as a free symbol.
    * ``noise``: ``"gaussian"`` (scale σ) or ``"student-t"`` (scale s, tail index ``nu``,
      symbolic unless given), or such a :class:`~theorykit.noise.NoiseModel`.

    Returns the exact rule if one exists (with the factors it pins), then regime rules
    (DSignSGD Phase 3 / Phase 1) and nearest rules for the changes the exact rule forbids;
    or a single ``kind="none"`` rule. Each rule says what it preserves and breaks.
    """
    key = (str(method), _key(compressor), _key(noise), _key(to_compressor), _key(nu))
    if key not in _CACHE:
        _CACHE[key] = _derive_rules(method, compressor, noise, to_compressor, nu)
    return [replace(r, preserves=list(r.preserves), breaks=list(r.breaks),
                    assumptions=list(r.assumptions), solution=dict(r.solution),
                    pinned=dict(r.pinned), conditions=list(r.conditions),
                    omega_values=dict(r.omega_values)) for r in _CACHE[key]]


_CACHE: dict[tuple, list[ScalingRule]] = {}


def _key(x: Any) -> str:
    from theorykit.compressors.base import CompressorSpec

    if isinstance(x, CompressorSpec):
        return f"{type(x).__module__}.{type(x).__qualname__}{x.values}{x.d}"
    return f"{type(x).__qualname__}:{x!r}"


def _derive_rules(method: Any, compressor: Any, noise: Any, to_compressor: Any, nu: Any
                  ) -> list[ScalingRule]:
    st = _setup(method, compressor, noise, to_compressor, nu)
    if st.no_sde:
        return _finish([ScalingRule(
            method=st.method, kind="none", name="no rule", equation=None, solution={},
            words=f"No scaling rule: {st.no_sde}.", assumptions=list(st.assumptions),
            regime="none", omega_values=dict(st.omega_values))], st)
    s0, s1 = _derive_pair(st)
    qs = _quantities(st, s0, s1)
    gens = _generators(st, s0)
    conds = {k: _conditions(q, gens) for k, q in qs.items()}
    free = [DELTA] + ([OMEGA_NEW] if st.omega_new is not None else [])
    m = st.method
    rules: list[ScalingRule] = []
    base_assumptions = [*st.assumptions, *[a for a in s0.assumptions
                                           if a not in st.assumptions]]

    # ---- exact: the whole per-sample SDE
    exact_sol, exact_set, mismatch = None, None, ""
    for unknowns in _unknown_sets(st):
        sol = _solve(conds["sde"], unknowns)
        if sol is not None and all(r == 0 for r in _residual(qs["sde"], sol)):
            mismatch = _target_mismatch(st, sol)
            if not mismatch:
                exact_sol, exact_set = sol, unknowns
            break
    seen: list[dict] = []
    if exact_sol is not None:
        rules.append(_make_rule(st, "exact", qs, conds, exact_sol, "sde", free,
                                base_assumptions, "all phases (the full SDE)"))
        note = _verify_on_spec(st, exact_sol)
        if note:
            rules[-1].assumptions.append(note)
        seen.append(exact_sol)
        if exact_set == [KAPPA]:
            return _finish(rules, st)
    pinned_text = _pinned_text(exact_sol) if exact_sol is not None else None
    impossible = _impossible_text(st, qs, conds, mismatch)

    # ---- regime rules (sign methods) and nearest rules
    if st.sign:
        candidates = [("phase3", "regime", "Phase 3: |d_j f| << noise scale/sqrt(B) "
                       "(small gradients; the linearisation of the sign mean)"),
                      ("phase1", "regime", "Phase 1: |d_j f| >> noise scale/sqrt(B) (noise "
                       "negligible; SignGD)")]
    else:
        candidates = [("time", "nearest", ""), ("floor0", "nearest", ""),
                      ("floor", "nearest", "")]
    for key, kind, regime in candidates:
        for unknowns in ([[KAPPA]] if key != "floor" else [[KAPPA], [KAPPA, DELTA]]):
            sol = _solve(conds[key], unknowns)
            if sol is None:
                continue
            if key == "phase3" and not all(r == 0 for r in _residual(qs[key], sol)):
                continue
            if any(_same(sol, s) for s in seen):
                break
            seen.append(sol)
            reg = regime or ("all phases; exact only for the named quantities it preserves")
            rule = _make_rule(st, kind, qs, conds, sol, key, free, base_assumptions, reg,
                              no_exact=pinned_text if exact_sol is not None else impossible)
            rules.append(rule)
            break
    if not rules:
        rules.append(ScalingRule(
            method=m, kind="none", name="no rule", equation=None, solution={},
            words="No scaling rule: " + impossible + ".",
            assumptions=base_assumptions, omega_values=dict(st.omega_values)))
    return _finish(rules, st)


def _verify_on_spec(st: _Setup, sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    """For DCSGD with a concrete compressor and a rule that keeps the compressor (ω' = ω),
    re-check the rule on the SDE built from the compressor's *own* conditional covariance
    (e.g. rand-k's off-diagonal terms), not only its omega: returns a note."""
    from theorykit.compressors.base import CompressorSpec
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL, derive
    from theorykit.sde.sde import ETA

    spec = st.spec
    if isinstance(spec, str) and not spec.startswith("omega"):
        from theorykit.compressors.registry import make

        spec = make(spec)
    if not isinstance(spec, CompressorSpec) or sp.simplify(
            sol.get(OMEGA_NEW, OMEGA) - OMEGA) != 0:
        return ""
    d = spec.d or 2
    for dd in ([d] if spec.d else [2, 3, 4]):
        try:
            s0 = derive("dcsgd", spec, st.noise, dd)
            s1 = derive("dcsgd", spec, st.noise, dd, n_workers=ALPHA * N_SYMBOL,
                        batch=sol.get(DELTA, DELTA) * B_SYMBOL,
                        lr_symbol=sol[KAPPA] * ETA)
        except (InputError, AssumptionError, DerivationError, TypeError, ValueError):
            continue
        b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
        b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, sol.get(DELTA, DELTA) * B_SYMBOL)
        res = [sp.simplify(e) for e in [*(b1 - b0), *(c1 - c0)]]
        if all(r == 0 for r in res):
            return (f"verified on {spec.name}'s own SDE (its exact conditional covariance, "
                    f"d = {dd}): per-sample residual 0")
        return (f"NOT exact on {spec.name}'s own SDE (d = {dd}): residual "
                f"{sp.sstr(next(r for r in res if r != 0))}")
    return f"not re-checked on {spec.name}'s own SDE (needs numeric parameters)"


def _same(a: Mapping, b: Mapping) -> bool:
    if set(a) != set(b):
        return False
    return all(sp.simplify(a[k] - b[k]) == 0 for k in a)


def _pinned_text(sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    pins = [k for k in (DELTA, OMEGA_NEW) if k in sol]
    if not pins:
        return ""
    neg = " or ".join(f"{k.name} != {sp.sstr(sol[k])}" for k in pins)
    need = " and ".join(f"{k.name} = {sp.sstr(sol[k])}" for k in pins)
    return f"when {neg}: exact matching of the SDE per sample needs {need}"


def _impossible_text(st: _Setup, qs: dict[str, _Quantity], conds: dict[str, list[sp.Expr]],
                     mismatch: str = "") -> str:
    """Why exact matching is impossible."""
    if st.omega == 0 and st.omega_new is not None:
        return ("exact SDE matching from omega = 0 to omega' > 0 is impossible: the "
                "multiplicative term omega'*||grad f||^2 has no counterpart without "
                "compression")
    if mismatch:
        return f"exact matching of the SDE per sample is impossible here: {mismatch}"
    allu = [KAPPA, DELTA] + ([OMEGA_NEW] if st.omega_new is not None else [])
    bad = [q.name for k, q in qs.items() if k not in ("sde", "floor")
           and _solve(conds[k], allu) is None]
    if bad:
        return "no choice of (kappa, delta) matches " + "; ".join(bad)
    return "the conditions for exact matching have no common solution"


def _make_rule(st: _Setup, kind: Kind, qs: dict[str, _Quantity],
               conds: dict[str, list[sp.Expr]], sol: dict[sp.Symbol, sp.Expr], key: str,
               free: list[sp.Symbol], assumptions: list[str], regime: str,
               no_exact: str | None = None) -> ScalingRule:
    preserves, breaks = _evaluate(qs, conds, sol, free)
    if kind in ("exact",):
        preserves = [qs["sde"].name, *preserves]
    kappa = sol.get(KAPPA, KAPPA)
    pinned = {k: sol[k] for k in (DELTA, OMEGA_NEW) if k in sol}
    name = _rule_name(st, kind, key, kappa, pinned)
    words = _words(st, kind, key, kappa, pinned, preserves, breaks, no_exact)
    q = qs[key]
    conditions = [sp.Eq(c, 0) for c in conds[key]]
    return ScalingRule(
        method=st.method, kind=kind, name=name, equation=sp.Eq(KAPPA, kappa),
        solution=dict(sol), words=words, preserves=preserves, breaks=breaks,
        assumptions=list(assumptions), regime=regime, conditions=conditions, pinned=pinned,
        omega_values=dict(st.omega_values),
        residual_fn=lambda q=q, sol=dict(sol): _residual(q, sol))


def _rule_name(st: _Setup, kind: Kind, key: str, kappa: sp.Expr, pinned: Mapping) -> str:
    if kappa == ALPHA * DELTA:
        base = "linear scaling rule"
    elif kappa == ALPHA * sp.sqrt(DELTA):
        base = "square-root scaling rule"
    elif kappa == ALPHA and pinned.get(DELTA) == 1:
        base = "worker-count rule (batch fixed)"
    else:
        base = "scaling rule"
    tag = {"exact": "exact", "regime": {"phase3": "Phase 3", "phase1": "Phase 1"}.get(key, key),
           "nearest": {"time": "preserves the time scale",
                       "floor0": "preserves the stationary loss (leading order)",
                       "floor": "preserves the stationary loss exactly"}.get(key, key),
           "none": "none"}[kind]
    return f"{base} ({tag})"


def _words(st: _Setup, kind: Kind, key: str, kappa: sp.Expr, pinned: Mapping,
           preserves: list[str], breaks: list[str], no_exact: str | None) -> str:
    change = "when the number of workers is multiplied by alpha and the per-worker batch by " \
             "delta"
    if DELTA in pinned:
        change = "when the number of workers is multiplied by alpha"
    if st.omega_new is not None and OMEGA_NEW not in pinned:
        change += " and the compression constant becomes omega'"
    act = f"multiply the learning rate by kappa = {sp.sstr(kappa)} {change}"
    pins = []
    for k, v in pinned.items():
        what = _FACTOR_WORDS.get(k, k.name)
        if k == DELTA and v == 1:
            pins.append("keep the per-worker batch size fixed (delta = 1)")
        elif k == OMEGA_NEW and v == OMEGA:
            pins.append("keep the compression fixed (omega' = omega)")
        else:
            pins.append(f"set the {what} factor {k.name} = {sp.sstr(v)}")
    pin_txt = ("; " + " and ".join(pins)) if pins else ""
    keep = "; ".join(preserves) if preserves else "nothing named"
    lost = "; ".join(b.split(": ", 1)[0] for b in breaks) if breaks else "nothing named"
    if kind == "exact":
        tail = ("" if not pins else " No other choice preserves the whole SDE per sample.")
        return (f"Exact: {act}{pin_txt}. Then the SDE written per sample seen is unchanged, so "
                f"loss curves against samples seen coincide (up to the O(eta) error of the "
                f"SDE).{tail}")
    if kind == "regime":
        where = ("Phase 3 (small gradients)" if key == "phase3"
                 else "Phase 1 (large gradients, noise negligible)")
        return (f"In {where}: {act}{pin_txt}. It preserves {keep}; it does not preserve "
                f"{lost} (factors under 'breaks').")
    if no_exact and no_exact.startswith("when "):
        head = f"No exact rule {no_exact}. "
    else:
        head = f"No exact rule: {no_exact}. " if no_exact else "No exact rule. "
    return (f"{head}Nearest rule: {act}{pin_txt}. It preserves {keep}; but not {lost} "
            "(factors under 'breaks').")


def _finish(rules: list[ScalingRule], st: _Setup) -> list[ScalingRule]:
    nums = {k: v for k, v in st.omega_values.items() if sp.sympify(v).is_number}
    for r in rules:
        if nums and r.kappa is not None and r.kappa.has(*nums):
            vals = ", ".join(f"{k.name} = {sp.sstr(v)}" for k, v in nums.items())
            r.words += (f" Here {vals}: kappa = "
                        f"{sp.sstr(sp.simplify(r.kappa.xreplace(nums)))}.")
        for k, v in st.labels.items():
            note = f"{k}: {v}"
            if note not in r.assumptions:
                r.assumptions.insert(0, note)
    return rules


def rules_by_kind(rules: list[ScalingRule], kind: Kind, key: str | None = None
                  ) -> ScalingRule:
    """The first rule of ``kind`` (and whose name contains ``key``); InputError if none."""
    for r in rules:
        if r.kind == kind and (key is None or key in r.name):
            return r
    raise InputError(f"no {kind} rule{'' if key is None else f' ({key})'} among "
                     f"{[r.name for r in rules]}")
