"""Derived memberships: applying a rule to a spec's classes, the closure under inclusions,
and :class:`DerivedSpec`, the base of specs whose classes are derived (never typed in).

A :class:`Derivation` is one rule of :data:`~theorykit.compressors.algebra.rules.RULES`
applied to a source class (constants substituted for the rule's generic symbols). Where
several rules give the same class, :func:`combine` merges their constants with ``Min`` /
``Max`` (every candidate is a proven bound); a rule whose condition (e.g. ``c beta < 2``)
SymPy cannot decide stays *conditional* and enters ``numeric_classes(d)`` only where the
numbers satisfy it. Relations: Beznosikov, Horváth, Richtárik & Safaryan, JMLR 24(276),
2023, Section 2 (recalled; the proofs are derived in :mod:`~.rules`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import sympy as sp

from theorykit.compressors.algebra.proofs import GENERIC, STRONGER, Rule
from theorykit.compressors.algebra.rules import RULES
from theorykit.compressors.base import CompressorSpec, Param
from theorykit.compressors.classes import CompressorClass, SignType
from theorykit.errors import InputError

__all__ = [
    "Derivation",
    "DerivedSpec",
    "apply_rule",
    "as_expr",
    "combine",
    "derived_class",
    "implied_classes",
    "simplify_constant",
    "sources",
    "stronger",
    "symbolic_spec",
]

_T = TypeVar("_T")
_S = TypeVar("_S", bound=CompressorSpec)


@dataclass(frozen=True)
class Derivation:
    """A derived membership: the class, the rule, the source class and its condition
    (``sympy.true`` when unconditional) in the spec's own symbols."""

    cls: CompressorClass
    rule: str
    source: str
    condition: sp.Basic = sp.true

    def text(self) -> str:
        cond = "" if self.condition is sp.true else f" if {sp.sstr(self.condition)}"
        return f"{self.cls.pretty()}{cond}  [{self.rule} from {self.source}]"


def apply_rule(rule: Rule, src: CompressorClass | None, extra: dict[sp.Symbol, sp.Expr],
           source_text: str) -> Derivation:
    subs = dict(extra)
    if src is not None:
        for k, v in src.constants().items():
            subs[GENERIC[k]] = sp.sympify(v)
    consts = {k: simplify_constant(sp.sympify(v).subs(subs, simultaneous=True))
              for k, v in rule.constants.items()}
    cond = _decide(rule.condition.subs(subs, simultaneous=True))
    return Derivation(rule.conclusion(**consts), rule.key, source_text, cond)


def simplify_constant(e: sp.Expr) -> sp.Expr:
    e = sp.sympify(e)
    if e.has(sp.Min, sp.Max, sp.Piecewise):
        return e
    return sp.factor_terms(sp.simplify(e))


def _decide(cond: Any) -> sp.Basic:
    cond = sp.sympify(cond)
    if cond in (sp.true, sp.false):
        return cond
    try:
        lhs_minus_rhs = cond.lhs - cond.rhs
        v = sp.simplify(lhs_minus_rhs)
        rel = type(cond)(v, 0)
        if rel in (sp.true, sp.false):
            return rel
        return cond
    except AttributeError:
        return cond


def _truth(cond: sp.Basic, subs: dict) -> bool | None:
    if cond is sp.true:
        return True
    if cond is sp.false:
        return False
    val = cond.subs(subs)
    if val in (sp.true, sp.false):
        return bool(val)
    try:
        return bool(val)
    except TypeError:
        return None


