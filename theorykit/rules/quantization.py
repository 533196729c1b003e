r"""Optimal truncated (non-)uniform quantization of symmetric gradient densities.

Model (digest ``compression_papers.md`` §2.0, *derived*; it reproduces the published TNQSGD
constant exactly). A gradient coordinate ``g`` with symmetric density ``p`` is truncated,
:math:`T_\alpha(g) = \operatorname{clip}(g, -\alpha, \alpha)` (the definition of TUQSGD/TNQSGD,
Yan et al., arXiv 2402.01798, *read* on a review page), then stochastically rounded to one
of the ``s + 1`` levels :math:`-\alpha = \ell_0 < \dots < \ell_s = \alpha` (``s``
intervals; unbiased for :math:`T_\alpha(g)`; conditional variance
:math:`(g - \ell_j)(\ell_{j+1} - g) \le \Delta_j^2/4`). The per-coordinate error is

.. math::
    E(\alpha, \lambda) = B(\alpha) + c_Q \int_{-\alpha}^{\alpha} \frac{p(g)}{\lambda(g)^2}\,dg,
    \qquad B(\alpha) = E\big[(|g| - \alpha)^2\, 1\{|g| > \alpha\}\big],

with a level density :math:`\lambda \ge 0`, :math:`\int\lambda = s` (spacing
:math:`\Delta \approx 1/\lambda`). The constant :math:`c_Q` stays symbolic
(:data:`CQ`) and takes one of two values:

* :data:`C_Q_WORST` = 1/4: the worst case of one cell, :math:`(g-\ell_j)(\ell_{j+1}-g) \le
  \Delta_j^2/4`. For **uniform** levels the formula with 1/4 is an exact upper bound of the
  codec's quantization variance; it is the constant of the published TNQSGD result
  (Yan et al., arXiv 2402.01160, E_TQ = 27 d γ²/(N (s + 3√6/2)²), *read* on a summary page)
  and therefore the **default** of :func:`optimize`.
* :data:`C_Q_HIGH_RES` = 1/6: the average of :math:`(g-\ell_j)(\ell_{j+1}-g)` over a cell when
  ``p`` is locally flat (the high-resolution regime, ``s`` large). The real codec's variance
  is close to this value, so MC errors sit near the 1/6 formula, below the 1/4 one.

The exact MSE of the real codec for given levels is :func:`codec_mse` (numeric
integration, no high-resolution approximation); claims compare Monte Carlo against it.

Derivations carried out here (all *derived* by SymPy; closed forms match digest §2.1-2.2):

* :func:`optimal_level_density`: pointwise Lagrangian of
  :math:`c_Q p/\lambda^2 + \mu\lambda` gives :math:`\lambda^* = s\,p^{1/3}/\int p^{1/3}` and
  the minimum :math:`c_Q (\int_{-\alpha}^{\alpha} p^{1/3})^3 / s^2`.
* :func:`cubic_tradeoff`: :math:`E(y) = A y^3 + K (1-y)^3` has
  :math:`y^* = \sqrt K/(\sqrt A + \sqrt K)`, :math:`E^* = AK/(\sqrt A + \sqrt K)^2`.
* Non-uniform closed form whenever :math:`B(\alpha) = A\,y(\alpha)^3` with
  :math:`y = 1 - J(\alpha)/J(\infty)`, :math:`J(\alpha) = \int_{-\alpha}^{\alpha} p^{1/3}`
  (detected automatically; true for Laplace and Pareto): Laplace gives
  :math:`\alpha^* = 3\gamma\ln(1 + s\sqrt6/9)`,
  :math:`E^* = 27\gamma^2/(s + 3\sqrt6/2)^2` at :math:`c_Q = 1/4`.
* Uniform closed form from ``solve(dE/dα = 0)`` where SymPy finds one: Laplace
  :math:`\alpha^* = \gamma W(s^2/(4 c_Q))` (Lambert W), Pareto a power law.
* Otherwise (Gaussian, Student-t, user densities) ``nsolve`` on :math:`dE/d\alpha` or a
  bounded scalar minimisation; the bi-scaled scheme by ``scipy.optimize``.

Uniform objective (``mass`` switch of :func:`optimize`): ``"bound"`` (default) uses
:math:`c_Q (2\alpha/s)^2`, i.e. :math:`P(|g| \le \alpha) \le 1` -- the TUQSGD-style bound of
the digest with the Lambert-W / power-law closed forms; ``"exact"`` keeps
:math:`c_Q (2\alpha/s)^2 P(|g|\le\alpha)` (the clipped mass sits on the levels ±α and has
no rounding variance).

Bits: :math:`\lceil \log_2(s+1) \rceil` per coordinate plus 32 for α per message;
``bits = b`` means ``s = 2^b - 1``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp

from theorykit import diskcache
from theorykit.compressors.base import Param
from theorykit.distributions import SymmetricLaw
from theorykit.distributions import make as make_law
from theorykit.errors import DerivationError, InputError

__all__ = [
    "ALPHA",
    "CQ",
    "C_Q_HIGH_RES",
    "C_Q_WORST",
    "DENSITIES",
    "Density",
    "G",
    "QuantizerOptimum",
    "S",
    "bits_per_coordinate",
    "codec_mse",
    "cubic_tradeoff",
    "density",
    "exact_optimal_threshold",
    "levels_for_bits",
    "nonuniform_error",
    "nonuniform_levels",
    "optimal_level_density",
    "optimize",
    "quantization_variance",
    "truncation_bias",
    "uniform_error",
]

G = sp.Symbol("g", real=True)
"""The gradient coordinate."""
ALPHA = sp.Symbol("alpha", positive=True)
"""The truncation threshold."""
S = sp.Symbol("s", positive=True)
"""The number of quantization intervals (``s + 1`` levels)."""
CQ = sp.Symbol("c_Q", positive=True)
"""The cell-variance constant (1/4 worst case, 1/6 high-resolution average)."""
C_Q_WORST = sp.Rational(1, 4)
C_Q_HIGH_RES = sp.Rational(1, 6)

_U = sp.Symbol("u", positive=True)  # standardised |g| = |g| / scale
_A = sp.Symbol("a", positive=True)  # standardised threshold alpha / scale
_Y = sp.Symbol("y", positive=True)
_R = sp.Symbol("r", positive=True)  # Pareto: rho = 3 + r


# =========================================================================== densities
@dataclass(frozen=True, eq=False)
class Density:
    """A symmetric gradient density ``p(g) = q(|g|/scale)/scale`` (``q`` one-sided,
    standardised, supported on ``u >= lower``): the quantization view of a law of
    :mod:`theorykit.distributions` (``law``), in the parametrisation of the quantization
    papers (Laplace ``gamma``, Pareto density exponent ``rho`` and ``g_m``).

    ``values`` holds the numeric parameters; ``symbols`` their SymPy symbols. The symbolic
    face (:meth:`pdf`, :func:`truncation_bias`, ...) is exact when ``symbolic`` is true
    (Laplace, Gaussian, Pareto: integrals in closed form, shape parameters symbolic);
    Student-t and other laws use numeric integration (SciPy ``quad``). The numeric
    density, quantile and bracket are the law's."""

    name: str
    title: str
    values: tuple[tuple[str, float], ...]
    symbols: tuple[tuple[str, sp.Symbol], ...]
    scale_name: str | None
    q: sp.Expr
    """One-sided standardised density in ``u`` (shape parameters as symbols)."""
    lower: int = 0
    symbolic: bool = True
    shape_subs: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    """Substitution making tail integrals converge for SymPy (Pareto: rho -> 3 + r)."""
    reference: str = ""
    condition: str = ""
    """The finiteness condition of the error (shown in the docs and error messages)."""
    law: Any = None
    """The :class:`~theorykit.distributions.SymmetricLaw` (unit scale) behind ``q``."""

    @classmethod
    def from_law(cls, law: SymmetricLaw) -> Density:
        """The density of any law (numeric integrals); its variance must be finite."""
        if law.variance_factor() == sp.oo:
            raise InputError(f"density {law.name}: the second moment is infinite, so the "
                             "truncation bias is infinite; need E g^2 < infinity")
        q = law.std_pdf(_U)
        if law.upper != sp.oo:
            q = sp.Piecewise((q, law.upper > _U), (0, True))
        floats = [k for k in law.values if k in law.symbols()]
        return cls(law.name, law.title or law.name,
                   tuple((k, law.number(k)) for k in floats),
                   tuple((k, law.symbols()[k]) for k in floats), law.scale_param, q,
                   lower=law.lower, symbolic=False, reference=law.reference,
                   condition="finite second moment", law=law)

    # ---------------------------------------------------------------- parameters
    @property
    def params(self) -> dict[str, float]:
        return dict(self.values)

    @property
    def syms(self) -> dict[str, sp.Symbol]:
        return dict(self.symbols)

    @property
    def key(self) -> tuple:
        return (self.name, self.values, sp.srepr(self.q))

    @property
    def scale(self) -> float:
        return float(self.params[self.scale_name]) if self.scale_name else 1.0

    def _shape_values(self) -> dict[sp.Symbol, sp.Expr]:
        sy = self.syms
        return {sy[k]: sp.nsimplify(v) for k, v in self.values
                if k != self.scale_name and k in sy}

    def _scale_symbol(self) -> sp.Expr:
        return self.syms[self.scale_name] if self.scale_name else sp.Integer(1)

    def numeric_subs(self) -> dict[sp.Symbol, sp.Expr]:
        """Numeric values of all parameter symbols (floats kept exact via nsimplify)."""
        sy = self.syms
        return {sy[k]: sp.nsimplify(v) for k, v in self.values if k in sy}

    # ---------------------------------------------------------------- symbolic face
    def pdf(self) -> sp.Expr:
        """p(g) with symbolic parameters (Piecewise for a support gap)."""
        sc = self._scale_symbol()
        body = self.q.subs(_U, sp.Abs(G) / sc) / sc
        if self.lower:
            return sp.Piecewise((body, sp.Abs(G) >= self.lower * sc), (0, True))
        return body

    def q_numeric_expr(self) -> sp.Expr:
        return self.q.subs(self._shape_values())

    # ---------------------------------------------------------------- numeric face
    @property
    def _q_num(self) -> Callable[[np.ndarray], np.ndarray]:
        return self.law.std_pdf_numeric

    def pdf_numeric(self, g: np.ndarray | float) -> np.ndarray:
        """p(g) as floats (vectorised)."""
        sc = self.scale
        return self._q_num(np.asarray(g, dtype=float) / sc) / sc

    def sample(self, n: int, generator: Any = None, dtype: Any = None) -> Any:
        """``n`` i.i.d. draws as a float64 torch tensor, seeded by a ``torch.Generator``:
        U, S uniform, ``|g| = scale * quantile_{|T|}(U)`` (the law's SciPy quantile),
        negative iff S < 1/2."""
        import torch

        dtype = dtype or torch.float64
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        sign = torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < 0.5,
                           -1.0, 1.0)
        mag = torch.as_tensor(self.law.abs_ppf(u.numpy()), dtype=torch.float64)
        return (sign * mag * self.scale).to(dtype)

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={v:g}" for k, v in self.values)
        return f"{self.name}({vals})"


