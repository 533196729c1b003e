r"""Scaled compressors ``c * C``: :class:`ScaledSpec`, :func:`scaled_class`, :func:`scale`
and :func:`contractive` (the standard scaling into B3).

The classes of ``c * C`` are *derived* by the ``scale.*`` rules of
:mod:`~theorykit.compressors.algebra.rules` from the inner spec's claimed and implied
classes (Beznosikov, Horváth, Richtárik & Safaryan, JMLR 24(276), 2023, relations 3, 6, 7
and 9 — recalled; proofs derived); the codec sends the inner message unchanged and the
decoder multiplies by ``c``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import sympy as sp
import torch

from theorykit.compressors.algebra.derive import (
    Derivation,
    DerivedSpec,
    apply_rule,
    as_expr,
    derived_class,
    sources,
)
from theorykit.compressors.algebra.proofs import DELTA, ZETA, C
from theorykit.compressors.algebra.rules import RULES
from theorykit.compressors.base import CompressorSpec, D, Param, Payload
from theorykit.compressors.classes import SignType
from theorykit.errors import AssumptionError, InputError

__all__ = ["ScaledSpec", "contractive", "scale", "scaled_class"]


class ScaledSpec(DerivedSpec):
    r"""``c * C`` for an inner spec ``C`` and a constant ``c > 0`` (a number or an
    expression in the parameters and ``d``). Codec: the inner message unchanged, the
    decoder multiplies by ``c`` (the receiver knows ``c``). Classes: derived by the
    ``scale.*`` rules from the inner spec's claimed and implied classes."""

    inner_cls: ClassVar[type[CompressorSpec]]
    factor: ClassVar[sp.Expr]

    @property
    def inner(self) -> CompressorSpec:
        return self.part(self.inner_cls)

    def _validate(self) -> None:
        self.inner  # noqa: B018 - validates the inner parameters
        c = self.factor.subs(self.substitutions(self.d or 2))
        if not c.free_symbols and (not c.is_real or float(c) <= 0):
            raise InputError(f"{self.name}: scale factor must be > 0, got {sp.sstr(c)}")

    def check_dim(self, d: int) -> None:
        self.inner.check_dim(d)

    def c_value(self, d: int) -> float:
        """The numeric scale factor at dimension ``d`` (cached: the codec calls it)."""
        return self._memo("c_value", self._c_value, d)

    def _c_value(self, d: int) -> float:
        c = self.factor.subs(self.substitutions(d))
        if c.free_symbols:
            raise InputError(f"{self.name}: scale factor {sp.sstr(c)} needs values for "
                             f"{sorted(map(str, c.free_symbols))}")
        val = float(c)
        if not (val > 0 and math.isfinite(val)):
            raise InputError(f"{self.name}: scale factor must be > 0, got {val}")
        return val

    def derivations(self) -> list[Derivation]:
        c = self.factor
        out: list[Derivation] = []
        inner_classes = list(self.inner.classes())
        if c == 1:
            return [Derivation(k, "identity", k.pretty()) for k in inner_classes]
        for src, text in sources(inner_classes):
            if isinstance(src, SignType):
                out.append(Derivation(src, "scale keeps sign-type", text))
            elif src.name == "B1":
                out.append(apply_rule(RULES["scale.B1"], src, {C: c}, text))
            elif src.name == "B2":
                out.append(apply_rule(RULES["scale.B2"], src, {C: c}, text))
                out.append(apply_rule(RULES["scale.B2>B3"], src, {C: c}, text))
            elif src.name == "B3":
                out.append(apply_rule(RULES["scale.B3"], src, {C: c, ZETA: sp.Integer(1)}, text))
        inner = self.inner
        if isinstance(inner, DerivedSpec):
            for delta, zeta in inner.b3_inflation():
                out.append(apply_rule(RULES["scale.B3"], None, {C: c, ZETA: zeta, DELTA: delta},
                                  f"Q(C0), C0 ∈ B3({sp.sstr(delta)}), zeta={sp.sstr(zeta)}"))
        return out

    def bits(self) -> sp.Expr:
        return self.inner.bits()

    def covariance(self, v: sp.Matrix) -> sp.Matrix | None:
        cov = self.inner.covariance(v)
        return None if cov is None else cov * self.factor**2

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        p = self.inner.encode(x, generator)
        p.compressor = self.name
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        return self.inner.decode(payload) * self.c_value(payload.dim)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.inner.apply(x, generator) * self.c_value(x.shape[-1])