def implied_classes(spec_or_classes: CompressorSpec | Iterable[CompressorClass]
                    ) -> list[Derivation]:
    """Memberships implied by the claimed classes through the inclusions (U<B1, U<B2,
    U<B3, B1<B2, B2<B1, B3<B2), closed under repetition; a class name already claimed is
    not re-derived. Conditional results (U<B3 needs omega < 1) carry their condition."""
    claimed = list(spec_or_classes.classes() if isinstance(spec_or_classes, CompressorSpec)
                   else spec_or_classes)
    have = {c.name for c in claimed}
    out: list[Derivation] = []
    frontier: list[tuple[CompressorClass, str]] = [(c, c.pretty()) for c in claimed]
    by_premise: dict[str, list[str]] = {
        "U": ["U<B1", "U<B2", "U<B3"], "B1": ["B1<B2"], "B2": ["B2<B1"], "B3": ["B3<B2"]}
    while frontier:
        src, text = frontier.pop(0)
        for key in by_premise.get(src.name, []):
            der = apply_rule(RULES[key], src, {}, text)
            if der.cls.name in have or der.condition is sp.false:
                continue
            have.add(der.cls.name)
            out.append(der)
            if der.condition is sp.true:
                frontier.append((der.cls, f"{der.cls.pretty()} (implied)"))
    return out


def sources(classes: Iterable[CompressorClass]) -> list[tuple[CompressorClass, str]]:
    """Claimed classes plus unconditional implied classes of names not claimed."""
    claimed = list(classes)
    out = [(c, c.pretty()) for c in claimed]
    for der in implied_classes(claimed):
        if der.condition is sp.true:
            out.append((der.cls, f"{der.cls.pretty()} [{der.rule}]"))
    return out


def stronger(prev: CompressorClass, new: CompressorClass,
             tidy: Callable[[sp.Expr], sp.Expr] = sp.sympify) -> CompressorClass:
    """Two proven memberships of one class merged constant by constant (:data:`STRONGER`:
    the smaller upper constant, the larger lower one), each passed through ``tidy``."""
    return type(prev)(**{k: tidy(STRONGER[k](prev.constants()[k], v))
                         for k, v in new.constants().items()})


def combine(derivations: list[Derivation]) -> tuple[list[CompressorClass],
                                                      list[Derivation]]:
    """Unconditional derivations merged per class name (constants with Min/Max) and the
    conditional ones."""
    merged: dict[str, CompressorClass] = {}
    conditional = []
    for der in derivations:
        if der.condition is sp.false:
            continue
        if der.condition is not sp.true:
            conditional.append(der)
            continue
        if isinstance(der.cls, SignType):
            merged.setdefault(der.cls.name, der.cls)
            continue
        prev = merged.get(der.cls.name)
        merged[der.cls.name] = der.cls if prev is None else stronger(prev, der.cls,
                                                                     simplify_constant)
    order = {"U": 0, "B1": 1, "B2": 2, "B3": 3, "sign-type": 4}
    return sorted(merged.values(), key=lambda c: order.get(c.name, 9)), conditional


class DerivedSpec(CompressorSpec):
    """Base of specs built by :func:`scaled_class` / :func:`composed_class`: classes come
    from :meth:`derivations`; ``numeric_classes`` adds the conditional derivations whose
    conditions hold at the given numbers."""

    b3_inflation_rules: ClassVar[bool] = False

    def derivations(self) -> list[Derivation]:
        raise NotImplementedError

    def _memo(self, name: str, make: Callable[..., _T], *args: Any) -> _T:
        """``make(*args)``, computed once per instance, ``name`` and ``args`` (a spec does
        not change once built; the cache is the instance's ``_cache`` entry)."""
        cache = self.__dict__.setdefault("_cache", {})
        key = (name, *args)
        if key not in cache:
            cache[key] = make(*args)
        return cache[key]

    def part(self, cls: type[CompressorSpec], d: int | None = None) -> CompressorSpec:
        """The constituent spec ``cls`` (the inner spec of a scaling, either side of a
        composition) with this spec's values of its parameters, at dimension ``d``
        (symbolic if ``None``; see :func:`symbolic_spec`), built once."""
        return self._memo("part", self._build_part, cls, d)

    def _build_part(self, cls: type[CompressorSpec], d: int | None) -> CompressorSpec:
        names = {p.name for p in cls.params}
        return symbolic_spec(cls, {k: v for k, v in self.values.items() if k in names}, d)

    def _derived(self) -> tuple[list[CompressorClass], list[Derivation]]:
        return self._memo("derived", lambda: combine(self.derivations()))

    def classes(self) -> tuple[CompressorClass, ...]:
        return tuple(self._derived()[0])

    def conditional_classes(self) -> list[Derivation]:
        """Derivations valid only under a condition SymPy could not decide symbolically."""
        return list(self._derived()[1])

    def b3_inflation(self) -> list[tuple[sp.Expr, sp.Expr]]:
        """Pairs ``(delta, zeta)``: the spec is ``Q(C0)`` with ``C0 ∈ B3(delta)`` and ``Q``
        unbiased with ``E||Q(y)||^2 <= zeta ||y||^2`` (rule ``scale.B3``)."""
        return []

    def numeric_classes(self, d: int | None = None) -> tuple[CompressorClass, ...]:
        subs = self.substitutions(d)
        base = {c.name: c.subs(subs) for c in self.classes()}
        for der in self.conditional_classes():
            if _truth(der.condition, subs) is not True:
                continue
            new = der.cls.subs(subs)
            prev = base.get(new.name)
            base[new.name] = new if prev is None else stronger(prev, new)
        return tuple(base.values())


