"""Linear rates of single-node compressed gradient descent (CGD), derived in SymPy.

Setting (Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023, Section 3 "CGD" [class definitions *recalled*; the rates
below are *derived* by this module]): ``f`` is ``L``-smooth and satisfies the PL
inequality ``||∇f(x)||² >= 2 μ (f(x) - f*)``, and

.. math::  x^{k+1} = x^k - \\eta\\, \\mathcal C^k(\\nabla f(x^k)).

The derivation is carried out symbolically, one inequality at a time, on the four scalar
unknowns of one step (``g = ∇f(x)``, ``C = C(g)``)::

    G = ||g||²,   I = <g, E C>,   S = E||C||²,   E = E||C - g||²,   R = f(x) - f*.

1. Descent lemma in expectation: ``E f(x⁺) - f(x) <= -η I + (L η²/2) S``.
2. The class inequalities, each replacing one unknown by its bound. A lower bound may
   replace a variable only where its coefficient is ``<= 0`` and an upper bound only
   where it is ``>= 0``: each such sign requirement is a condition on ``η`` that SymPy
   solves, which yields the admissible step sizes (the *cap*).
3. PL, ``G >= 2 μ R``, turns the bound into ``E f(x⁺) - f* <= ρ(η) R``.
4. The optimal step minimises ``ρ(η)`` on ``(0, cap]`` (``sympy.diff`` + ``solve``, or
   the end point when ``ρ`` is monotone).

Results (checked against the closed forms of the digest ``docs/theory/compression_papers.md``
§1.3 in ``tests/test_rates.py``):

=========  ==============  ============================  ================  ===============
class      cap on η        ρ(η)                          optimal η         ρ at optimum
=========  ==============  ============================  ================  ===============
B1(α,β)    2/(βL)          1 - (α/β) μ η (2 - η β L)     1/(βL)            1 - α μ/(β² L)
B2(γ,β)    2/(βL)          1 - γ μ η (2 - η β L)         1/(βL)            1 - γ μ/(β L)
B3(δ)      1/L             1 - μ η/δ                     1/L               1 - μ/(δ L)
U(ω)       2/((1+ω)L)      1 - μ η (2 - η (1+ω) L)       1/((1+ω)L)        1 - μ/((1+ω)L)
=========  ==============  ============================  ================  ===============

The identical-iterates observation (digest §1.3, *derived*): for ``C ∈ U(ζ)`` (``ζ =
1 + ω``), ``x - η C(g) = x - (ζη)(C(g)/ζ)`` and ``C/ζ ∈ B3(ζ)``; at the natural steps
``η = 1/(ζL)`` and ``ζη = 1/L`` the two derived rates coincide: ``1 - μ/(ζL)``
(:func:`identical_iterates`).

The module also derives the DCGD divergence counterexample (recalled as the paper's
Example 1; :func:`dcgd_counterexample`): the growth factor of distributed CGD with top-1 on
``f_i(x) = <a_i, x>² + ||x||²/4`` is computed from the problem, not typed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.classes import CompressorClass, SignType
from theorykit.errors import AssumptionError, DerivationError, InputError
from theorykit.symbols import ALPHA_B1 as ALPHA
from theorykit.symbols import BETA_B12 as BETA
from theorykit.symbols import DELTA_B3 as DELTA
from theorykit.symbols import ETA, MU, OMEGA
from theorykit.symbols import GAMMA_B2 as GAMMA
from theorykit.symbols import GRAD_SQ as G
from theorykit.symbols import L_SMOOTH as L
from theorykit.validate import finite_float

# --------------------------------------------------------------------------- symbols
INNER = sp.Symbol("I", real=True)
"""<∇f(x), E C(∇f(x))>"""
SQ = sp.Symbol("S", nonnegative=True)
"""E||C(∇f(x))||²"""
ERR = sp.Symbol("E", nonnegative=True)
"""E||C(∇f(x)) - ∇f(x)||²"""
R = sp.Symbol("R", nonnegative=True)
"""f(x) - f*"""

# ETA, MU, L (smoothness), G (||∇f(x)||²) and the class constants ALPHA, BETA, GAMMA, DELTA,
# OMEGA are those of theorykit.symbols (imported above).

CLASS_SYMBOLS: dict[str, dict[str, sp.Symbol]] = {
    "B1": {"alpha": ALPHA, "beta": BETA},
    "B2": {"gamma": GAMMA, "beta": BETA},
    "B3": {"delta": DELTA},
    "U": {"omega": OMEGA},
}
PREFERENCE = ("B3", "U", "B2", "B1")
"""Order in which classes are tried when the constants are symbolic and cannot be ranked."""


@dataclass(frozen=True)
class Step:
    """One line of a derivation: what was used, the resulting upper bound on
    ``E f(x⁺) - f(x)`` (or ``E f(x⁺) - f*`` after PL) and the condition it needs."""

    text: str
    bound: sp.Expr
    condition: str = ""


@dataclass(frozen=True)
class RateDerivation:
    """The symbolic CGD rate for one class, with the constants as symbols."""

    cls: str
    constants: dict[str, sp.Symbol]
    contraction: sp.Expr
    """ρ(η): E f(x⁺) - f* <= ρ(η) (f(x) - f*) for 0 < η <= step_cap."""
    step_cap: sp.Expr
    optimal_step: sp.Expr
    optimal_contraction: sp.Expr
    steps: tuple[Step, ...]

    @property
    def natural_step(self) -> sp.Expr:
        """The step at which the rate is usually quoted; here it is the derived optimum."""
        return self.optimal_step

    def latex(self) -> str:
        return (rf"\rho(\eta) = {sp.latex(self.contraction)},\quad 0 < \eta \le "
                rf"{sp.latex(self.step_cap)},\quad \eta^\star = {sp.latex(self.optimal_step)}"
                rf",\quad \rho(\eta^\star) = {sp.latex(self.optimal_contraction)}")


# --------------------------------------------------------------------------- derivation
def _relax(expr: sp.Expr, var: sp.Symbol, bound: sp.Expr, kind: str,
           conditions: list[tuple[sp.Expr, str]]) -> sp.Expr:
    """Replace ``var`` in the (affine in ``var``) upper bound ``expr`` by ``bound``.

    ``kind='lower'`` means ``var >= bound`` (valid iff the coefficient of ``var`` is
    ``<= 0``); ``kind='upper'`` means ``var <= bound`` (valid iff it is ``>= 0``). The sign
    requirement is recorded in ``conditions`` as ``(coefficient, '<=0' | '>=0')``."""
    expr = sp.expand(expr)
    coef = sp.diff(expr, var)
    if sp.diff(coef, var) != 0:
        raise DerivationError(f"bound is not affine in {var}")
    need = "<=0" if kind == "lower" else ">=0"
    conditions.append((sp.factor(coef), need))
    return sp.expand(expr.subs(var, bound))


def _sign_ok(coef: sp.Expr, need: str) -> bool | None:
    """Whether ``coef`` has the required sign for every admissible value of the symbols
    (``None`` if SymPy cannot decide)."""
    return coef.is_nonpositive if need == "<=0" else coef.is_nonnegative


def _cap(conditions: list[tuple[sp.Expr, str]]) -> sp.Expr:
    """The largest ``c`` such that every condition holds on ``0 < η <= c`` (solved)."""
    caps: list[sp.Expr] = []
    for coef, need in conditions:
        if not coef.has(ETA):
            if _sign_ok(coef, need) is not True:
                raise DerivationError(f"condition {coef} {need} fails for all steps")
            continue
        if _sign_ok(coef, need) is True:
            continue
        roots = [r for r in sp.solve(sp.Eq(coef, 0), ETA) if r.is_positive]
        if len(roots) != 1:
            raise DerivationError(f"cannot solve the step condition {coef} {need}")
        root = roots[0]
        if _sign_ok(sp.simplify(coef.subs(ETA, root / 2)), need) is not True:
            raise DerivationError(f"condition {coef} {need} fails below its root {root}")
        caps.append(root)
    if not caps:
        return sp.oo
    return caps[0] if len(caps) == 1 else sp.Min(*caps)


def _pl(expr: sp.Expr, conditions: list[tuple[sp.Expr, str]]) -> sp.Expr:
    """Apply PL (G >= 2 μ R) and return ρ(η) = 1 + (bound on E f⁺ - f)/R."""
    bound = _relax(expr, G, 2 * MU * R, "lower", conditions)
    return sp.expand(1 + sp.diff(bound, R))


def _optimum(rho: sp.Expr, cap: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """argmin of ρ on (0, cap] by stationary points and the end point."""
    cands = [r for r in sp.solve(sp.Eq(sp.diff(rho, ETA), 0), ETA) if r.is_positive]
    cands = [r for r in cands if cap == sp.oo or sp.simplify(cap - r).is_nonnegative]
    if cap != sp.oo:
        cands.append(cap)
    if not cands:
        raise DerivationError("no optimal step: the contraction has no minimum")
    best = cands[0]
    for c in cands[1:]:
        diff = sp.simplify(rho.subs(ETA, c) - rho.subs(ETA, best))
        if diff.is_negative:
            best = c
        elif diff.is_nonpositive is not True and diff.is_nonnegative is not True:
            raise DerivationError(f"cannot rank the candidate steps {best} and {c}")
    return sp.simplify(best), sp.factor(sp.simplify(rho.subs(ETA, best)))


@functools.cache
def derive(cls_name: str) -> RateDerivation:
    """Derive the CGD rate of class ``cls_name`` in {'B1', 'B2', 'B3', 'U'} (cached)."""
    if cls_name not in CLASS_SYMBOLS:
        raise InputError(f"no CGD rate for class {cls_name!r}; known: {', '.join(CLASS_SYMBOLS)}")
    conds: list[tuple[sp.Expr, str]] = []
    descent = -ETA * INNER + L * ETA**2 / 2 * SQ
    steps = [Step("descent lemma, expectation over C: E f(x⁺) - f(x) <= -η I + (Lη²/2) S",
                  descent)]
    if cls_name == "B1":
        b = _relax(descent, INNER, SQ / BETA, "lower", conds)
        steps.append(Step("B1: I >= S/β", b, f"{conds[-1][0]} <= 0"))
        b = _relax(b, SQ, ALPHA * G, "lower", conds)
        steps.append(Step("B1: S >= α G", b, f"{conds[-1][0]} <= 0"))
    elif cls_name == "B2":
        b = _relax(descent, SQ, BETA * INNER, "upper", conds)
        steps.append(Step("B2: S <= β I", b, f"{conds[-1][0]} >= 0"))
        b = _relax(b, INNER, GAMMA * G, "lower", conds)
        steps.append(Step("B2: I >= γ G", b, f"{conds[-1][0]} <= 0"))
    elif cls_name == "B3":
        b = sp.expand(descent.subs(INNER, (G + SQ - ERR) / 2))
        steps.append(Step("identity <g, C> = (||g||² + ||C||² - ||C - g||²)/2", b))
        b = _relax(b, ERR, (1 - 1 / DELTA) * G, "upper", conds)
        steps.append(Step("B3: E <= (1 - 1/δ) G", b, f"{conds[-1][0]} >= 0"))
        b = _relax(b, SQ, sp.Integer(0), "lower", conds)
        steps.append(Step("drop the S term: S >= 0", b, f"{conds[-1][0]} <= 0"))
    else:  # U(omega)
        b = sp.expand(descent.subs(INNER, G).subs(SQ, ERR + G))
        steps.append(Step("unbiased: I = G and S = E + G", b))
        b = _relax(b, ERR, OMEGA * G, "upper", conds)
        steps.append(Step("U: E <= ω G", b, f"{conds[-1][0]} >= 0"))
    rho = _pl(b, conds)
    steps.append(Step("PL: G >= 2 μ R, so E f(x⁺) - f* <= ρ(η) R", rho * R,
                      f"{conds[-1][0]} <= 0"))
    cap = _cap(conds)
    eta_opt, rho_opt = _optimum(rho, cap)
    return RateDerivation(cls_name, dict(CLASS_SYMBOLS[cls_name]), sp.factor(rho),
                          sp.simplify(cap), eta_opt, rho_opt, tuple(steps))


# --------------------------------------------------------------------------- instantiation
@dataclass
class Rate:
    """A CGD rate instantiated for a compressor (or a bare class) and a problem class.

    ``contraction`` is ρ at ``eta``: ``E f(x^{k+1}) - f* <= ρ (f(x^k) - f*)``.
    Numbers are SymPy expressions (floats via :meth:`as_floats`)."""

    compressor: str | None
    cls: CompressorClass
    mu: sp.Expr
    L: sp.Expr
    eta: sp.Expr
    contraction: sp.Expr
    step_cap: sp.Expr
    optimal_step: sp.Expr
    optimal_contraction: sp.Expr
    contraction_of_eta: sp.Expr
    """ρ as a function of :data:`ETA` (constants, μ and L substituted)."""
    derivation: RateDerivation
    alternatives: dict[str, Any] = field(default_factory=dict)
    """Optimal contraction of the other classes the compressor is in (for comparison)."""

    def contraction_fn(self) -> Callable[[float], float]:
        return sp.lambdify(ETA, self.contraction_of_eta, "math")

    def iterations(self, eps: float) -> int:
        """Steps K such that ρ^K <= eps (the guarantee E r_K <= eps r_0)."""
        rho = float(self.contraction)
        if not 0 < eps < 1:
            raise InputError(f"eps must be in (0, 1), got {eps}")
        if rho >= 1:
            return math.inf  # type: ignore[return-value]
        if rho <= 0:
            return 1
        return math.ceil(math.log(eps) / math.log(rho))

    def as_floats(self) -> dict[str, float | str]:
        out: dict[str, float | str] = {}
        for k in ("mu", "L", "eta", "contraction", "step_cap", "optimal_step",
                  "optimal_contraction"):
            v = sp.sympify(getattr(self, k))
            try:
                out[k] = float(v)
            except TypeError:
                out[k] = sp.sstr(v)
        out["class"] = self.cls.pretty()
        return out

    def latex(self) -> str:
        return (rf"{self.cls.latex()}:\ \rho(\eta) = {sp.latex(self.contraction_of_eta)},\ "
                rf"\eta \le {sp.latex(self.step_cap)},\ \eta^\star = "
                rf"{sp.latex(self.optimal_step)},\ \rho(\eta^\star) = "
                rf"{sp.latex(self.optimal_contraction)}")


def _number(name: str, value: Any) -> sp.Expr:
    if value is None:
        return {"mu": MU, "L": L}[name]
    if isinstance(value, sp.Basic):
        if value.free_symbols:
            return value
        v = value
    else:
        finite_float(name, value)
        v = sp.nsimplify(value) if isinstance(value, float) else sp.sympify(value)
    if not v.is_positive:
        raise InputError(f"{name} must be > 0, got {value}")
    return v


def _check_constants(c: CompressorClass) -> None:
    k = c.constants()
    num = {n: v for n, v in k.items() if not sp.sympify(v).free_symbols}
    for n, v in num.items():
        if n == "omega":
            if v < 0:
                raise InputError(f"U(omega) needs omega >= 0, got omega={v}")
        elif n == "delta":
            if v < 1:
                raise InputError(f"B3(delta) needs delta >= 1, got delta={v}")
        elif v <= 0:
            raise InputError(f"{c.name} needs {n} > 0, got {n}={v}")
    if c.name == "B1" and len(num) == 2 and num["alpha"] > num["beta"] ** 2:
        raise InputError(f"B1(alpha, beta) is empty unless alpha <= beta^2 "
                         f"(Cauchy–Schwarz), got alpha={num['alpha']}, beta={num['beta']}")
    if c.name == "B2" and len(num) == 2 and num["gamma"] > num["beta"]:
        raise InputError(f"B2(gamma, beta) is empty unless gamma <= beta, got "
                         f"gamma={num['gamma']}, beta={num['beta']}")


def _instantiate(cls: CompressorClass, mu: sp.Expr, Lv: sp.Expr, eta: Any,
                 compressor: str | None) -> Rate:
    _check_constants(cls)
    der = derive(cls.name)
    subs = {der.constants[k]: sp.sympify(v) for k, v in cls.constants().items()}
    subs.update({MU: mu, L: Lv})
    rho_eta = sp.simplify(der.contraction.subs(subs))
    cap = sp.simplify(der.step_cap.subs(subs))
    eta_opt = sp.simplify(der.optimal_step.subs(subs))
    rho_opt = sp.simplify(der.optimal_contraction.subs(subs))
    if eta is None:
        eta_v = eta_opt
    else:
        eta_v = _number("eta", eta)
        over = sp.simplify(eta_v - cap)
        if over.is_positive:
            raise AssumptionError(
                f"step size eta={eta} exceeds the admissible cap {sp.sstr(cap)} "
                f"(= {sp.sstr(der.step_cap)}) of the CGD rate under {cls.pretty()}: the "
                f"derivation needs 0 < eta <= {sp.sstr(der.step_cap)}")
    return Rate(compressor, cls, mu, Lv, eta_v, sp.simplify(rho_eta.subs(ETA, eta_v)), cap,
                eta_opt, rho_opt, rho_eta, der)


def cgd_rate(spec_or_class: CompressorSpec | CompressorClass, mu: Any = None, L: Any = None,
             eta: Any = None, *, cls: str | type[CompressorClass] | None = None,
             d: int | None = None) -> Rate:
    """The derived CGD rate of a compressor (or a bare class object) on μ-PL, L-smooth
    functions.

    ``spec_or_class``: a :class:`CompressorSpec` (its class constants are evaluated at its
    parameters and ``d``) or a :class:`CompressorClass` such as ``B3(4)``. ``cls`` picks the
    class ('B1', 'B2', 'B3', 'U'); by default the class with the smallest optimal contraction
    (among those admitting ``eta`` if given) is used, or the first of
    :data:`PREFERENCE` if the constants are symbolic. ``mu``/``L``/``eta`` may be numbers or
    left ``None`` (symbolic; ``eta=None`` means the optimal step).

    Raises :class:`AssumptionError` when the compressor is not in ``cls``, when it is only
    sign-type, when ``mu > L`` or when ``eta`` exceeds the derived cap;
    :class:`InputError` for non-positive/non-finite numbers or an unknown class."""
    mu_v, L_v = _number("mu", mu), _number("L", L)
    if not (mu_v.free_symbols or L_v.free_symbols) and mu_v > L_v:
        raise AssumptionError(f"mu={mu} > L={L}: an L-smooth function satisfying the PL "
                              "inequality with constant mu needs mu <= L")
    if isinstance(spec_or_class, type):
        raise InputError("pass a compressor instance (e.g. make('topk', k=2, d=8)) or a "
                         "class object such as B3(4), not a class type")
    if isinstance(spec_or_class, CompressorClass):
        memberships: tuple[CompressorClass, ...] = (spec_or_class,)
        name = None
    elif isinstance(spec_or_class, CompressorSpec):
        name = spec_or_class.name
        try:
            memberships = spec_or_class.numeric_classes(d)
        except InputError:
            memberships = spec_or_class.classes()
    else:
        raise InputError(f"expected a CompressorSpec or a CompressorClass, got "
                         f"{type(spec_or_class).__name__}")
    what = name or spec_or_class.pretty()  # type: ignore[union-attr]
    usable = [c for c in memberships if not isinstance(c, SignType)]
    if not memberships:
        raise AssumptionError(
            f"{what} declares no class membership (none of U, B1, B2, B3 holds for all x): "
            "no CGD rate follows")
    if not usable:
        raise AssumptionError(
            f"{what} is sign-type only (not positively homogeneous): no CGD rate follows "
            "from class constants; it is in none of U, B1, B2, B3")
    if cls is not None:
        cname = cls if isinstance(cls, str) else cls.name
        if cname not in CLASS_SYMBOLS:
            raise InputError(f"unknown class {cname!r}; known: {', '.join(CLASS_SYMBOLS)}")
        chosen = [c for c in usable if c.name == cname]
        if not chosen:
            raise AssumptionError(
                f"{what} is not in class {cname} (its classes: "
                f"{', '.join(c.pretty() for c in usable)})")
        return _instantiate(chosen[0], mu_v, L_v, eta, name)
    rates: list[Rate] = []
    errors: list[str] = []
    for c in usable:
        try:
            rates.append(_instantiate(c, mu_v, L_v, eta, name))
        except AssumptionError as exc:
            errors.append(str(exc))
    if not rates:
        raise AssumptionError(errors[0] if len(errors) == 1 else "; ".join(errors))
    try:
        best = min(rates, key=lambda r: float(r.contraction))
    except TypeError:
        best = min(rates, key=lambda r: PREFERENCE.index(r.cls.name))
    best.alternatives = {r.cls.name: r.optimal_contraction for r in rates if r is not best}
    return best


# --------------------------------------------------------------------------- U vs scaled B3
@dataclass(frozen=True)
class IdenticalIterates:
    """U(ζ) with step η versus its scaled version C/ζ ∈ B3(ζ) with step ζη."""

    zeta: sp.Expr
    rho_unbiased: sp.Expr
    """ρ_U(η), in the ω = ζ - 1 notation."""
    rho_scaled: sp.Expr
    """ρ_B3(ζ η) for C/ζ ∈ B3(ζ)."""
    natural_unbiased: sp.Expr
    """ρ_U at η = 1/(ζL)."""
    natural_scaled: sp.Expr
    """ρ_B3(ζ) at ζη = 1/L."""

    @property
    def difference_at_natural(self) -> sp.Expr:
        return sp.simplify(self.natural_unbiased - self.natural_scaled)

    @property
    def gap(self) -> sp.Expr:
        """ρ_B3(ζη) - ρ_U(η) >= 0 on the admissible steps: the U analysis is never worse."""
        return sp.factor(sp.simplify(self.rho_scaled - self.rho_unbiased))


def identical_iterates(zeta: Any = None) -> IdenticalIterates:
    """Derive the rates of ``C ∈ U(ζ)`` at step ``η`` and of ``C/ζ ∈ B3(ζ)`` at ``ζη``
    (same iterates). Digest §1.3 "sanity check" [derived]."""
    z = sp.Symbol("zeta", positive=True) if zeta is None else sp.sympify(zeta)
    u, b3 = derive("U"), derive("B3")
    rho_u = u.contraction.subs(OMEGA, z - 1)
    rho_b = b3.contraction.subs({DELTA: z, ETA: z * ETA})
    return IdenticalIterates(
        z, sp.factor(rho_u), sp.factor(rho_b),
        sp.simplify(u.optimal_contraction.subs(OMEGA, z - 1)),
        sp.simplify(rho_b.subs(ETA, 1 / (z * L))))


# --------------------------------------------------------------------------- counterexample
COUNTEREXAMPLE_A = ((-3, 2, 2), (2, -3, 2), (2, 2, -3))
"""The vectors a_i of the DCGD divergence example (recalled: Beznosikov et al. 2023,
Example 1; the same example appears in the EF21 paper)."""


@dataclass(frozen=True)
class Counterexample:
    """DCGD with top-k on f_i(x) = <a_i, x>² + ||x||²/4, started on span{1}."""

    a: tuple[tuple[int, ...], ...]
    hessians: tuple[sp.Matrix, ...]
    """∇²f_i = 2 a_i a_iᵀ + I/2."""
    hessian: sp.Matrix
    mu: sp.Expr
    L: sp.Expr
    minimizer: sp.Matrix
    update: sp.Matrix
    """The averaged compressed gradient (1/n) Σ C(∇f_i(x⁰)) at x⁰ = t·1."""
    growth: sp.Expr
    """x¹ = growth · x⁰, a function of η (exact)."""
    k: int


def _topk_mask(values: list[float], k: int) -> list[bool]:
    """Indices of the k largest magnitudes, by the catalog's top-k if present."""
    try:
        import torch

        from theorykit.compressors.registry import make

        spec = make("topk", k=k)
        out = spec.apply(torch.tensor([values], dtype=torch.float64))[0]
        mask = [bool(v != 0) for v in out.tolist()]
        if sum(mask) == k:
            return mask
    except InputError:
        pass
    order = sorted(range(len(values)), key=lambda i: -abs(values[i]))[:k]
    return [i in order for i in range(len(values))]