def scaled_class(inner: type[CompressorSpec], c: Any, *, name: str | None = None,
                 title: str | None = None, reference: str | None = None
                 ) -> type[ScaledSpec]:
    """A spec class for ``c * inner``. ``c``: number or SymPy expression in the inner
    parameters and ``d`` (symbols matched by name, e.g. ``"k/d"``); any other free symbol
    becomes a new positive float parameter of the scaled spec."""
    if not (isinstance(inner, type) and issubclass(inner, CompressorSpec)):
        raise InputError(f"scaled_class needs a CompressorSpec subclass, got {inner!r}")
    syms = {p.name: p.symbol() for p in inner.params} | {"d": D}
    expr = as_expr(c, syms)
    extra = tuple(Param(s.name, float, f"free scale parameter {s.name}", minimum=0,
                        minimum_inclusive=False)
                  for s in sorted(expr.free_symbols, key=str) if s.name not in syms)
    if extra:
        syms |= {p.name: p.symbol() for p in extra}
        expr = as_expr(expr, syms)
    if not expr.free_symbols and (not expr.is_real or float(expr) <= 0):
        raise InputError(f"scale factor must be > 0, got {sp.sstr(expr)}")
    return derived_class(
        ScaledSpec, (inner,), f"Scaled{inner.__name__}", name=name or f"scaled_{inner.name}",
        title=title or f"({sp.sstr(expr)}) x {inner.title or inner.name}",
        reference=reference, formula=f"{sp.sstr(expr)} * {inner.name}", rules="scale.*",
        relations="relations", params=tuple(inner.params) + extra,
        doc=f"{sp.sstr(expr)} * {inner.__name__}", inner_cls=inner, factor=expr)


def scale(spec: CompressorSpec, c: Any, *, name: str | None = None) -> CompressorSpec:
    """``c * spec`` as a new spec instance (same parameter values and ``d``) whose classes
    are derived: e.g. ``c = 1/(1+omega)`` on ``U(omega)`` gives ``B3(1+omega)``, ``c = 1/beta``
    on ``B2(gamma, beta)`` gives ``B3(beta/gamma)``."""
    cls = scaled_class(type(spec), c, name=name)
    vals = dict(spec.values)
    extra = {p.name for p in cls.params} - {p.name for p in type(spec).params}
    if extra:
        raise InputError(f"scale factor has free parameters {sorted(extra)}; use scaled_class "
                         "and give their values")
    return cls(**vals, d=spec.d)


def contractive(spec: CompressorSpec, *, name: str | None = None) -> CompressorSpec:
    """The standard scaling into B3: ``1/(1+omega)`` for U(omega) (relation 3), ``1/zeta``
    for a composition ``Q(C0)`` with ``C0 ∈ B3`` (relation 9), else ``1/beta`` of B2 or B1
    (relations 6, 7). Raises :class:`AssumptionError` if none applies."""
    u = spec.membership("U")
    if u is not None:
        return scale(spec, 1 / (1 + sp.sympify(u.constants()["omega"])), name=name)
    if isinstance(spec, DerivedSpec) and spec.b3_inflation():
        return scale(spec, 1 / spec.b3_inflation()[0][1], name=name)
    for cname in ("B2", "B1"):
        m = spec.membership(cname)
        if m is not None:
            return scale(spec, 1 / sp.sympify(m.constants()["beta"]), name=name)
    raise AssumptionError(f"{spec.name}: no U, B1 or B2 membership to scale into B3")

