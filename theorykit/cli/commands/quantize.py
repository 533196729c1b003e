"""``theorykit quantize``: the optimal truncated quantizer of a gradient density.

Examples::

    theorykit quantize --density laplace --levels 7
    theorykit quantize --density laplace -p gamma=0.01 --bits 3 --scheme uniform
    theorykit quantize --density pareto -p rho=5 --levels 7 --json
    theorykit quantize --density student_t -p nu=3 --bits 2 --scheme biscaled
    theorykit quantize --density custom -p 'pdf=exp(-g**2/2)/sqrt(2*pi)' --levels 3

Prints the threshold α, the ``s + 1`` levels, the predicted per-coordinate error (the
high-resolution model with ``c_Q``; Yan et al., arXiv 2402.01160 / 2402.01798, digest
§2.0-2.2), the codec's exact MSE (numeric integration), the bits and, where SymPy finds one,
the closed form of α* (and of E*). All of it comes from :func:`theorykit.rules.quantization
.optimize`.
"""

from __future__ import annotations

import argparse
from typing import Any

import sympy as sp

from theorykit.cli.common import add_params_option, parse_params, print_json
from theorykit.errors import InputError
from theorykit.expr import parse_expr
from theorykit.limits import MAX_BITS, MAX_LEVELS, MAX_LEVELS_BISCALED, check_count


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quantize", help="optimal truncation threshold and levels for a gradient density",
        description="Optimal truncated quantization (TUQSGD / TNQSGD / TBQSGD): the "
        "threshold alpha and the s+1 levels minimising truncation bias + quantization "
        "variance for a symmetric gradient density, under a level (s) or bit budget.")
    p.add_argument("--density", required=True, metavar="NAME",
                   help="laplace (gamma), gaussian (sigma), student_t (nu, scale), "
                   "pareto (rho, g_m) or custom (pdf=EXPR in g)")
    add_params_option(p)
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--levels", metavar="S",
                        help="number of quantization intervals s (s + 1 levels)")
    budget.add_argument("--bits", metavar="B", help="bits per coordinate (s = 2^B - 1)")
    p.add_argument("--scheme", default="nonuniform",
                   help="nonuniform (default, levels ~ p^(1/3)), uniform or biscaled")
    p.add_argument("--cq", default="1/4", metavar="C",
                   help="cell-variance constant c_Q: 1/4 (worst case, the published "
                   "constant; default) or 1/6 (high-resolution average)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--latex", action="store_true", help="print the closed forms as LaTeX")
    p.set_defaults(func=run)


def _int_arg(flag: str, value: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{flag} must be an integer, got {value!r}") from None
    if f != f or f in (float("inf"), float("-inf")) or f != int(f):
        raise InputError(f"{flag} must be an integer, got {value!r}")
    return int(f)


def _cq(value: str) -> sp.Expr:
    """``--cq`` through the safe parser (no names: a constant such as 1/4 or 1/6)."""
    c = parse_expr(value, (), what="--cq")
    if c.is_Float:
        c = sp.nsimplify(c)
    if not (c.is_number and c.is_real and c.is_finite and c > 0):
        raise InputError(f"--cq must be a positive number such as 1/4 or 1/6, got {value!r}")
    return c


def _check_biscaled(scheme: str, s: int, flag: str) -> None:
    if scheme == "biscaled" and s > MAX_LEVELS_BISCALED:
        raise InputError(
            f"{flag}: the biscaled optimum allows at most s = {MAX_LEVELS_BISCALED} intervals "
            f"(6 bits): its search costs about s^2 numeric integrals (~17 s at s = 63, ~85 s "
            f"at s = 255); use --scheme nonuniform or uniform for finer quantizers")


def build(args: argparse.Namespace) -> Any:
    """The :class:`~theorykit.rules.quantization.QuantizerOptimum` the arguments ask for."""
    from theorykit.rules import quantization as q

    params = parse_params(args.param)
    d = q.density(args.density, **params)
    scheme = args.scheme.lower()
    if scheme not in ("uniform", "nonuniform", "biscaled"):
        raise InputError(f"--scheme must be uniform, nonuniform or biscaled, "
                         f"got {args.scheme!r}")
    if args.levels is not None:
        s = _int_arg("--levels", args.levels)
        if s < 1:
            raise InputError(f"--levels (s, the number of intervals) must be >= 1, got {s}")
        check_count("--levels", s, MAX_LEVELS, f"{MAX_BITS} bits per coordinate")
        _check_biscaled(scheme, s, "--levels")
        return q.optimize(d, s, scheme=scheme, c_q=_cq(args.cq))
    b = _int_arg("--bits", args.bits)
    if b < 1:
        raise InputError(f"--bits must be >= 1, got {b}")
    check_count("--bits", b, MAX_BITS, f"s = 2^B - 1 intervals, at most {MAX_LEVELS}")
    _check_biscaled(scheme, 2**b - 1, f"--bits {b} (s = {2**b - 1} intervals)")
    return q.optimize(d, bits=b, scheme=scheme, c_q=_cq(args.cq))


def run(args: argparse.Namespace) -> int:
    opt = build(args)
    closed_alpha = opt.expression if opt.closed_form else None
    closed_err = opt.error_expression if opt.closed_form else None
    if args.json:
        out = opt.to_json()
        out["alpha_latex"] = sp.latex(closed_alpha) if closed_alpha is not None else None
        out["error_latex"] = sp.latex(closed_err) if closed_err is not None else None
        print_json(out)
        return 0
    if args.latex:
        if closed_alpha is None:
            print(f"% no closed form: objective E(alpha) = {sp.latex(opt.expression)}")
        else:
            print(f"\\alpha^* = {sp.latex(closed_alpha)}")
            if closed_err is not None:
                print(f"E^* = {sp.latex(closed_err)}")
        return 0
    d = opt.density
    params = ", ".join(f"{k}={v:g}" for k, v in d.values) or "user pdf"
    print(f"{opt.scheme} truncated quantization of {d.title} ({params}), s = {opt.s} "
          f"intervals ({opt.s + 1} levels), c_Q = {opt.c_q}")
    print(f"  threshold alpha     = {opt.alpha:.6g}")
    if opt.scheme == "biscaled":
        ex = opt.extra
        print(f"  inner edge beta     = {ex['beta']:.6g} ({ex['s_inner']} inner intervals, "
              f"{ex['s_outer']} per outer side)")
    lv = ", ".join(f"{x:.4g}" for x in opt.levels)
    print(f"  levels              = [{lv}]")
    print(f"  predicted error     = {opt.predicted_error:.6g} per coordinate "
          f"(high-resolution model, c_Q = {opt.c_q})")
    print(f"  exact codec MSE     = {opt.exact_error:.6g} per coordinate "
          "(numeric integration)")
    print(f"  bits                = {opt.bits} per coordinate (+ 32 per message for alpha)")
    print(f"  method              = {opt.method}")
    if closed_alpha is not None:
        print("  closed form         : alpha* = " + sp.sstr(closed_alpha))
        if closed_err is not None:
            print("                        E*     = " + sp.sstr(closed_err))
        print("  pretty:")
        print("    " + sp.pretty(sp.Eq(sp.Symbol("α*"), closed_alpha),
                                 use_unicode=True).replace("\n", "\n    "))
    else:
        print("  closed form         : none (numeric optimum of the objective)")
    return 0