COUNTEREXAMPLE_REG = sp.Rational(1, 4)
"""The coefficient of ||x||² in the example's f_i."""


@functools.cache
def dcgd_counterexample(k: int = 1, reg: Any = COUNTEREXAMPLE_REG) -> Counterexample:
    """Derive the DCGD growth factor on the 3-worker example (digest §1.4, construction
    recalled from Beznosikov et al. 2023, Example 1; factor *derived* here).

    With x⁰ = t·(1,1,1), t > 0, each ∇f_i(x⁰) is computed symbolically, top-k keeps the
    entries of largest magnitude (top-k is positively homogeneous, so the choice made at
    t = 1 holds for every t > 0), and the averaged step is checked to be parallel to x⁰,
    which makes x^k = growth^k x⁰ exact. ``reg`` is the coefficient of ||x||² in f_i
    (1/4 in the example; another value derives the factor of another problem)."""
    reg = sp.nsimplify(reg)
    t = sp.Symbol("t", positive=True)
    xs = sp.symbols("x1:4", real=True)
    x = sp.Matrix(xs)
    hess, grads = [], []
    n = len(COUNTEREXAMPLE_A)
    for a in COUNTEREXAMPLE_A:
        av = sp.Matrix(a)
        fi = (av.T * x)[0] ** 2 + reg * (x.T * x)[0]
        hess.append(sp.hessian(fi, xs))
        grads.append(sp.Matrix([sp.diff(fi, v) for v in xs]))
    H = sp.simplify(sum(hess, sp.zeros(3)) / n)
    eig = sorted(H.eigenvals().keys(), key=lambda e: float(e))
    grad_f = sum(grads, sp.zeros(3, 1)) / n
    sol = sp.solve(list(grad_f), xs, dict=True)
    xstar = sp.Matrix([sol[0][v] for v in xs])
    x0 = {v: t for v in xs}
    upd = sp.zeros(3, 1)
    for g in grads:
        gv = g.subs(x0)
        mask = _topk_mask([float(e.subs(t, 1)) for e in gv], k)
        upd += sp.Matrix([e if m else 0 for e, m in zip(gv, mask, strict=True)])
    upd = sp.simplify(upd / n)
    ratios = {sp.simplify(u / t) for u in upd}
    if len(ratios) != 1:
        raise DerivationError(f"the averaged top-{k} step {list(upd)} is not parallel to "
                              "x0 = t·1; the iterates do not stay on span{1}")
    c = ratios.pop()
    return Counterexample(COUNTEREXAMPLE_A, tuple(hess), H, eig[0], eig[-1], xstar, upd,
                          sp.expand(1 - ETA * c), k)