_PARAMS = {
    "laplace": (Param("gamma", float, "scale", 1.0, 0.0, False),),
    "gaussian": (Param("sigma", float, "standard deviation", 1.0, 0.0, False),),
    "student_t": (Param("nu", float, "degrees of freedom", 3.0, 0.0, False),
                  Param("scale", float, "scale", 1.0, 0.0, False)),
    "pareto": (Param("rho", float, "density exponent p ~ |g|^-rho (tail index rho - 1)", 4.0),
               Param("g_m", float, "smallest |g|", 1.0, 0.0, False)),
}
"""The quantization parametrisation of each catalog density (validated by ``Param``)."""


def _validated(name: str, **values: Any) -> dict[str, float]:
    out = {}
    for p in _PARAMS[name]:
        try:
            out[p.name] = p.validate(values[p.name])
        except InputError as exc:
            raise InputError(f"density {name}: {exc}") from None
    return out


def _wrap(law: SymmetricLaw, name: str, title: str, values: dict[str, float],
          scale_name: str, q: sp.Expr, **kw: Any) -> Density:
    return Density(name, title, tuple(values.items()),
                   tuple((k, sp.Symbol(k, positive=True)) for k in values), scale_name, q,
                   lower=law.lower, law=law, **kw)


def _laplace(gamma: Any = 1.0) -> Density:
    """Laplace(γ): p(g) = e^{-|g|/γ}/(2γ) (the TNQSGD model, arXiv 2402.01160, *read*)."""
    v = _validated("laplace", gamma=gamma)
    law = make_law("laplace")
    return _wrap(law, "laplace", "Laplace", v, "gamma", law.std_pdf(_U),
                 reference="Yan et al., arXiv 2402.01160 (TNQSGD) [read]",
                 condition="always finite")


def _gaussian(sigma: Any = 1.0) -> Density:
    """Gaussian N(0, σ²)."""
    v = _validated("gaussian", sigma=sigma)
    law = make_law("gaussian")
    return _wrap(law, "gaussian", "Gaussian", v, "sigma", law.std_pdf(_U),
                 condition="always finite")


def _student_t(nu: Any = 3.0, scale: Any = 1.0) -> Density:
    """Student-t(ν) with scale: p(g) = t_ν(g/scale)/scale. Error finite iff ν > 2."""
    v = _validated("student_t", nu=nu, scale=scale)
    if v["nu"] <= 2:
        raise InputError(
            f"density student_t: nu={v['nu']:g} <= 2 has infinite variance, so the truncation "
            "bias E[(|g|-alpha)^2 1{|g|>alpha}] is infinite; need nu > 2")
    law = make_law("student_t", nu=v["nu"])
    return _wrap(law, "student_t", "Student-t", v, "scale", law.std_pdf(_U), symbolic=False,
                 condition="nu > 2")