def as_expr(c: Any, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    """A scale factor (or support size) as a SymPy expression in the spec's symbols (matched
    by name). Text goes through the safe parser :func:`theorykit.expr.parse_expr`, never
    ``sympify``; a name that is not the spec's becomes a new positive symbol."""
    if isinstance(c, str):
        from theorykit.expr import CONSTANTS, FUNCTIONS, parse_expr

        names = set(re.findall(r"[A-Za-z_]\w*", c)) - set(FUNCTIONS) - set(CONSTANTS)
        return parse_expr(c, {n: symbols.get(n, sp.Symbol(n, positive=True)) for n in names},
                          what="scale factor")
    try:
        e = sp.sympify(c, strict=True)
    except (sp.SympifyError, TypeError):
        raise InputError(f"scale factor {c!r} is not a number or SymPy expression") from None
    return e.subs({s: symbols.get(s.name, sp.Symbol(s.name, positive=True))
                   for s in e.free_symbols}, simultaneous=True)


def derived_class(base: type[_S], parts: tuple[type[CompressorSpec], ...], type_name: str, *,
                  name: str, title: str, reference: str | None, formula: str, rules: str,
                  relations: str, params: tuple[Param, ...], doc: str, **attrs: Any
                  ) -> type[_S]:
    """A new subclass ``type_name`` of ``base`` built from the spec classes ``parts`` (the
    inner one last): randomized if any part is, defined in the inner part's module, with a
    default reference naming ``formula`` and the ``rules`` (Beznosikov et al., JMLR 2023,
    ``relations``) that derive its classes; ``attrs`` are the base's own class attributes."""
    reference = reference or (f"{formula}; classes derived by theorykit.compressors.algebra "
                              f"({rules} rules; Beznosikov et al., JMLR 2023, {relations} "
                              "recalled)")
    return type(type_name, (base,), {
        "name": name, "title": title, "reference": reference, "params": params,
        "randomized": any(p.randomized for p in parts), "__module__": parts[-1].__module__,
        "__doc__": f"{doc} (classes derived, see algebra).", **attrs})


def symbolic_spec(cls: type[CompressorSpec], values: dict[str, Any] | None = None,
                  d: int | None = None) -> CompressorSpec:
    """An instance of ``cls`` for its symbolic face. With every required parameter given it
    is ``cls(**values, d=d)`` (validated; errors propagate). If some are missing — e.g. to
    list a catalog entry's formulas — the instance is built without ``__init__`` (given
    values validated, defaults filled): its ``classes()``/``bits()`` work, its codec needs
    the missing values and raises :class:`InputError` naming them."""
    values = dict(values or {})
    missing = [p.name for p in cls.params if p.required and p.name not in values]
    if not missing:
        return cls(**values, d=d)
    obj = cls.__new__(cls)
    known = {p.name: p for p in cls.params}
    obj.values = {n: known[n].validate(v) for n, v in values.items() if n in known}
    for p in cls.params:
        if p.name not in obj.values and p.default is not None:
            obj.values[p.name] = p.validate(p.default)
    obj.d = None
    return obj


