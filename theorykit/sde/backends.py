"""From a SymPy expression to a numpy or torch function: the backend half of the lambdify
adapter (:mod:`theorykit.sde.lambdify`).

:func:`prepare` substitutes numeric parameters, folds numeric sub-expressions to floats
(:func:`fold_numbers`: e.g. ``gamma(65/2)`` never reaches the printer as a huge exact
integer) and rewrites the functions a backend's printer lacks into the adapter's own
(:func:`rewrite`); :func:`lambdify_backend` lambdifies with the implementations of
:mod:`theorykit.sde.special`. Printer gaps closed (see TOOLCHAIN.md; each is tested in
``tests/test_lambdify.py``):

* numpy: ``modules=["scipy", "numpy"]`` (plain numpy mis-prints ``erf``); ``hyper`` ->
  ``scipy.special.hyp2f1``; ``Max``/``Min`` -> element-wise ``maximum``/``minimum``.
* torch: ``erfc`` -> ``torch.special.erfc``, ``gamma`` -> ``exp(lgamma)`` with its sign,
  ``erfinv``, ``Heaviside``, ``Max``/``Min``, ``frac`` -> ``x - floor(x)``, and the
  Student-t hypergeometric function (:mod:`theorykit.sde.special`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import sympy as sp

from theorykit.errors import DerivationError, InputError
from theorykit.sde.special import NUMPY_FUNCS, TORCH_FUNCS

__all__ = ["CUSTOM_FUNCTIONS", "Backend", "check_free", "fold_numbers", "lambdify_backend",
           "prepare", "rewrite", "torch_printer"]

Backend = Literal["numpy", "torch"]


# --------------------------------------------------------------------------- custom functions
class _tk_erfc(sp.Function):
    nargs = 1


class _tk_gamma(sp.Function):
    nargs = 1


class _tk_erfinv(sp.Function):
    nargs = 1


class _tk_hyp2f1(sp.Function):
    nargs = 4


class _tk_max(sp.Function):
    pass


class _tk_min(sp.Function):
    pass


class _tk_heaviside(sp.Function):
    nargs = 2


CUSTOM_FUNCTIONS = ("_tk_erfc", "_tk_gamma", "_tk_erfinv", "_tk_hyp2f1", "_tk_max", "_tk_min",
           "_tk_heaviside")


def rewrite(expr: sp.Expr, backend: Backend) -> sp.Expr:
    """Replace functions the backend's printer lacks by the adapter's own functions."""

    def hyp(e: sp.hyper) -> sp.Expr:
        ap, bq = list(e.ap), list(e.bq)
        if len(ap) == 2 and len(bq) == 1:
            return _tk_hyp2f1(ap[0], ap[1], bq[0], e.argument)
        closed = sp.hyperexpand(e)  # e.g. 1F0(a;;z) = (1 - z)^(-a) after parameter cancellation
        if not closed.has(sp.hyper):
            return closed
        raise DerivationError(
            f"lambdify: only 2F1 hypergeometric functions are supported, got {e}")

    rules: list[tuple[Callable[[Any], bool], Callable[[Any], sp.Expr]]] = [
        (lambda e: isinstance(e, sp.hyper), hyp),
        (lambda e: isinstance(e, sp.Max), lambda e: _tk_max(*e.args)),
        (lambda e: isinstance(e, sp.Min), lambda e: _tk_min(*e.args)),
        (lambda e: isinstance(e, sp.frac), lambda e: e.args[0] - sp.floor(e.args[0])),
    ]
    if backend == "torch":
        rules += [
            (lambda e: isinstance(e, sp.erfc), lambda e: _tk_erfc(e.args[0])),
            (lambda e: isinstance(e, sp.gamma), lambda e: _tk_gamma(e.args[0])),
            (lambda e: isinstance(e, sp.erfinv), lambda e: _tk_erfinv(e.args[0])),
            (lambda e: isinstance(e, sp.Heaviside),
             lambda e: _tk_heaviside(e.args[0],
                                     e.args[1] if len(e.args) > 1 else sp.Rational(1, 2))),
        ]
    for test, repl in rules:
        expr = expr.replace(test, repl)
    return expr


def torch_printer():
    """SymPy's torch printer, printing the adapter's functions by name (see
    :data:`CUSTOM_FUNCTIONS`) for :data:`~theorykit.sde.special.TORCH_FUNCS`."""
    from sympy.printing.pytorch import TorchPrinter

    class _Printer(TorchPrinter):
        def _print_Function(self, expr):
            name = type(expr).__name__
            if name in CUSTOM_FUNCTIONS:
                return f"{name}({', '.join(self._print(a) for a in expr.args)})"
            return super()._print_Function(expr)

    return _Printer({"fully_qualified_modules": True, "inline": True,
                     "allow_unknown_functions": True})


# --------------------------------------------------------------------------- preparation
def fold_numbers(expr: sp.Basic) -> sp.Basic:
    """Fold composite numeric sub-expressions (``sqrt(2)/2``, ``gamma(65/2)``) to Floats."""
    if not expr.args:
        return expr
    if isinstance(expr, sp.Expr) and expr.is_number:
        v = expr.evalf(17)
        if v.is_Number:
            return v
        return expr
    return expr.func(*[fold_numbers(a) for a in expr.args])


def _subs_params(expr: sp.Basic, params: Mapping[Any, Any]) -> sp.Basic:
    if not params:
        return expr
    rep: dict[sp.Symbol, Any] = {}
    by_name = {str(k): v for k, v in params.items()}
    for s in expr.free_symbols:
        if s in params:
            rep[s] = params[s]
        elif s.name in by_name:
            rep[s] = by_name[s.name]
    return expr.xreplace({k: sp.sympify(v) for k, v in rep.items()}) if rep else expr


def prepare(expr: Any, backend: Backend, params: Mapping[Any, Any] | None = None) -> sp.Expr:
    """Substitute numeric parameters, fold numbers and rewrite for the backend."""
    if backend not in ("numpy", "torch"):
        raise InputError(f"unknown lambdify backend {backend!r}; use 'numpy' or 'torch'")
    e = _subs_params(sp.sympify(expr), params or {})
    return rewrite(fold_numbers(e), backend)


def lambdify_backend(args: Sequence[Any], expr: Any, backend: Backend, cse: bool = False):
    """``sp.lambdify`` of a :func:`prepare`-d expression for the backend."""
    if backend == "torch":
        return sp.lambdify(args, expr, modules=[TORCH_FUNCS, "torch"],
                           printer=torch_printer(), cse=cse)
    return sp.lambdify(args, expr, modules=[NUMPY_FUNCS, "scipy", "numpy"], cse=cse)


def check_free(exprs: Sequence[sp.Expr], allowed: set[sp.Symbol]) -> None:
    """Raise when an expression has a free symbol (by name) outside ``allowed``."""
    missing = sorted({s.name for e in exprs for s in e.free_symbols} -
                     {s.name for s in allowed})
    if missing:
        raise InputError(f"lambdify: no value given for parameter(s) {', '.join(missing)}")