def _pareto(rho: Any = 4.0, g_m: Any = 1.0) -> Density:
    """Two-sided Pareto: p(g) = ((ρ-1)/(2 g_m)) (|g|/g_m)^{-ρ} for |g| >= g_m, 0 inside
    (digest §2.2 reconstruction of the power-law family of arXiv 2402.01798, *derived*):
    the law ``pareto`` of :mod:`theorykit.distributions` with tail index α = ρ - 1 and
    scale g_m. Error finite iff ρ > 3."""
    v = _validated("pareto", rho=rho, g_m=g_m)
    if v["rho"] <= 3:
        raise InputError(
            f"density pareto: rho={v['rho']:g} <= 3 makes the second moment and the truncation "
            "bias E[(|g|-alpha)^2 1{|g|>alpha}] infinite; need rho > 3")
    law = make_law("pareto", alpha=v["rho"] - 1.0)
    rs = sp.Symbol("rho", positive=True)
    q = law.std_pdf(_U).subs(law.symbols()["alpha"], rs - 1)
    coeff, rest = q.as_coeff_Mul()  # (1/2) (rho - 1) u^-rho -> (rho/2 - 1/2) u^-rho, the
    q = sp.Mul(*[coeff * f if f.is_Add else f for f in rest.args])  # disk-cached form
    return _wrap(law, "pareto", "Pareto (two-sided power law)", v, "g_m", q,
                 shape_subs=((rs, 3 + _R),),
                 reference="Yan et al., arXiv 2402.01798 (power-law family) [reconstructed]",
                 condition="rho > 3")


def _custom(pdf: Any = None) -> Density:
    """A user density given as a SymPy expression (or string) in ``g`` (the law
    :class:`theorykit.distributions.custom.Custom`: finite, non-negative, symmetric,
    integrates to 1), with a finite second moment."""
    return Density.from_law(make_law("custom", pdf=pdf))


DENSITIES: dict[str, Callable[..., Density]] = {
    "laplace": _laplace,
    "gaussian": _gaussian,
    "student_t": _student_t,
    "pareto": _pareto,
    "custom": _custom,
}
"""Catalog densities by name, with their parameters: laplace(gamma), gaussian(sigma),
student_t(nu, scale), pareto(rho, g_m), custom(pdf). Any other law of
:mod:`theorykit.distributions` (``uniform``, ``lomax``, a user's ``module:Object``) is
used through :meth:`Density.from_law` with the law's own parameters."""

_ALIASES = {"normal": "gaussian", "student-t": "student_t", "t": "student_t",
            "studentt": "student_t", "power": "pareto", "power-law": "pareto"}


