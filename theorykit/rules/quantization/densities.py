"""Symmetric gradient densities in the parametrisation of the quantization papers
(:class:`Density`, the catalog :data:`DENSITIES`, :func:`density`), and the standardised
variables the derivations of this package integrate over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from theorykit.compressors.base import Param
from theorykit.distributions import SymmetricLaw
from theorykit.distributions import make as make_law
from theorykit.distributions.registry import REGISTRY as LAWS
from theorykit.errors import InputError
from theorykit.symbols import GRAD_COORD as G

_U = sp.Symbol("u", positive=True)  # standardised |g| = |g| / scale
_A = sp.Symbol("a", positive=True)  # standardised threshold alpha / scale
_Y = sp.Symbol("y", positive=True)
_R = sp.Symbol("r", positive=True)  # Pareto: rho = 3 + r

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
                 reference="Yan et al., arXiv 2402.01160 (TNQSGD) [paper-abstract]",
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


def density(name: str, **params: Any) -> Density:
    """A density by name with validated parameters (``InputError`` otherwise). Names and
    their alternative spellings (``normal``, ``t``, ``power-law``, ``cauchy``, ...) are those
    of the law registry (:data:`theorykit.distributions.registry.ALIASES`): one list of
    names. A name of :data:`DENSITIES` takes the quantization parametrisation; any other
    law, or ``module:Object``, goes through :meth:`Density.from_law`."""
    key = LAWS.key(name)
    if key not in DENSITIES:
        if ":" in name or key in LAWS.catalog():
            return Density.from_law(make_law(name, **params))
        known = sorted(set(DENSITIES) | set(LAWS.catalog()))
        raise InputError(f"unknown density {name!r}; known: {', '.join(known)}")
    if name.lower() == "cauchy":  # the law registry's make: Student-t with nu = 1
        params.setdefault("nu", 1.0)
    import inspect

    known = set(inspect.signature(DENSITIES[key]).parameters)
    unknown = set(params) - known
    if unknown:
        raise InputError(f"density {key}: unknown parameter(s) {sorted(unknown)}; "
                         f"known: {sorted(known)}")
    return DENSITIES[key](**params)
