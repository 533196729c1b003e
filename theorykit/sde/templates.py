"""Expression templates of the lambdify adapter's vector path
(:func:`theorykit.sde.lambdify.vector_function`): components that depend on one coordinate
and agree up to numeric constants share one *template* (:func:`template_key`,
:func:`build_template`), evaluated once with vector-valued constants; components that are
polynomials in the state are split into monomials (:func:`polynomial_terms`)."""

from __future__ import annotations

import sympy as sp

__all__ = ["TemplateGroup", "TemplateMembers", "build_template", "polynomial_terms",
           "template_key"]


class TemplateGroup:
    """Components evaluated together by one template with vector constants."""

    def __init__(self, fn, comps, cols, consts) -> None:
        self.fn = fn
        self.comps = comps      # output indices
        self.cols = cols        # state coordinate of each component
        self.consts = consts    # list of per-placeholder constant lists


class TemplateMembers:
    """One-coordinate components that share a canonical template (see template_key)."""

    def __init__(self) -> None:
        self.exprs: list[sp.Basic] = []       # each component with its coordinate as u
        self.comps: list[int] = []            # output indices
        self.cols: list[int] = []             # state coordinate of each component
        self.keys: list[str] = []             # raw template keys
        self.nums: list[list[sp.Expr]] = []   # raw template numbers
        self.cnums: list[list[sp.Expr]] = []  # canonical template numbers


def _child_is_term(e: sp.Basic) -> bool:
    """Whether the arguments of ``e`` are *term positions* (summands, function arguments)."""
    return isinstance(e, sp.Add | sp.Function)


def _protected_child(e: sp.Basic, k: int, a: sp.Basic) -> bool:
    """Numbers that stay literal in a template: integer powers and 2F1 parameters."""
    return (isinstance(e, sp.Pow) and k == 1 and a.is_Integer) or (
        type(e).__name__ == "_tk_hyp2f1" and k < 3)


def template_key(expr: sp.Basic, u: sp.Symbol, t: sp.Symbol | None, canon: bool = False):
    """(structure key, numbers in preorder) of a one-coordinate expression.

    Two components with the same key are the same *template* up to their unprotected
    numbers. With ``canon=True`` every term position (the root, each summand, each function
    argument) carries an explicit multiplicative coefficient (``as_coeff_Mul``), so that e.g.
    ``x_1**2 + 1/2`` and ``0.11*x_2**2 + 1/2`` (a coefficient that happens to be 1) or
    ``erf(x_1)`` and ``erf(0.7*x_2)`` share one key."""
    numbers: list[sp.Expr] = []
    tokens: list[str] = []

    def walk(e: sp.Basic, protected: bool, term: bool) -> None:
        if e.is_Number:
            if protected:
                tokens.append(f"={sp.srepr(e)}")
            else:
                tokens.append("#")
                numbers.append(e)
            return
        if canon and term and not protected and isinstance(e, sp.Expr):
            coeff, e = e.as_coeff_Mul()
            tokens.append("#*")
            numbers.append(coeff)
        if not e.args:
            tokens.append(sp.srepr(e) if e not in (u, t) else ("u" if e == u else "t"))
            return
        tokens.append(f"{type(e).__name__}(")
        child_term = _child_is_term(e)
        for k, a in enumerate(e.args):
            walk(a, protected or _protected_child(e, k, a), child_term)
        tokens.append(")")

    walk(expr, False, True)
    return "".join(tokens), numbers


def build_template(expr: sp.Basic, placeholders: list[sp.Symbol], canon: bool = False
                    ) -> sp.Basic:
    """Rebuild ``expr`` with its unprotected numbers replaced by ``placeholders`` (preorder,
    the order of :func:`template_key` with the same ``canon``)."""
    it = iter(placeholders)

    def build(e: sp.Basic, protected: bool, term: bool) -> sp.Basic:
        if e.is_Number:
            return e if protected else next(it)
        coef = None
        if canon and term and not protected and isinstance(e, sp.Expr):
            _, e = e.as_coeff_Mul()
            coef = next(it)
        if e.args:
            child_term = _child_is_term(e)
            e = e.func(*[build(a, protected or _protected_child(e, k, a), child_term)
                         for k, a in enumerate(e.args)])
        return e if coef is None else coef * e

    return build(expr, False, True)


def polynomial_terms(e: sp.Expr, index: dict[sp.Symbol, int]):
    """[(coef, [(var, power), ...]), ...] if ``e`` is a polynomial in the state; else None."""
    terms = []
    for term in sp.Add.make_args(sp.expand(e)):
        coef, rest = term.as_coeff_Mul()
        factors = []
        for base, p in rest.as_powers_dict().items():
            if base == 1:
                continue
            if base not in index or not (p.is_Integer and p > 0):
                return None
            factors.append((index[base], int(p)))
        if not coef.is_Number:
            return None
        terms.append((float(coef), factors))
    return terms