def density(name: str, **params: Any) -> Density:
    """A catalog density by name with validated parameters (``InputError`` otherwise)."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DENSITIES:
        from theorykit.distributions import catalog

        if ":" in name or key in catalog():
            return Density.from_law(make_law(name if ":" in name else key, **params))
        known = sorted(set(DENSITIES) | set(catalog()))
        raise InputError(f"unknown density {name!r}; known: {', '.join(known)}")
    import inspect

    known = set(inspect.signature(DENSITIES[key]).parameters)
    unknown = set(params) - known
    if unknown:
        raise InputError(f"density {key}: unknown parameter(s) {sorted(unknown)}; "
                         f"known: {sorted(known)}")
    return DENSITIES[key](**params)


# =========================================================================== bits
def bits_per_coordinate(s: int) -> int:
    """⌈log₂(s+1)⌉ bits code the s+1 levels of one coordinate (digest §2.0)."""
    s = _check_s(s)
    return max(1, math.ceil(math.log2(s + 1)))


def levels_for_bits(b: int) -> int:
    """The number of intervals ``s = 2^b - 1`` that ``b`` bits per coordinate can code."""
    try:
        bi = int(b)
    except (TypeError, ValueError):
        raise InputError(f"bits must be an integer, got {b!r}") from None
    if bi != b or bi < 1:
        raise InputError(f"bits must be an integer >= 1, got {b!r}")
    if bi > 24:
        raise InputError(f"bits must be <= 24 (s = 2^b - 1 levels per coordinate), got {bi}")
    return 2**bi - 1


def _check_s(s: Any) -> int:
    try:
        si = int(s)
    except (TypeError, ValueError):
        raise InputError(f"s (number of quantization intervals) must be an integer, "
                         f"got {s!r}") from None
    if si != s or si < 1:
        raise InputError(f"s (number of quantization intervals) must be an integer >= 1, "
                         f"got {s!r}")
    return si


# =========================================================================== symbolic pieces
@dataclass(frozen=True)
class _StdPieces:
    """Standardised (scale 1) closed forms: bias B(a), J(a) = ∫_{-a}^{a} p^{1/3},
    tail T(a) = P(|u| > a), valid for a >= lower; J_inf = J(∞)."""

    bias: sp.Expr
    bias_gap: sp.Expr | None
    J: sp.Expr
    tail: sp.Expr
    J_inf: sp.Expr


_PIECES: dict[tuple, _StdPieces] = {}


def _pieces(d: Density) -> _StdPieces:
    """Standardised closed forms of ``d`` (SymPy integrals; cached per density family)."""
    if not d.symbolic:
        raise DerivationError(f"density {d.name}: no closed-form integrals (numeric path)")
    key = (d.name, sp.srepr(d.q), d.lower, sp.srepr(d.shape_subs))
    if key not in _PIECES:
        cached = diskcache.load("quantization-pieces", repr(key))
        if diskcache.missing(cached):
            cached = _derive_pieces(d)
            diskcache.store("quantization-pieces", repr(key), cached)
        _PIECES[key] = cached
    return _PIECES[key]


def _derive_pieces(d: Density) -> _StdPieces:
    shape_subs = dict(d.shape_subs)
    back = {_R: next(iter(shape_subs)) - 3} if shape_subs else {}
    qq = d.q.subs(shape_subs)
    low = sp.Integer(d.lower)

    def integ(expr: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        out = sp.integrate(expr, (_U, lo, hi), conds="none")
        if out.has(sp.Integral):
            raise DerivationError(f"{d.name}: SymPy left an integral unevaluated")
        return _tidy(out.subs(back))

    bias = integ(2 * (_U - _A) ** 2 * qq, _A, sp.oo)
    bias_gap = integ(2 * (_U - _A) ** 2 * qq, low, sp.oo) if d.lower else None
    J = integ(2 * qq ** sp.Rational(1, 3), low, _A)
    tail = integ(2 * qq, _A, sp.oo)
    J_inf = integ(2 * qq ** sp.Rational(1, 3), low, sp.oo)
    return _StdPieces(bias, bias_gap, J, tail, J_inf)


def _tidy(e: sp.Expr) -> sp.Expr:
    """Cheap canonical form (cancel + powsimp; ``simplify`` is 100x slower)."""
    return sp.powsimp(sp.cancel(sp.together(e)), force=True)


def _to_units(d: Density, std_expr: sp.Expr, power: int) -> sp.Expr:
    """scale^power * f(alpha/scale)."""
    sc = d._scale_symbol()
    return sc**power * std_expr.subs(_A, ALPHA / sc)


def truncation_bias(d: Density, *, numeric_params: bool = False) -> sp.Expr:
    """B(α) = E[(|g|-α)² 1{|g|>α}] = 2∫_α^∞ (g-α)² p(g) dg as an expression of α
    (*derived*; Laplace: 2γ²e^{-α/γ}; Pareto, α >= g_m: 2 g_m^{ρ-1} α^{3-ρ}/((ρ-2)(ρ-3))).
    For a non-symbolic density the unevaluated integral is returned."""
    if d.symbolic:
        e = _to_units(d, _pieces(d).bias, 2)
    else:
        e = 2 * sp.Integral((G - ALPHA) ** 2 * d.pdf(), (G, ALPHA, sp.oo))
    return e.subs(d.numeric_subs()) if numeric_params else e


def p13_integral(d: Density) -> sp.Expr:
    """J(α) = ∫_{-α}^{α} p^{1/3} (*derived*)."""
    if d.symbolic:
        return _to_units(d, _pieces(d).J, sp.Rational(2, 3))
    return 2 * sp.Integral(d.pdf() ** sp.Rational(1, 3), (G, 0, ALPHA))


def optimal_level_density() -> tuple[sp.Expr, sp.Expr]:
    r"""Derive the optimal level density by a pointwise Lagrangian (*derived*).

    Minimise :math:`c_Q\int p/\lambda^2` subject to :math:`\int\lambda = s`: the
    Lagrangian's integrand :math:`c_Q p\lambda^{-2} + \mu\lambda` is stationary in λ at
    :math:`\lambda = (2c_Q p/\mu)^{1/3}`; the constraint fixes μ. Returns
    ``(lambda_star, min_variance)`` in terms of the symbols ``p`` (density value), ``J``
    (:math:`\int_{-\alpha}^{\alpha} p^{1/3}`), :data:`S` and :data:`CQ`:
    :math:`\lambda^* = s p^{1/3}/J`, minimum :math:`c_Q J^3/s^2`."""
    p, lam, mu, J = sp.symbols("p lambda mu J", positive=True)
    lagr = CQ * p / lam**2 + mu * lam
    sol = [r for r in sp.solve(sp.diff(lagr, lam), lam) if r.is_positive is not False]
    if len(sol) != 1:
        raise DerivationError(f"level density: expected one positive stationary point, {sol}")
    lam_mu = sol[0]  # (2 c_Q p / mu)^{1/3} = K p^{1/3}
    k = sp.simplify(lam_mu / p ** sp.Rational(1, 3))
    mu_sol = sp.solve(sp.Eq(k * J, S), mu)
    mu_star = next(m for m in mu_sol if m.is_positive is not False)
    lam_star = sp.simplify(lam_mu.subs(mu, mu_star))
    # minimum: c_Q ∫ p / λ*² = c_Q ∫ p^{1/3} J²/s² = c_Q J³/s²
    integrand = sp.simplify(CQ * p / lam_star**2)
    per_p13 = sp.simplify(integrand / p ** sp.Rational(1, 3))
    if per_p13.has(p):
        raise DerivationError("level density: c_Q p/λ*² is not proportional to p^{1/3}")
    return lam_star, sp.simplify(per_p13 * J)


def cubic_tradeoff(A: sp.Expr | None = None, K: sp.Expr | None = None
                   ) -> tuple[sp.Expr, sp.Expr]:
    """Minimise E(y) = A y³ + K (1-y)³ over y ∈ (0, 1] (A, K > 0) by ``solve(E'(y) = 0)``
    (*derived*): y* = √K/(√A + √K), E* = AK/(√A + √K)². With no arguments, A and K are
    positive symbols."""
    y_nice, e_nice, a_s, k_s = _cubic_generic()
    a_ = sp.Symbol("A", positive=True) if A is None else A
    k_ = sp.Symbol("K", positive=True) if K is None else K
    return y_nice.subs({a_s: a_, k_s: k_}), e_nice.subs({a_s: a_, k_s: k_})


@functools.lru_cache(maxsize=1)
def _cubic_generic() -> tuple[sp.Expr, sp.Expr, sp.Symbol, sp.Symbol]:
    a_s, k_s = sp.symbols("A_ K_", positive=True)
    e = a_s * _Y**3 + k_s * (1 - _Y) ** 3
    roots = sp.solve(sp.diff(e, _Y), _Y)
    good = []
    for r in roots:
        val = r.subs({a_s: 2, k_s: 3})
        if val.is_real and 0 < float(val) <= 1:
            good.append(r)
    if len(good) != 1:
        raise DerivationError(f"cubic tradeoff: expected one root in (0, 1], got {roots}")
    y_star = sp.simplify(sp.radsimp(good[0]))
    y_nice = sp.sqrt(k_s) / (sp.sqrt(a_s) + sp.sqrt(k_s))
    if sp.simplify(y_star - y_nice) != 0:
        raise DerivationError(f"cubic tradeoff: unexpected minimiser {y_star}")
    if not sp.simplify(sp.diff(e, _Y, 2).subs(_Y, y_nice)).is_positive:
        raise DerivationError("cubic tradeoff: the stationary point is not a minimum")
    e_derived = e.subs(_Y, y_nice)
    e_nice = a_s * k_s / (sp.sqrt(a_s) + sp.sqrt(k_s)) ** 2
    if sp.simplify(e_derived - e_nice) != 0:
        raise DerivationError(f"cubic tradeoff: unexpected minimum {e_derived}")
    return y_nice, e_nice, a_s, k_s


def quantization_variance(d: Density, *, scheme: Literal["uniform", "nonuniform"] = "uniform",
                          mass: Literal["bound", "exact"] = "exact") -> sp.Expr:
    """High-resolution quantization variance as an expression of α, s, c_Q (*derived*):
    uniform ``c_Q (2α/s)² P(|g|<=α)`` (``mass="bound"`` drops the probability, <= 1);
    non-uniform at the optimal density ``c_Q J(α)³/s²``."""
    if scheme == "nonuniform":
        return CQ * p13_integral(d) ** 3 / S**2
    if mass == "bound":
        return CQ * (2 * ALPHA / S) ** 2
    if d.symbolic:
        inside = 1 - _to_units(d, _pieces(d).tail, 0)
    else:
        inside = 1 - 2 * sp.Integral(d.pdf(), (G, ALPHA, sp.oo))
    return CQ * (2 * ALPHA / S) ** 2 * inside


def nonuniform_error(d: Density) -> sp.Expr:
    """E_N(α) = B(α) + c_Q J(α)³/s² (valid for α >= the support gap)."""
    return truncation_bias(d) + quantization_variance(d, scheme="nonuniform")


def uniform_error(d: Density, mass: Literal["bound", "exact"] = "bound") -> sp.Expr:
    """E_U(α) = B(α) + c_Q (2α/s)² [P(|g|<=α)]."""
    return truncation_bias(d) + quantization_variance(d, scheme="uniform", mass=mass)


# =========================================================================== numerics
def _upper_bracket(d: Density) -> float:
    """A standardised |u| beyond which the mass is negligible for optimisation (1e-14)."""
    return d.law.bracket()


@dataclass
class _NumericPieces:
    """Standardised numeric functions (vectorised where cheap)."""

    bias: Callable[[float], float]
    J: Callable[[float], float]
    tail: Callable[[float], float]
    J_inf: float


_NUMERIC: dict[tuple, _NumericPieces] = {}


def _numeric_pieces(d: Density) -> _NumericPieces:
    """Standardised numeric B, J, tail of ``d`` (cached per density and parameters)."""
    if d.key not in _NUMERIC:
        _NUMERIC[d.key] = _make_numeric_pieces(d)
    return _NUMERIC[d.key]


def _make_numeric_pieces(d: Density) -> _NumericPieces:
    low = float(d.lower)
    if d.symbolic:
        pc = _pieces(d)
        sub = d._shape_values()
        fb = sp.lambdify(_A, pc.bias.subs(sub), modules=["scipy", "numpy"])
        fj = sp.lambdify(_A, pc.J.subs(sub), modules=["scipy", "numpy"])
        ft = sp.lambdify(_A, pc.tail.subs(sub), modules=["scipy", "numpy"])
        fg = (sp.lambdify(_A, pc.bias_gap.subs(sub), modules=["scipy", "numpy"])
              if pc.bias_gap is not None else None)
        j_inf = float(pc.J_inf.subs(sub))

        def bias(a: float) -> float:
            if a < low and fg is not None:
                return float(fg(a))
            return float(fb(a))

        def J(a: float) -> float:
            return 0.0 if a <= low else float(fj(a))

        def tail(a: float) -> float:
            return 1.0 if a < low else float(ft(a))

        return _NumericPieces(bias, J, tail, j_inf)

    from scipy.integrate import quad

    q = d._q_num
    hi = _upper_bracket(d)

    def q1(u: float) -> float:
        return float(q(np.array([u]))[0])

    if d.name == "student_t":
        return _student_t_pieces(d.params["nu"])

    def tail(a: float) -> float:
        return float(2 * quad(q1, a, np.inf, limit=400)[0])

    def bias(a: float) -> float:
        return float(2 * quad(lambda u: (u - a) ** 2 * q1(u), a, np.inf, limit=400)[0])

    def J(a: float) -> float:
        if a <= low:
            return 0.0
        return float(2 * quad(lambda u: q1(u) ** (1 / 3), low, a, limit=400)[0])

    j_inf = float(2 * quad(lambda u: q1(u) ** (1 / 3), low, np.inf, limit=400)[0])
    if not math.isfinite(j_inf) or j_inf > 1e12:
        raise InputError(f"density {d.name}: ∫ p^(1/3) diverges; the non-uniform error "
                         "is infinite")
    _ = hi
    return _NumericPieces(bias, J, tail, j_inf)


def _student_t_pieces(nu: float) -> _NumericPieces:
    r"""Student-t(ν) pieces through special functions (*derived*, tested against quad):
    with :math:`f_\nu` the t density and :math:`c_\nu = f_\nu(0)`,

    * :math:`\int_a^\infty u f_\nu = \frac{\nu + a^2}{\nu - 1} f_\nu(a)`;
    * :math:`\int_a^\infty u^2 f_\nu = \nu\frac{c_\nu}{c_{\nu-2}}
      \sqrt{\tfrac{\nu}{\nu-2}}\,\bar F_{\nu-2}\big(a\sqrt{\tfrac{\nu-2}{\nu}}\big)
      - \nu \bar F_\nu(a)` (from :math:`u^2 = \nu[(1+u^2/\nu) - 1]`);
    * :math:`\int_0^a f_\nu^{1/3} = c_\nu^{1/3} a\,
      {}_2F_1(\tfrac12, \tfrac{\nu+1}{6}; \tfrac32; -a^2/\nu)`, and
      :math:`\int_0^\infty f_\nu^{1/3} = c_\nu^{1/3}\tfrac{\sqrt{\nu\pi}}{2}
      \Gamma(\tfrac{\nu-2}{6})/\Gamma(\tfrac{\nu+1}{6})` (finite iff ν > 2)."""
    from scipy import special, stats

    c_nu = math.exp(special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)) / math.sqrt(
        nu * math.pi)
    c_nm2 = math.exp(special.gammaln((nu - 1) / 2) - special.gammaln((nu - 2) / 2)) / \
        math.sqrt((nu - 2) * math.pi)
    k = (nu + 1) / 6
    r = math.sqrt((nu - 2) / nu)

    def tail(a: float) -> float:
        return float(2 * stats.t.sf(a, nu))

    def bias(a: float) -> float:
        m1 = (nu + a * a) / (nu - 1) * stats.t.pdf(a, nu)
        m2 = nu * c_nu / c_nm2 / r * stats.t.sf(a * r, nu - 2) - nu * stats.t.sf(a, nu)
        return float(2 * (m2 - 2 * a * m1 + a * a * stats.t.sf(a, nu)))

    def J(a: float) -> float:
        return float(2 * c_nu ** (1 / 3) * a * special.hyp2f1(0.5, k, 1.5, -a * a / nu))

    j_inf = 2 * c_nu ** (1 / 3) * math.sqrt(nu * math.pi) / 2 * math.exp(
        special.gammaln((nu - 2) / 6) - special.gammaln(k))
    return _NumericPieces(bias, J, tail, float(j_inf))


def _objective_std(d: Density, scheme: str, s: int, cq: float, mass: str
                   ) -> Callable[[float], float]:
    npc = _numeric_pieces(d)
    if scheme == "nonuniform":
        return lambda a: npc.bias(a) + cq * npc.J(a) ** 3 / s**2
    if mass == "bound":
        return lambda a: npc.bias(a) + cq * (2 * a / s) ** 2
    return lambda a: npc.bias(a) + cq * (2 * a / s) ** 2 * (1 - npc.tail(a))


def _minimise_scalar(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Global-ish bounded minimisation: a log-spaced scan, then Brent in the best bracket."""
    from scipy.optimize import minimize_scalar

    lo = max(lo, 1e-9)
    grid = np.geomspace(lo, hi, 241)
    vals = np.array([f(x) for x in grid])
    i = int(np.nanargmin(vals))
    a_lo = grid[max(i - 1, 0)]
    a_hi = grid[min(i + 1, grid.size - 1)]
    if a_lo == a_hi:
        return float(grid[i])
    res = minimize_scalar(f, bounds=(a_lo, a_hi), method="bounded",
                          options={"xatol": 1e-12 * max(1.0, a_hi)})
    return float(res.x) if res.fun <= vals[i] else float(grid[i])


# =========================================================================== closed forms
@dataclass(frozen=True)
class _ClosedForm:
    alpha_std: sp.Expr  # standardised threshold as an expression of S, CQ, shape symbols
    error_std: sp.Expr | None  # standardised optimal error, if derived in closed form
    y_of_a: sp.Expr | None  # nonuniform: y(a) (level positions in closed form)
    a_of_y: sp.Expr | None


_CLOSED: dict[tuple, _ClosedForm | None] = {}


def _closed_form(d: Density, scheme: str, mass: str) -> _ClosedForm | None:
    """The SymPy closed form of the optimum for the density *family* (shape symbolic), or
    None where SymPy finds none (cached)."""
    key = (d.name, sp.srepr(d.q), d.lower, scheme, mass)
    if key not in _CLOSED:
        cached = diskcache.load("quantization-closed-form", repr(key))
        if diskcache.missing(cached):
            cached = _derive_closed_form(d, scheme, mass)
            diskcache.store("quantization-closed-form", repr(key), cached)
        _CLOSED[key] = cached
    return _CLOSED[key]


def _derive_closed_form(d: Density, scheme: str, mass: str) -> _ClosedForm | None:
    if not d.symbolic:
        return None
    pc = _pieces(d)
    if scheme == "nonuniform":
        if pc.J_inf.has(sp.oo, sp.zoo, sp.nan):
            return None
        y = _tidy(1 - pc.J / pc.J_inf)
        ratio = _tidy(pc.bias / y**3)
        if ratio.has(_A):
            return None
        k_coef = CQ * pc.J_inf**3 / S**2
        y_star, e_star = cubic_tradeoff(ratio, k_coef)
        sols = sp.solve(sp.Eq(y, _Y), _A)
        if len(sols) != 1:
            return None
        a_of_y = sols[0]
        # y* = 1/(1 + sqrt(A/K)): write alpha* as a function of 1 + sqrt(A/K)
        t_ratio = sp.sqrt(ratio / k_coef)
        alpha_std = sp.powsimp(sp.expand_log(a_of_y.subs(_Y, 1 / (1 + t_ratio)), force=True),
                               force=True)
        _check_same(alpha_std, a_of_y.subs(_Y, y_star), d)
        return _ClosedForm(alpha_std, e_star, y, a_of_y)
    # uniform
    dens = pc.bias + CQ * (2 * _A / S) ** 2 * (1 if mass == "bound" else 1 - pc.tail)
    deriv = sp.diff(dens, _A)
    if deriv.has(sp.erf, sp.erfc, sp.hyper, sp.meijerg, sp.atan, sp.Integral):
        return None
    try:
        sols = sp.solve(deriv, _A)
    except (NotImplementedError, ValueError):
        return None
    test = {S: 7, CQ: sp.Rational(1, 4), **{k: v for k, v in _default_shape(d).items()}}
    good = []
    for sol in sols:
        v = sp.N(sol.subs(test))
        if v.is_real and float(v) > 0:
            good.append(sp.simplify(sol))
    if len(good) != 1:
        return None
    return _ClosedForm(good[0], None, None, None)


def _check_same(e1: sp.Expr, e2: sp.Expr, d: Density) -> None:
    """Two expressions agree at random admissible points (a cheap identity check used
    after ``force=True`` rewrites; the tests check the final forms with ``simplify``)."""
    rng = np.random.default_rng(0)
    syms = sorted((e1.free_symbols | e2.free_symbols) - {_A}, key=str)
    for _ in range(3):
        vals = {}
        for sy in syms:
            base = float(rng.uniform(0.5, 3.0))
            vals[sy] = sp.Float(base + (3.5 if sy.name == "rho" else 0), 30)
        v1, v2 = complex(sp.N(e1.subs(vals), 30)), complex(sp.N(e2.subs(vals), 30))
        if abs(v1 - v2) > 1e-12 * max(1.0, abs(v2)):
            raise DerivationError(f"{d.name}: rewritten closed form differs ({v1} vs {v2})")


def _default_shape(d: Density) -> dict[sp.Symbol, sp.Expr]:
    return d._shape_values()


# =========================================================================== the optimum
@dataclass
class QuantizerOptimum:
    """The optimal truncated quantizer of a density for ``s`` intervals.

    ``alpha`` threshold, ``levels`` (s+1 sorted positions in [-α, α]), ``predicted_error``
    (the per-coordinate objective at the optimum, with ``c_q``), ``exact_error`` (the
    codec's true per-coordinate MSE with these levels, by numeric integration), ``bits``
    per coordinate (⌈log₂(s+1)⌉; plus 32 per message for α), ``closed_form`` (whether
    α* came from a SymPy closed form), ``expression`` (α* as an expression of s and the
    parameters when closed, else the objective E(α))."""

    density: Density
    scheme: str
    s: int
    c_q: sp.Expr
    alpha: float
    levels: np.ndarray
    predicted_error: float
    bits: int
    closed_form: bool
    expression: sp.Expr
    error_expression: sp.Expr | None = None
    exact_error: float = float("nan")
    mass: str = "bound"
    method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def message_bits(self, d: int) -> int:
        """Bits of one d-dimensional message: d·⌈log₂(s+1)⌉ + 32 (α as float32)."""
        return d * self.bits + 32

    def compressor(self, **kw: Any) -> Any:
        """The catalog codec with these levels (``truncated_nonuniform`` with explicit
        levels; ``truncated_uniform`` for the uniform scheme)."""
        from theorykit.compressors.registry import make

        if self.scheme == "uniform":
            return make("truncated_uniform", tau=self.alpha, s=self.s, **kw)
        return make("truncated_nonuniform", tau=self.alpha,
                    levels=tuple(float(x) for x in self.levels), **kw)

    def to_json(self) -> dict[str, Any]:
        return {
            "density": self.density.name,
            "params": self.density.params,
            "scheme": self.scheme,
            "s": self.s,
            "bits_per_coordinate": self.bits,
            "bits_per_message": f"d*{self.bits} + 32",
            "c_Q": sp.sstr(self.c_q),
            "mass": self.mass if self.scheme == "uniform" else None,
            "alpha": self.alpha,
            "levels": [float(x) for x in self.levels],
            "predicted_error": self.predicted_error,
            "exact_error": self.exact_error,
            "closed_form": self.closed_form,
            "method": self.method,
            "expression": sp.sstr(self.expression),
            "error_expression": (sp.sstr(self.error_expression)
                                 if self.error_expression is not None else None),
            **({"beta": self.extra["beta"], "s_inner": self.extra["s_inner"]}
               if "beta" in self.extra else {}),
        }


def _resolve_s(s: Any, bits: Any) -> int:
    if s is not None and bits is not None:
        raise InputError("give either s (levels) or bits, not both")
    if s is None and bits is None:
        raise InputError("give s (number of intervals) or bits per coordinate")
    return levels_for_bits(bits) if bits is not None else _check_s(s)


def optimize(d: Density, s: int | None = None, *, bits: int | None = None,
             scheme: Literal["uniform", "nonuniform", "biscaled"] = "nonuniform",
             c_q: Any = C_Q_WORST, mass: Literal["bound", "exact"] = "bound",
             exact: bool = True) -> QuantizerOptimum:
    """Optimal threshold, levels and error of truncated quantization of ``d``.

    ``scheme``: ``"nonuniform"`` (λ* ∝ p^{1/3}, TNQSGD), ``"uniform"`` (TUQSGD; objective
    per ``mass``), ``"biscaled"`` (TBQSGD: two uniform spacings, fine on |g|<=β, coarse on
    β<|g|<=α, optimised over (α, β, split) with SciPy; objective with the exact masses).
    ``c_q`` is 1/4 (default, worst case; the published constant) or 1/6 (high-resolution
    average). ``exact`` also computes the codec's exact MSE (:func:`codec_mse`)."""
    if not isinstance(d, Density):
        raise InputError(f"optimize needs a Density (theorykit.rules.quantization.density), "
                         f"got {type(d).__name__}")
    s_int = _resolve_s(s, bits)
    if scheme not in ("uniform", "nonuniform", "biscaled"):
        raise InputError(f"scheme must be uniform, nonuniform or biscaled, got {scheme!r}")
    if mass not in ("bound", "exact"):
        raise InputError(f"mass must be 'bound' or 'exact', got {mass!r}")
    cq = sp.nsimplify(c_q)
    if not (cq.is_number and cq > 0):
        raise InputError(f"c_q must be a positive number (1/4 or 1/6), got {c_q!r}")
    if scheme == "biscaled":
        return _optimize_biscaled(d, s_int, cq, exact)
    return _optimize_scalar(d, s_int, scheme, cq, mass, exact)


def _optimize_scalar(d: Density, s: int, scheme: str, cq: sp.Expr, mass: str,
                     exact: bool, symbolic: bool = True) -> QuantizerOptimum:
    sc = d.scale
    low = float(d.lower)
    f = _objective_std(d, scheme, s, float(cq), mass)
    hi = _upper_bracket(d)
    a_num = _minimise_scalar(f, max(low, 1e-6) if scheme == "nonuniform" else 1e-6, hi)
    if scheme == "uniform" and low > 0:
        a_gap = _minimise_scalar(f, 1e-6, low)
        if f(a_gap) < f(a_num):
            a_num = a_gap
    cf = _closed_form(d, scheme, mass) if symbolic else None
    subs_num = {S: s, CQ: cq, **d._shape_values()}
    closed = False
    method = "bounded scalar minimisation (scipy) of the objective"
    a_star = a_num
    err_expr = None
    if cf is not None:
        a_cf = float(sp.N(cf.alpha_std.subs(subs_num), 30))
        if a_cf >= low and f(a_cf) <= f(a_num) * (1 + 1e-9) + 1e-300:
            a_star, closed = a_cf, True
            method = "closed form (SymPy)"
    if not closed and d.symbolic and symbolic:
        # refine with nsolve on dE/da = 0 (high precision), if it stays a minimum
        pc = _pieces(d)
        if scheme == "nonuniform":
            obj = pc.bias + CQ * pc.J**3 / S**2
        else:
            obj = pc.bias + CQ * (2 * _A / S) ** 2 * (1 if mass == "bound" else 1 - pc.tail)
        try:
            root = float(sp.nsolve(sp.diff(obj, _A).subs(subs_num), _A, a_num, tol=1e-25,
                                   prec=40))
            if root > low and abs(root - a_num) < 1e-3 * max(1.0, a_num) \
                    and f(root) <= f(a_num) * (1 + 1e-12):
                a_star = root
                method = "nsolve of dE/dalpha = 0 (SymPy), started at the scalar minimum"
        except (ValueError, ZeroDivisionError, TypeError):
            pass
    alpha = a_star * sc
    err = f(a_star) * sc**2
    expression, err_expr = _expressions(d, scheme, mass, cf if closed else None)
    levels = _levels(d, scheme, s, a_star, cf if closed else None, subs_num) * sc
    opt = QuantizerOptimum(d, scheme, s, cq, float(alpha), levels, float(err),
                           bits_per_coordinate(s), closed, expression, err_expr,
                           mass=mass, method=method)
    if exact:
        opt.exact_error = codec_mse(d, levels)
    return opt


def _expressions(d: Density, scheme: str, mass: str, cf: _ClosedForm | None
                 ) -> tuple[sp.Expr, sp.Expr | None]:
    """(α* or objective, E* or None) in the density's own units and symbols."""
    sc = d._scale_symbol()
    if cf is not None:
        alpha_e = sc * cf.alpha_std
        err_e = sc**2 * cf.error_std if cf.error_std is not None else None
        return alpha_e, err_e
    if scheme == "nonuniform":
        return nonuniform_error(d), None
    return uniform_error(d, mass), None


def _levels(d: Density, scheme: str, s: int, a: float, cf: _ClosedForm | None,
            subs_num: Mapping) -> np.ndarray:
    """Standardised level positions ℓ_j = F_λ^{-1}(j/s), j = 0..s (symmetric)."""
    if scheme == "uniform":
        return np.linspace(-a, a, s + 1)
    v = np.abs(2 * np.arange(s + 1) / s - 1)  # one-sided fraction of λ-mass
    if cf is not None and cf.a_of_y is not None:
        y_a = float(sp.N(cf.y_of_a.subs(subs_num).subs(_A, a)))
        f_pos = sp.lambdify(_Y, cf.a_of_y.subs(subs_num), modules=["scipy", "numpy"])
        with np.errstate(all="ignore"):
            pos = np.asarray(f_pos(1 - v * (1 - y_a)), dtype=float) * np.ones_like(v)
    else:
        pos = _invert_J(d, a, v)
    pos = np.where(v == 0, 0.0, pos)
    pos[0] = pos[-1] = a
    sign = np.sign(2 * np.arange(s + 1) / s - 1)
    return np.sort(sign * pos)


def nonuniform_levels(d: Density, alpha: float, s: int) -> np.ndarray:
    """The s+1 levels ℓ_j = F_λ^{-1}(j/s) of the optimal level density λ* ∝ p^{1/3} on
    [-α, α] for any threshold α (symmetric; the middle level is 0 when s is even)."""
    s = _check_s(s)
    a = float(alpha) / d.scale
    if not (math.isfinite(a) and a > 0):
        raise InputError(f"alpha must be > 0, got {alpha!r}")
    if a <= d.lower:
        raise InputError(f"alpha must exceed the support gap {d.lower * d.scale:g} of "
                         f"{d.name} for a non-uniform grid, got {alpha!r}")
    return _levels(d, "nonuniform", s, a, None, {}) * d.scale


def exact_optimal_threshold(d: Density, s: int,
                            scheme: Literal["uniform", "nonuniform"] = "nonuniform",
                            bracket: tuple[float, float] | None = None) -> tuple[float, float]:
    """The threshold minimising the codec's *exact* MSE (:func:`codec_mse`, no
    high-resolution approximation) for uniform levels or the λ*-levels at each α; returns
    ``(alpha, mse)``. Bounded scalar minimisation on ``bracket`` (default: between half the
    c_Q = 1/4 optimum and twice the c_Q = 1/6 optimum)."""
    s = _check_s(s)
    if scheme not in ("uniform", "nonuniform"):
        raise InputError(f"scheme must be uniform or nonuniform, got {scheme!r}")
    from scipy.optimize import minimize_scalar

    def f(a: float) -> float:
        lv = (np.linspace(-a, a, s + 1) if scheme == "uniform"
              else nonuniform_levels(d, a, s))
        return codec_mse(d, lv)

    if bracket is None:
        lo = 0.5 * optimize(d, s, scheme=scheme, c_q=C_Q_WORST, exact=False).alpha
        hi = 2.0 * optimize(d, s, scheme=scheme, c_q=C_Q_HIGH_RES, exact=False).alpha
        lo = max(lo, d.lower * d.scale * (1 + 1e-9))
    else:
        lo, hi = bracket
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7 * hi})
    return float(res.x), float(res.fun)


