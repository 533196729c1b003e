r"""The symmetric-law object every distribution family of theorykit is built on.

A :class:`SymmetricLaw` is the law of a real random variable :math:`Z = s\,T` with
``s`` a scale and ``T`` a *unit* draw whose density :math:`f(t) = f(-t)` is symmetric and
supported on :math:`\text{lower} \le |t| < \text{upper}`. One object carries

* the **symbolic face** (SymPy): :meth:`~SymmetricLaw.std_pdf`, :meth:`~SymmetricLaw.pdf`,
  :meth:`~SymmetricLaw.magnitude_pdf` (the law of :math:`|T|`),
  :meth:`~SymmetricLaw.variance_factor` (:math:`\operatorname{Var} T`),
  :meth:`~SymmetricLaw.second_moment`, :meth:`~SymmetricLaw.sign_mean_unit`
  (:math:`E\operatorname{sign}(z + T)`), :meth:`~SymmetricLaw.cdf_expr` and
  :attr:`~SymmetricLaw.tail_index`;
* the **numeric face** (NumPy/SciPy): :meth:`~SymmetricLaw.std_pdf_numeric`,
  :meth:`~SymmetricLaw.cdf_unit`, :meth:`~SymmetricLaw.abs_ppf` (quantile of :math:`|T|`) and
  :meth:`~SymmetricLaw.bracket`;
* the **sampling face** (torch, seeded by a ``torch.Generator``): :meth:`~SymmetricLaw.sample`
  and :meth:`~SymmetricLaw.sample_abs`.

Parameters are declared with :class:`~theorykit.compressors.base.Param` (so the CLI takes them
as ``-p KEY=VALUE``; :func:`scale_parameter` and :func:`shape_parameter` build the two usual
kinds); a value may also be a SymPy expression or a string naming a symbol (symbolic face
only). Every parameter symbol is ``Symbol(name, positive=True)``.

What a law only *declares* is read by the base class: ``tail_param`` (the shape parameter that
is the tail index), ``unit_variance`` (Var T as a formula in the parameter symbols; infinite
when a numeric tail index is <= 2, since :math:`P(|T| > t) \sim t^{-\alpha}` has a finite
second moment iff :math:`\alpha > 2`) and ``variance_condition`` (how that condition reads for
a symbolic tail index).

For a symmetric continuous law, :math:`E\operatorname{sign}(z + T) = P(T > -z) - P(T < -z)
= 2F(z) - 1` (*derived*), so the symbolic CDF is :math:`F(z) = (1 + E\operatorname{sign}(z +
T))/2` and is not written a second time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.base import Param
from theorykit.errors import InputError

__all__ = ["SymmetricLaw", "U", "X", "nice_number", "positive_symbol", "scale_parameter",
           "shape_parameter"]

X = sp.Symbol("x", real=True)
"""The variable of :meth:`SymmetricLaw.pdf`."""
U = sp.Symbol("u", positive=True)
"""The standardised magnitude ``|x|/scale`` of :meth:`SymmetricLaw.std_pdf`."""


def nice_number(v: float) -> sp.Expr:
    """A float as an exact rational when it has a short decimal form (0.5 -> 1/2)."""
    return sp.nsimplify(v) if v == int(v) or len(repr(v)) <= 8 else sp.Float(v)


def positive_symbol(name: str) -> sp.Symbol:
    """The symbol of a law parameter (all law parameters are positive)."""
    return sp.Symbol(name, positive=True)


def scale_parameter(help: str = "scale", name: str = "scale") -> Param:
    """The scale parameter of a law: a float > 0, default 1."""
    return Param(name, float, help, 1.0, 0.0, False)


def shape_parameter(name: str, help: str) -> Param:
    """A shape parameter of a law: a float > 0 that must be given."""
    return Param(name, float, help, None, 0.0, False)


class SymmetricLaw:
    """A symmetric law ``Z = scale * T`` (see the module docstring).

    Subclasses set ``name``, ``params`` (``Param`` tuple, the scale parameter included,
    named by ``scale_param``), ``unit_variance`` (or override :meth:`variance_factor`) and
    implement :meth:`std_pdf`, :meth:`sign_mean_unit` and (for speed) :meth:`cdf_unit` /
    :meth:`abs_ppf`."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    scale_param: ClassVar[str | None] = "scale"
    lower: ClassVar[int] = 0
    """Standardised support gap: the density is zero on ``|t| < lower``."""
    upper: ClassVar[sp.Expr] = sp.oo
    """Standardised support end: the density is zero on ``|t| >= upper``."""
    heavy_tailed: ClassVar[bool] = False
    direct_sampler: ClassVar[bool] = False
    """True when :meth:`sample_unit` draws T directly (randn, Bailey, ...); False when it
    draws ``|T|`` by inverse transform and attaches an independent fair sign."""
    closed_form_integrals: ClassVar[bool] = False
    """Whether SymPy integrates ``std_pdf`` in closed form (tail, partial moments)."""
    tail_param: ClassVar[str | None] = None
    """The shape parameter that is the tail index (``None``: light tails, index ``oo``)."""
    unit_variance: ClassVar[sp.Expr | None] = None
    """Var T as a formula in the parameter symbols (:meth:`symbols`), read by
    :meth:`variance_factor`."""
    variance_condition: ClassVar[str] = ""
    """The finite-variance condition for a symbolic tail index, ``{}`` standing for it."""

    def __init__(self, **values: Any) -> None:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InputError(f"law {self.name}: unknown parameter(s) {unknown}; "
                             f"known: {sorted(known)}")
        self.values: dict[str, Any] = {}
        for p in self.params:
            v = values.get(p.name, p.default)
            if v is None:
                raise InputError(f"law {self.name}: parameter {p.name!r} is required")
            self.values[p.name] = self._coerce(p, v)

    @staticmethod
    def _coerce(p: Param, v: Any) -> Any:
        """A parameter value: a symbol (str), a SymPy expression, or a validated number
        (kept exact: ``nice_number``)."""
        if isinstance(v, str) and p.kind is not str:
            try:
                float(v)
            except ValueError:
                return positive_symbol(v)
        if isinstance(v, sp.Basic):
            if not v.is_number:
                return v
            p.validate(float(v))
            return v
        if p.kind is not float:
            return p.validate(v)
        return nice_number(p.validate(v))

    # ------------------------------------------------------------------ parameters
    def shape(self, name: str) -> sp.Expr:
        """A parameter as a SymPy expression (number or symbol)."""
        return sp.sympify(self.values[name])

    def number(self, name: str) -> float:
        """A parameter as a float (``InputError`` when it is symbolic)."""
        e = self.shape(name)
        if not e.is_number:
            raise InputError(f"law {self.name}: {name}={e} is symbolic; this needs a number")
        return float(e)

    @property
    def scale(self) -> float:
        """The numeric scale (1 for laws without one)."""
        return self.number(self.scale_param) if self.scale_param else 1.0

    @property
    def numeric(self) -> bool:
        """Whether every parameter is a number."""
        return all(sp.sympify(v).is_number for v in self.values.values()
                   if isinstance(v, sp.Basic | int | float))

    def shape_names(self) -> list[str]:
        """The shape parameters (all float parameters except the scale)."""
        return [p.name for p in self.params if p.name != self.scale_param and p.kind is float]

    def symbols(self) -> dict[str, sp.Symbol]:
        """The symbol of each float parameter."""
        return {p.name: positive_symbol(p.name) for p in self.params if p.kind is float}

    def shape_subs(self) -> dict[sp.Symbol, sp.Expr]:
        """Shape symbol -> value (number or expression)."""
        sy = self.symbols()
        return {sy[k]: self.shape(k) for k in self.shape_names()}

    @property
    def tail_index(self) -> sp.Expr:
        """Tail index: P(|T| > t) ~ t^(-index); ``oo`` for light (exponential) tails."""
        return self.shape(self.tail_param) if self.tail_param else sp.oo

    # ------------------------------------------------------------------ symbolic face
    def std_pdf(self, u: sp.Expr) -> sp.Expr:
        """The unit density f(u) on its support (``lower <= u < upper``), shape parameters
        as their symbols (:meth:`symbols`)."""
        raise NotImplementedError

    def pdf(self, x: sp.Expr = X, *, symbolic: bool = False) -> sp.Expr:
        """The density of Z at ``x``: f(|x|/scale)/scale, zero off the support; parameters
        as values (``symbolic=True``: as symbols)."""
        sc = positive_symbol(self.scale_param) if self.scale_param else sp.Integer(1)
        a = sp.Abs(x) / sc
        body = self.std_pdf(a) / sc
        conds = []
        if self.lower:
            conds.append(a >= self.lower)
        if self.upper != sp.oo:
            conds.append(a < self.upper)
        e = sp.Piecewise((body, sp.And(*conds)), (0, True)) if conds else body
        if symbolic:
            return e
        subs = {positive_symbol(k): self.shape(k) for k in self.values
                if isinstance(self.values[k], sp.Basic)}
        return e.subs(subs)

    def magnitude_pdf(self, u: sp.Expr = U) -> sp.Expr:
        """The density of |T| on ``[lower, upper)``: 2 f(u), parameters as values."""
        return (2 * self.std_pdf(u)).subs(self.shape_subs())

    def variance_factor(self) -> sp.Expr:
        """Var T: ``unit_variance`` at the parameter values; ``sp.oo`` when a numeric tail
        index is <= 2."""
        if self.unit_variance is None:
            raise NotImplementedError(f"law {self.name}: declare unit_variance or override "
                                      "variance_factor")
        a = self.tail_index
        if self.tail_param and a.is_number and a <= 2:
            return sp.oo
        return self.unit_variance.xreplace(self.shape_subs())

    def variance_conditions(self) -> list[str]:
        """Conditions under which :meth:`variance_factor` is finite, for symbolic shapes
        (``variance_condition`` filled with a symbolic tail index)."""
        a = self.tail_index
        if not self.variance_condition or a.is_number:
            return []
        return [self.variance_condition.format(sp.sstr(a))]

    def second_moment(self) -> sp.Expr:
        """E Z^2 = scale^2 Var T."""
        sc = self.shape(self.scale_param) if self.scale_param else sp.Integer(1)
        return sc**2 * self.variance_factor()

    def sign_mean_unit(self, z: sp.Expr) -> sp.Expr:
        """E[sign(z + T)] = 2F(z) - 1 as a SymPy expression of ``z``."""
        raise NotImplementedError

    def cdf_expr(self, z: sp.Expr) -> sp.Expr:
        """F(z) of the unit law, (1 + E sign(z + T))/2 (symmetry, see module docstring)."""
        return (1 + self.sign_mean_unit(z)) / 2

    # ------------------------------------------------------------------ numeric face
    @functools.cached_property
    def _pdf_num(self) -> Callable[[np.ndarray], np.ndarray]:
        f = sp.lambdify(U, self.std_pdf(U).subs(self.shape_subs()),
                        modules=["scipy", "numpy"])
        low, up = float(self.lower), float(self.upper)

        def q(u: np.ndarray) -> np.ndarray:
            u = np.abs(np.asarray(u, dtype=float))
            inside = (u >= low) & (u < up)
            with np.errstate(all="ignore"):
                val = np.asarray(f(np.where(inside, u, max(low, 1e-300))), dtype=float)
            val = np.broadcast_to(val, u.shape)
            return np.where(inside, val, 0.0)

        return q

    def std_pdf_numeric(self, u: np.ndarray | float) -> np.ndarray:
        """f(u) of the unit law as floats (vectorised, zero off the support)."""
        return self._pdf_num(u)

    def cdf_unit(self, z: np.ndarray) -> np.ndarray:
        """F(z) of the unit law (default: the tabulated CDF of |T|)."""
        z = np.asarray(z, dtype=float)
        grid, cdf = self._abs_cdf_table
        half = 0.5 * np.interp(np.abs(z), grid, cdf)
        return np.where(z >= 0, 0.5 + half, 0.5 - half)

    def abs_ppf(self, v: np.ndarray) -> np.ndarray:
        """Quantile of |T|: the inverse of P(|T| <= x) (default: tabulated inverse)."""
        grid, cdf = self._abs_cdf_table
        return np.interp(v, cdf, grid)

    def bracket(self) -> float:
        """A standardised |t| beyond which the mass is negligible (about 1e-14)."""
        from scipy.integrate import quad

        m2 = 2 * quad(lambda x: x * x * float(self._pdf_num(np.array([x]))[0]), 0, np.inf,
                      limit=400)[0]
        return 1e3 * math.sqrt(max(m2, 1e-12))

    @functools.cached_property
    def _abs_cdf_table(self) -> tuple[np.ndarray, np.ndarray]:
        """CDF of |T| on a log-spaced grid (cumulative Simpson)."""
        from scipy.integrate import cumulative_simpson

        hi = self.bracket()
        grid = np.concatenate([[0.0], np.geomspace(1e-8, hi, 40001)])
        cdf = 2 * cumulative_simpson(self._pdf_num(grid), x=grid, initial=0.0)
        cdf = np.maximum.accumulate(np.clip(cdf, 0, 1))
        cdf[-1] = max(cdf[-1], 1.0)
        return grid, cdf

    # ------------------------------------------------------------------ sampling face
    def abs_icdf_torch(self, u: torch.Tensor) -> torch.Tensor:
        """|T| = quantile of |T| at uniforms ``u`` (default: :meth:`abs_ppf` via NumPy)."""
        return torch.as_tensor(self.abs_ppf(u.detach().cpu().numpy()), dtype=u.dtype,
                               device=u.device)

    def sample_unit(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                    device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """i.i.d. unit draws T. Default (inverse transform): U, S ~ Unif[0, 1) i.i.d.,
        |T| = quantile(U), sign negative iff S < 1/2."""
        u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
        s = torch.rand(shape, generator=generator, device=device, dtype=dtype)
        mag = self.abs_icdf_torch(u)
        return torch.where(s < 0.5, -mag, mag)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
               device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """i.i.d. draws of Z = scale T."""
        t = self.sample_unit(tuple(shape), generator, device, dtype)
        return t if self.scale == 1.0 else t * self.scale

    def sample_abs(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                   device: Any = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """i.i.d. draws of |Z| by inverse transform of one uniform each."""
        m = self.abs_icdf_torch(torch.rand(tuple(shape), generator=generator, device=device,
                                           dtype=dtype))
        return m if self.scale == 1.0 else m * self.scale

    # ------------------------------------------------------------------ presentation
    def describe(self) -> dict[str, Any]:
        """JSON-able description."""
        def conv(v: Any) -> Any:
            e = sp.sympify(v) if isinstance(v, sp.Basic | int | float) else v
            return (float(e) if e.is_number else sp.sstr(e)) if isinstance(e, sp.Basic) \
                else str(e)
        return {"name": self.name, "title": self.title, "reference": self.reference,
                "params": {k: conv(v) for k, v in self.values.items()},
                "variance_factor": sp.sstr(self.variance_factor()),
                "tail_index": sp.sstr(self.tail_index)}

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={sp.sstr(v) if isinstance(v, sp.Basic) else v}"
                         for k, v in self.values.items())
        return f"{type(self).__name__}({vals})"
