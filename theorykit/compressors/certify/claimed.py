"""What the certifier tests: the claimed class inequalities of a spec at one dimension, as
numbers (:func:`numeric_tests`), and the reverse inequality of a constant claimed attained
(:func:`attained_test`). Classes: Beznosikov, Horváth, Richtárik & Safaryan, JMLR
24(276), 2023, Defs. 1–3 (recalled), as :mod:`theorykit.compressors.classes` states them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.certify.report import ATTAINED
from theorykit.compressors.certify.stat_tests import STATISTICS, NumericTest
from theorykit.compressors.classes import CompressorClass, Inequality, SignType
from theorykit.errors import InputError

__all__ = ["ClaimedClasses", "attained_test", "numeric_tests", "to_float"]

ClaimedClasses = Callable[[int], Sequence[CompressorClass]]
"""``d -> numeric class memberships``: the constants to certify at dimension ``d`` (by
default ``spec.numeric_classes(d)``; a caller may certify other values, e.g. a mutant)."""


def to_float(expr: Any, what: str) -> float:
    """``expr`` as a float; :class:`InputError` naming ``what`` if it still has free
    symbols or is not real."""
    e = sp.sympify(expr)
    if e.free_symbols:
        names = sorted(str(s) for s in e.free_symbols)
        raise InputError(f"{what} = {sp.sstr(e)} still depends on {names}; give their values")
    try:
        return float(sp.N(e))
    except (TypeError, ValueError):
        raise InputError(f"{what} = {sp.sstr(e)} is not a real number") from None


def numeric_tests(spec: CompressorSpec, d: int, claimed: ClaimedClasses | None = None
                  ) -> tuple[list[NumericTest], list[str], bool]:
    """The numeric inequalities claimed at dimension ``d`` (``spec.numeric_classes(d)``, or
    ``claimed(d)`` when given); the unbiased class keys; and whether a sign-type membership
    is claimed."""
    tests: list[NumericTest] = []
    unbiased: list[str] = []
    sign = False
    seen: dict[str, int] = {}
    symbolic: dict[str, list[CompressorClass]] = {}
    for c in spec.classes():
        symbolic.setdefault(c.name, []).append(c)
    for c in (spec.numeric_classes(d) if claimed is None else claimed(d)):
        if isinstance(c, SignType):
            sign = True
            continue
        seen[c.name] = seen.get(c.name, 0) + 1
        cname = c.name if seen[c.name] == 1 else f"{c.name}#{seen[c.name]}"
        same = symbolic.get(c.name, [])
        # the formula: the symbolic membership of the same name and rank, if any (a derived
        # spec may add conditional memberships whose condition holds only at these numbers)
        sym = same[seen[c.name] - 1] if len(same) >= seen[c.name] else c
        for q in c.inequalities():
            bad = set(q.coeffs) - set(STATISTICS)
            if bad:
                raise InputError(f"{spec.name}: inequality {q.label} of {c.name} uses unknown "
                                 f"statistics {sorted(bad)}; known: {STATISTICS}")
            key = f"{cname}.{q.label}"
            coeffs = {s: to_float(v, f"{spec.name} {key} coefficient")
                      for s, v in q.coeffs.items()}
            formula = sp.sstr(sym.constants().get(q.label, ""))
            tests.append(NumericTest(key, c, q, coeffs, to_float(q.rhs, f"{spec.name} {key}"),
                                     formula))
        if c.requires_unbiased:
            unbiased.append(f"{cname}.unbiased")
    return tests, unbiased, sign


def attained_test(t: NumericTest, inputs: Sequence[str]) -> NumericTest:
    """The reverse inequality of ``t`` (its violation is the slack of ``t``): rejected when
    the claimed bound is not attained at an input where it is claimed to be."""
    q = t.ineq
    flipped = Inequality(q.label, q.coeffs, "ge" if q.sense == "le" else "le", q.rhs,
                         f"attained ({q.text.replace('<=', '=').replace('>=', '=')}) at "
                         f"{', '.join(inputs)}")
    return NumericTest(t.key + ATTAINED, t.cls, flipped, t.coeffs, t.rhs, t.formula)