def _invert_J(d: Density, a: float, v: np.ndarray) -> np.ndarray:
    """Positions x in [lower, a] with J(x) = v·J(a), by a dense Simpson table."""
    from scipy.integrate import cumulative_simpson

    low = float(d.lower)
    grid = np.linspace(low, a, 20001)
    q13 = np.cbrt(d._q_num(np.maximum(grid, low)))
    cum = cumulative_simpson(q13, x=grid, initial=0.0)
    cum = np.maximum.accumulate(cum)
    return np.interp(v * cum[-1], cum, grid)


def _optimize_biscaled(d: Density, s: int, cq: sp.Expr, exact: bool) -> QuantizerOptimum:
    """TBQSGD-style: s_in intervals on [-β, β] and (s - s_in)/2 on each of [β, α], [-α, -β]
    (s_in ≡ s mod 2, s_in >= 1; s_in = s is the uniform scheme). Objective
    B(α) + c_Q[(2β/s_in)² P(|g|<=β) + ((α-β)/s_out)² P(β<|g|<=α)] minimised over (α, β)
    by L-BFGS-B for every admissible split (digest §2.2, *derived*; the paper's closed
    form was not retrieved)."""
    from scipy.optimize import minimize

    npc = _numeric_pieces(d)
    c = float(cq)
    sc = d.scale
    hi = _upper_bracket(d)
    uni = _optimize_scalar(d, s, "uniform", cq, "exact", exact=False, symbolic=False)
    best = (uni.predicted_error / sc**2, uni.alpha / sc, uni.alpha / sc, s)
    for s_in in range(s - 2, 0, -2):
        s_out = (s - s_in) // 2

        def obj(x: np.ndarray, s_in: int = s_in, s_out: int = s_out) -> float:
            a, frac = float(x[0]), float(x[1])
            b = frac * a
            p_in = 1 - npc.tail(b)
            p_out = npc.tail(b) - npc.tail(a)
            return (npc.bias(a) + c * (2 * b / s_in) ** 2 * p_in
                    + c * ((a - b) / s_out) ** 2 * p_out)

        starts = [(best[1], 0.5), (best[1] * 1.5, 0.3), (best[1], 0.8)]
        for a0, f0 in starts:
            res = minimize(obj, x0=np.array([min(a0, hi), f0]), method="L-BFGS-B",
                           bounds=[(max(1e-6, float(d.lower)), hi), (1e-6, 1 - 1e-9)])
            if res.fun < best[0]:
                best = (float(res.fun), float(res.x[0]), float(res.x[0] * res.x[1]), s_in)
    err, a, b, s_in = best
    s_out = (s - s_in) // 2
    if s_in == s:
        levels = np.linspace(-a, a, s + 1)
    else:
        inner = np.linspace(-b, b, s_in + 1)
        outer = np.linspace(b, a, s_out + 1)[1:]
        levels = np.concatenate([-outer[::-1], inner, outer])
    levels = levels * sc
    objective = (truncation_bias(d) + CQ * (2 * sp.Symbol("beta", positive=True) / S) ** 2)
    opt = QuantizerOptimum(d, "biscaled", s, cq, a * sc, levels, err * sc**2,
                           bits_per_coordinate(s), False, objective, None, mass="exact",
                           method="L-BFGS-B over (alpha, beta/alpha) for each split",
                           extra={"beta": b * sc, "s_inner": s_in, "s_outer": s_out})
    opt.expression = sp.Symbol("B(alpha)") + CQ * (
        (2 * sp.Symbol("beta") / sp.Symbol("s_in")) ** 2 * sp.Symbol("P_in")
        + ((ALPHA - sp.Symbol("beta")) / sp.Symbol("s_out")) ** 2 * sp.Symbol("P_out"))
    if exact:
        opt.exact_error = codec_mse(d, levels)
    return opt


# =========================================================================== exact MSE
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def codec_mse(d: Density, levels: np.ndarray | list[float]) -> float:
    """The exact per-coordinate MSE of truncation at α = max(levels) followed by unbiased
    stochastic rounding to ``levels`` (*derived*):
    ``B(α) + Σ_j ∫_{ℓ_j}^{ℓ_{j+1}} (g-ℓ_j)(ℓ_{j+1}-g) p(g) dg`` (the clipped mass sits on
    ±α and has no rounding variance; the cross term vanishes by unbiasedness). Cells are
    integrated by 48-point Gauss-Legendre after splitting at the density's kinks."""
    lv = np.sort(np.asarray(levels, dtype=float))
    if lv.ndim != 1 or lv.size < 2 or not np.all(np.isfinite(lv)):
        raise InputError("levels must be a finite 1-d array with at least 2 entries")
    if not np.allclose(lv[0], -lv[-1]):
        raise InputError("levels must be symmetric: min(levels) = -max(levels)")
    alpha = float(lv[-1])
    sc = d.scale
    bias = _numeric_pieces(d).bias(alpha / sc) * sc**2
    kinks = np.array([0.0] + ([d.lower * sc, -d.lower * sc] if d.lower else []))
    lo, hi = lv[:-1], lv[1:]
    # split cells at kinks
    pieces_lo, pieces_hi, cell_a, cell_b = [], [], [], []
    for a_, b_ in zip(lo, hi, strict=True):
        cuts = np.sort(np.concatenate([[a_, b_], kinks[(kinks > a_) & (kinks < b_)]]))
        for x0, x1 in itertools.pairwise(cuts):
            pieces_lo.append(x0)
            pieces_hi.append(x1)
            cell_a.append(a_)
            cell_b.append(b_)
    x0 = np.array(pieces_lo)[:, None]
    x1 = np.array(pieces_hi)[:, None]
    ca = np.array(cell_a)[:, None]
    cb = np.array(cell_b)[:, None]
    mid, half = (x0 + x1) / 2, (x1 - x0) / 2
    x = mid + half * _GL_X[None, :]
    vals = (x - ca) * (cb - x) * d.pdf_numeric(x)
    var = float(np.sum(half[:, 0] * (vals @ _GL_W)))
    return bias + var
