r"""The one lambdify adapter: SymPy expressions -> batched numpy / torch functions.

Every numeric use of a symbolic expression in theorykit goes through
:func:`vector_function`, which turns a list of expressions ``e_1..e_m`` in the state symbols
``x_1..x_d`` (and optionally the time ``t``) into ``fn(t, X) -> (P, m)`` for a batch ``X`` of
shape ``(P, d)``.

Printer gaps it closes (see TOOLCHAIN.md; each is tested in ``tests/test_lambdify.py``):

* numpy: ``modules=["scipy", "numpy"]`` (plain numpy mis-prints ``erf``); ``hyper`` ->
  ``scipy.special.hyp2f1``; ``Max``/``Min`` -> element-wise ``maximum``/``minimum``.
* torch: ``erfc`` -> ``torch.special.erfc``, ``gamma`` -> ``exp(lgamma)`` with its sign,
  ``erfinv``, ``Heaviside``, ``Max``/``Min``, ``frac`` -> ``x - floor(x)``, and the
  Student-t hypergeometric function :math:`{}_2F_1(\tfrac12, \beta; \tfrac32; -w)` (torch has
  none) by an exact reduction formula for integer :math:`2\beta` and Gauss--Legendre
  quadrature otherwise (*derived*: with :math:`s = \tan\theta/\sqrt w`,
  :math:`{}_2F_1(\tfrac12,\beta;\tfrac32;-w) = \int_0^1 (1 + w s^2)^{-\beta} ds =
  w^{-1/2}\int_0^{\arctan\sqrt w}\cos^{2\beta-2}\theta\, d\theta`).
* constants are broadcast to the batch shape; numeric sub-expressions are folded to floats
  first (so e.g. ``gamma(65/2)`` never reaches the printer as a huge exact integer).

Speed: components are evaluated as *vectors*, not one by one, where the structure allows:

1. components that depend on a single coordinate and share one expression *template* up to
   numeric constants (e.g. ``-λ_j x_j`` or ``erf(c_j x_j)`` on a diagonal quadratic) are
   evaluated by one lambdified template with vector-valued constants, broadcast over
   ``(P, d)``. Templates are matched with explicit coefficients where needed, so a
   coefficient that happens to be 1 (``x_j**2 + 1/2`` among ``c_j x_j**2 + 1/2``) does not
   split the components into a second template (with a gather and a scatter per call); a
   constant shared by all components is passed as a scalar; contiguous column ranges are
   views, not gathers;
2. affine components in several coordinates (DSGD on a general quadratic) are one matmul;
3. other polynomials in x (e.g. a rand-k covariance ``c g_j g_k``) are evaluated as a sparse
   polynomial (a few gathers and one scatter-add, whatever d);
4. anything else falls back to one lambdified function of all components (with ``cse``).

The three paths agree with the plain per-component lambdify (tested). The functions return
a new array (never the input or a view of it), which callers such as
:meth:`theorykit.sde.sde.SDE.lambdify` may modify in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

from theorykit.errors import DerivationError, InputError

__all__ = ["Backend", "fold_numbers", "prepare", "scalar_function", "vector_function"]

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


_CUSTOM = ("_tk_erfc", "_tk_gamma", "_tk_erfinv", "_tk_hyp2f1", "_tk_max", "_tk_min",
           "_tk_heaviside")


def _rewrite(expr: sp.Expr, backend: Backend) -> sp.Expr:
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


# ------------------------------------------------------------------ numpy implementations
def _np_hyp2f1(a, b, c, z):
    """scipy's hyp2f1, except the Student-t family 2F1(1/2, β; 3/2; -w), w >= 1, which is
    taken from the regularized incomplete beta function (scipy's hyp2f1 returns NaN there for
    large β): 2F1 = I_{w/(1+w)}(1/2, β - 1/2) sqrt(π) Γ(β - 1/2) / (2 sqrt(w) Γ(β))
    (*derived* from 2 F_ν(z) - 1 = sign(z) I_{z²/(ν+z²)}(1/2, ν/2), ν = 2β - 1)."""
    from scipy.special import betainc, gammaln, hyp2f1

    a, b, c = float(a), float(b), float(c)
    z = np.asarray(z, dtype=float)
    if c != 1.5 or 0.5 not in (a, b) or (b if a == 0.5 else a) <= 0.5:
        return hyp2f1(a, b, c, z)
    beta = b if a == 0.5 else a
    w = np.maximum(-z, 0.0)
    big = w >= 1.0
    ws = np.where(big, w, 1.0)
    tail = (betainc(0.5, beta - 0.5, ws / (1 + ws)) * np.exp(
        0.5 * np.log(np.pi) + gammaln(beta - 0.5) - gammaln(beta)) / (2 * np.sqrt(ws)))
    return np.where(big & (z <= 0), tail, hyp2f1(a, b, c, np.where(big, 0.0, z)))


def _np_max(*args):
    return reduce(np.maximum, args)


def _np_min(*args):
    return reduce(np.minimum, args)


_NUMPY_FUNCS = {"_tk_hyp2f1": _np_hyp2f1, "_tk_max": _np_max, "_tk_min": _np_min}


# ------------------------------------------------------------------ torch implementations
_GL_CACHE: dict[tuple[int, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _gauss_legendre(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = (n, str(like.device), like.dtype)
    if key not in _GL_CACHE:
        x, w = np.polynomial.legendre.leggauss(n)
        _GL_CACHE[key] = (torch.tensor((x + 1) / 2, dtype=like.dtype, device=like.device),
                          torch.tensor(w / 2, dtype=like.dtype, device=like.device))
    return _GL_CACHE[key]


def _cos_power_integral(n: float, theta: torch.Tensor) -> torch.Tensor:
    """I_n(theta) = int_0^theta cos^n(u) du, element-wise, for theta in [0, pi/2), n > -1.

    Integer n: the exact reduction I_m = cos^{m-1} sin / m + (m-1)/m I_{m-2}. Otherwise
    Gauss--Legendre (64 nodes) on a smooth integrand: directly for theta <= pi/4; for
    theta > pi/4 as I = C_n - J(pi/2 - theta) with C_n = sqrt(pi) Γ((n+1)/2) / (2 Γ(n/2+1))
    and J(a) = int_0^a sin^n φ dφ = int_0^a φ^n (sin φ/φ)^n dφ by Gauss--Jacobi quadrature
    with weight φ^n (*derived*; removes the endpoint singularity of cos^n at pi/2)."""
    if float(n).is_integer() and 0 <= n <= 400:
        k = int(n)
        c, s = torch.cos(theta), torch.sin(theta)
        prev2 = theta if k % 2 == 0 else s  # I_0 or I_1
        m = 0 if k % 2 == 0 else 1
        cur = prev2
        while m < k:  # I_m = cos^{m-1} sin / m + (m-1)/m I_{m-2}
            m += 2
            cur = c ** (m - 1) * s / m + (m - 1) / m * prev2
            prev2 = cur
        return cur
    nodes, weights = _gauss_legendre(64, theta)
    direct = theta * (torch.cos(theta.unsqueeze(-1) * nodes) ** n * weights).sum(-1)
    a = torch.clamp(math.pi / 2 - theta, min=0.0)
    jx, jw = _gauss_jacobi(n, theta)  # weight (1 + x)^n on [-1, 1]
    phi = a.unsqueeze(-1) * (1 + jx) / 2
    ratio = torch.where(phi > 0, torch.sin(phi) / torch.where(phi > 0, phi, 1.0), 1.0)
    J = (a / 2) ** (n + 1) * (ratio**n * jw).sum(-1)
    c_n = math.exp(0.5 * math.log(math.pi) + math.lgamma((n + 1) / 2) - math.lgamma(n / 2 + 1)) / 2
    return torch.where(theta <= math.pi / 4, direct, c_n - J)


_GJ_CACHE: dict[tuple[float, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _gauss_jacobi(n: float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = (float(n), str(like.device), like.dtype)
    if key not in _GJ_CACHE:
        from scipy.special import roots_jacobi

        x, w = roots_jacobi(48, 0.0, float(n))
        _GJ_CACHE[key] = (torch.tensor(x, dtype=like.dtype, device=like.device),
                          torch.tensor(w, dtype=like.dtype, device=like.device))
    return _GJ_CACHE[key]


def _torch_hyp2f1(a, b, c, z):
    """2F1(a, b; c; z) for the Student-t family a or b = 1/2, c = 3/2, z <= 0 (see module doc)."""
    a, b, c = float(a), float(b), float(c)
    if c != 1.5 or 0.5 not in (a, b):
        raise DerivationError(
            f"torch backend: 2F1({a:g}, {b:g}; {c:g}; z) is not supported (only the Student-t "
            "family 2F1(1/2, beta; 3/2; z <= 0)); use backend='numpy'")
    beta = b if a == 0.5 else a
    z = torch.as_tensor(z)
    w = torch.clamp(-z, min=0.0)
    tiny = torch.finfo(w.dtype).tiny ** 0.5 if w.is_floating_point() else 1e-150
    r = torch.sqrt(w).clamp_min(tiny)
    theta = torch.atan(r)
    return _cos_power_integral(2 * beta - 2, theta) / r


def _torch_gamma(x):
    x = torch.as_tensor(x)
    mag = torch.exp(torch.lgamma(x))
    odd = torch.remainder(torch.floor(x), 2) == 1
    return torch.where((x < 0) & odd, -mag, mag)


def _as_t(v, like=None):
    if isinstance(v, torch.Tensor):
        return v
    if like is not None:
        return torch.as_tensor(v, dtype=like.dtype, device=like.device)
    return torch.as_tensor(v, dtype=torch.float64)


def _torch_max(*args):
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    return reduce(torch.maximum, [_as_t(a, like) for a in args])


def _torch_min(*args):
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    return reduce(torch.minimum, [_as_t(a, like) for a in args])


def _torch_heaviside(x, h0):
    x = _as_t(x)
    return torch.heaviside(x, _as_t(float(h0), x))


_TORCH_FUNCS = {
    "_tk_erfc": lambda x: torch.special.erfc(_as_t(x)),
    "_tk_gamma": _torch_gamma,
    "_tk_erfinv": lambda x: torch.special.erfinv(_as_t(x)),
    "_tk_hyp2f1": _torch_hyp2f1,
    "_tk_max": _torch_max,
    "_tk_min": _torch_min,
    "_tk_heaviside": _torch_heaviside,
}


def _torch_printer():
    from sympy.printing.pytorch import TorchPrinter

    class _Printer(TorchPrinter):
        def _print_Function(self, expr):
            name = type(expr).__name__
            if name in _CUSTOM:
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
    return _rewrite(fold_numbers(e), backend)


def _lambdify(args: Sequence[Any], expr: Any, backend: Backend, cse: bool = False):
    if backend == "torch":
        return sp.lambdify(args, expr, modules=[_TORCH_FUNCS, "torch"],
                           printer=_torch_printer(), cse=cse)
    return sp.lambdify(args, expr, modules=[_NUMPY_FUNCS, "scipy", "numpy"], cse=cse)


def _check_free(exprs: Sequence[sp.Expr], allowed: set[sp.Symbol]) -> None:
    missing = sorted({s.name for e in exprs for s in e.free_symbols} -
                     {s.name for s in allowed})
    if missing:
        raise InputError(f"lambdify: no value given for parameter(s) {', '.join(missing)}")


def scalar_function(expr: Any, args: Sequence[sp.Symbol], backend: Backend = "numpy",
                    params: Mapping[Any, Any] | None = None) -> Callable[..., Any]:
    """``f(*args)`` for a single expression (element-wise; constants broadcast to the
    shape of the first array argument)."""
    e = prepare(expr, backend, params)
    _check_free([e], set(args))
    f = _lambdify(list(args), e, backend)

    def call(*vals):
        out = f(*vals)
        like = next((v for v in vals if hasattr(v, "shape") and v.shape != ()), None)
        if backend == "torch":
            ref = like if isinstance(like, torch.Tensor) else None
            out = _as_t(out, ref)
            return out.expand(like.shape) if ref is not None and out.shape != like.shape \
                else out
        out = np.asarray(out, dtype=float)
        return np.broadcast_to(out, like.shape) if like is not None else out

    return call


# --------------------------------------------------------------------------- vector functions
class _Ops:
    """The few array operations the evaluator needs, per backend."""

    def __init__(self, backend: Backend) -> None:
        self.torch = backend == "torch"

    def const(self, values: Sequence[float], like: Any) -> Any:
        if self.torch:
            return torch.tensor(list(values), dtype=like.dtype, device=like.device)
        return np.asarray(values, dtype=float)

    def scalar(self, value: float, like: Any) -> Any:
        if self.torch:
            return torch.tensor(value, dtype=like.dtype, device=like.device)
        return np.float64(value)

    def empty(self, p: int, m: int, like: Any) -> Any:
        if self.torch:
            return torch.empty((p, m), dtype=like.dtype, device=like.device)
        return np.empty((p, m), dtype=float)

    def column(self, v: Any, p: int, like: Any) -> Any:
        """A component's value as a (P,) array (scalars broadcast)."""
        if self.torch:
            v = _as_t(v, like)
            return v.expand(p) if v.ndim == 0 else v
        v = np.asarray(v, dtype=float)
        return np.broadcast_to(v, (p,)) if v.ndim == 0 else v


class _Group:
    """Components evaluated together by one template with vector constants."""

    def __init__(self, fn, comps, cols, consts) -> None:
        self.fn = fn
        self.comps = comps      # output indices
        self.cols = cols        # state coordinate of each component
        self.consts = consts    # list of per-placeholder constant lists


class _Members:
    """One-coordinate components that share a canonical template (see _template_key)."""

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


def _template_key(expr: sp.Basic, u: sp.Symbol, t: sp.Symbol | None, canon: bool = False):
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


def _build_template(expr: sp.Basic, placeholders: list[sp.Symbol], canon: bool = False
                    ) -> sp.Basic:
    """Rebuild ``expr`` with its unprotected numbers replaced by ``placeholders`` (preorder,
    the order of :func:`_template_key` with the same ``canon``)."""
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


def _polynomial_terms(e: sp.Expr, index: dict[sp.Symbol, int]):
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


def vector_function(exprs: Sequence[Any], x: Sequence[sp.Symbol], backend: Backend = "numpy",
                    *, t: sp.Symbol | None = None, params: Mapping[Any, Any] | None = None,
                    fast: bool = True) -> Callable[[Any, Any], Any]:
    """``fn(t, X) -> (P, m)`` evaluating ``exprs`` on a batch ``X`` of shape ``(P, d)``.

    ``params`` maps symbols (or their names) to numbers; every other free symbol must be a
    state symbol or ``t``. ``fast=False`` forces the plain path (used by tests). The result
    is a new array that shares no memory with ``X`` (safe to modify in place)."""
    x = list(x)
    index = {s: k for k, s in enumerate(x)}
    prepared = [prepare(e, backend, params) for e in exprs]
    allowed = set(x) | ({t} if t is not None else set())
    _check_free(prepared, allowed)
    m, d = len(prepared), len(x)
    ops = _Ops(backend)

    const_idx, const_val = [], []
    poly_idx, poly_terms = [], []
    lin_idx, lin_terms = [], []
    groups: dict[str, _Members] = {}
    rest_idx: list[int] = []
    u = sp.Dummy("u", real=True)
    for j, e in enumerate(prepared):
        fs = e.free_symbols
        if not fs:
            const_idx.append(j)
            const_val.append(float(e))
            continue
        if not fast:
            rest_idx.append(j)
            continue
        xs = [s for s in fs if s in index]
        if len(xs) == 1:
            eu = e.xreplace({xs[0]: u})
            key, nums = _template_key(eu, u, t)
            ckey, cnums = _template_key(eu, u, t, canon=True)
            grp = groups.setdefault(ckey, _Members())
            grp.exprs.append(eu)
            grp.comps.append(j)
            grp.cols.append(index[xs[0]])
            grp.keys.append(key)
            grp.nums.append(nums)
            grp.cnums.append(cnums)
            continue
        if t is None or t not in fs:
            pt = _polynomial_terms(e, index)
            if pt is not None and all(len(f) <= 1 and (not f or f[0][1] == 1) for _, f in pt):
                lin_idx.append(j)
                lin_terms.append(pt)
                continue
            if pt is not None:
                poly_idx.append(j)
                poly_terms.append(pt)
                continue
        rest_idx.append(j)

    # affine components: X @ M^T + c (one matmul)
    lin = None
    if lin_idx:
        M = np.zeros((len(lin_idx), d))
        cvec = np.zeros(len(lin_idx))
        for local, terms in enumerate(lin_terms):
            for coef, factors in terms:
                if factors:
                    M[local, factors[0][0]] += coef
                else:
                    cvec[local] += coef
        lin = (M.T.copy(), cvec)

    # sparse polynomial: pad each monomial to max degree with a column of ones (index d)
    poly = None
    if poly_idx:
        flat_out, flat_coef, flat_fac = [], [], []
        maxdeg = 1
        for local, terms in enumerate(poly_terms):
            for coef, factors in terms:
                fac = [k for k, p in factors for _ in range(p)]
                maxdeg = max(maxdeg, len(fac))
                flat_out.append(local)
                flat_coef.append(coef)
                flat_fac.append(fac)
        fac_mat = [f + [d] * (maxdeg - len(f)) for f in flat_fac]
        poly = (flat_out, flat_coef, fac_mat, maxdeg)

    tmpl: list[_Group] = []
    for grp in groups.values():
        # one raw template if all members share it; else the canonical one (explicit
        # coefficients), whose placeholders equal to 1 in every member are dropped again
        canon = len(set(grp.keys)) > 1
        numlists = grp.cnums if canon else grp.nums
        n_ph = len(numlists[0])
        ph = [sp.Dummy(f"c{k}", real=True) for k in range(n_ph)]
        template = _build_template(grp.exprs[0], ph, canon=canon)
        consts = [[float(nl[k]) for nl in numlists] for k in range(n_ph)]
        if canon:
            ones = {ph[k]: sp.Integer(1) for k in range(n_ph) if all(v == 1.0 for v in consts[k])}
            template = template.xreplace(ones)
            consts = [cl for k, cl in enumerate(consts) if ph[k] not in ones]
            ph = [q for q in ph if q not in ones]
        args = [t if t is not None else sp.Dummy("t"), u, *ph]
        fn = _lambdify(args, template, backend)
        tmpl.append(_Group(fn, grp.comps, grp.cols, consts))

    rest_fn = None
    if rest_idx:
        args = [t if t is not None else sp.Dummy("t"), *x]
        rest_fn = _lambdify(args, [prepared[j] for j in rest_idx], backend, cse=True)

    cache: dict[tuple, dict[str, Any]] = {}
    uses_t = t is not None and any(e.has(t) for e in prepared)
    single_full = (len(tmpl) == 1 and not (const_idx or lin_idx or poly_idx or rest_idx)
                   and tmpl[0].comps == list(range(m)) and tmpl[0].cols == list(range(d)))
    only_affine = (len(lin_idx) == m and lin_idx == list(range(m)) and m > 0)

    def materialize(like: Any) -> dict[str, Any]:
        key = (str(getattr(like, "device", "cpu")), getattr(like, "dtype", None))
        if key in cache:
            return cache[key]
        c: dict[str, Any] = {}
        if const_idx:
            c["const_idx"] = _index(const_idx, like, backend)
            c["const_val"] = ops.const(const_val, like)
        if poly is not None:
            out_i, coef, fac, _ = poly
            c["poly_idx"] = _index(poly_idx, like, backend)
            c["poly_out"] = _index(out_i, like, backend)
            c["poly_coef"] = ops.const(coef, like)
            c["poly_fac"] = _index(fac, like, backend)  # (T, maxdeg)
            if backend != "torch":
                order = np.argsort(np.asarray(out_i), kind="stable")
                c["poly_order"] = order
                starts = np.searchsorted(np.asarray(out_i)[order], np.arange(len(poly_idx)))
                c["poly_starts"] = starts
        # a constant shared by every member of a group is passed as a 0-d array (a scalar
        # operand is cheaper than a broadcast (d,) vector); column sets that are
        # contiguous ranges become slices (views) instead of gathers/scatters
        c["groups"] = [(g.fn, _selector(g.comps, like, backend), _selector(g.cols, like, backend),
                        [ops.scalar(cl[0], like) if all(v == cl[0] for v in cl)
                         else ops.const(cl, like) for cl in g.consts],
                        g.comps == list(range(m)) and g.cols == list(range(d)), len(g.comps))
                       for g in tmpl]
        if lin is not None:
            c["lin_idx"] = _index(lin_idx, like, backend)
            if backend == "torch":
                c["lin_M"] = torch.tensor(lin[0], dtype=like.dtype, device=like.device)
                c["lin_c"] = torch.tensor(lin[1], dtype=like.dtype, device=like.device)
            else:
                c["lin_M"], c["lin_c"] = lin
        if rest_idx:
            c["rest_idx"] = _index(rest_idx, like, backend)
        cache[key] = c
        return c

    def fn(tt: Any, X: Any) -> Any:
        if backend == "torch":
            X = torch.as_tensor(X)
            if not X.is_floating_point():
                X = X.to(torch.get_default_dtype())
        else:
            X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != d:
            raise InputError(f"state batch must have shape (P, {d}), got {tuple(X.shape)}")
        p = X.shape[0]
        if uses_t and backend == "torch" and not isinstance(tt, torch.Tensor):
            tt = torch.tensor(float(tt), dtype=X.dtype, device=X.device)
        c = materialize(X)
        if single_full:
            gfn, _, _, consts, _, _ = c["groups"][0]
            return _fresh(_broadcast(gfn(tt, X, *consts), (p, m), backend, X), X, backend)
        if only_affine:
            return X @ c["lin_M"] + c["lin_c"]
        out = ops.empty(p, m, X)
        if const_idx:
            out[:, c["const_idx"]] = c["const_val"]
        if poly is not None:
            ones = (torch.ones((p, 1), dtype=X.dtype, device=X.device) if backend == "torch"
                    else np.ones((p, 1)))
            X1 = torch.cat([X, ones], 1) if backend == "torch" else np.hstack([X, ones])
            fac = c["poly_fac"]
            terms = X1[:, fac[:, 0]]
            for k in range(1, poly[3]):
                terms = terms * X1[:, fac[:, k]]
            terms = terms * c["poly_coef"]
            if backend == "torch":
                vals = torch.zeros((p, len(poly_idx)), dtype=X.dtype, device=X.device)
                vals.index_add_(1, c["poly_out"], terms)
            else:
                vals = np.add.reduceat(terms[:, c["poly_order"]], c["poly_starts"], axis=1)
            out[:, c["poly_idx"]] = vals
        if lin is not None:
            vals = X @ c["lin_M"] + c["lin_c"]
            if len(lin_idx) == m:
                out[:, :] = vals
            else:
                out[:, c["lin_idx"]] = vals
        for gfn, comps, cols, consts, full, n_comps in c["groups"]:
            U = X if full else _take(X, cols, backend)
            v = gfn(tt, U, *consts)
            if full:
                out[:, :] = _broadcast(v, (p, m), backend, X)
            else:
                _put(out, comps, _broadcast(v, (p, n_comps), backend, X), backend)
        if rest_fn is not None:
            cols = [rest_fn(tt, *[X[:, k] for k in range(d)])]
            vals = cols[0] if isinstance(cols[0], list | tuple) else [cols[0]]
            for local, j in enumerate(rest_idx):
                out[:, j] = ops.column(vals[local], p, X)
        return out

    fn.n_outputs = m  # type: ignore[attr-defined]
    fn.paths = {"constant": len(const_idx), "affine": len(lin_idx),  # type: ignore
                "polynomial": len(poly_idx),
                "template": sum(len(g.comps) for g in tmpl), "groups": len(tmpl),
                "plain": len(rest_idx)}
    return fn


def _index(idx: Sequence[Any], like: Any, backend: Backend) -> Any:
    if backend == "torch":
        return torch.tensor(idx, dtype=torch.long, device=like.device)
    return np.asarray(idx, dtype=np.intp)


def _selector(idx: Sequence[int], like: Any, backend: Backend) -> Any:
    """A slice when ``idx`` is a contiguous increasing range, else an index array."""
    if len(idx) and list(idx) == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    return _index(idx, like, backend)


def _take(X: Any, sel: Any, backend: Backend) -> Any:
    """The columns ``sel`` (slice or index array) of ``X``."""
    if isinstance(sel, slice):
        return X[:, sel]
    return torch.index_select(X, 1, sel) if backend == "torch" else X[:, sel]


def _put(out: Any, sel: Any, v: Any, backend: Backend) -> None:
    """``out[:, sel] = v`` (slice or index array)."""
    if isinstance(sel, slice) or backend != "torch":
        out[:, sel] = v
    else:
        out.index_copy_(1, sel, v.contiguous() if v.stride(-1) == 0 else v)


def _fresh(v: Any, X: Any, backend: Backend) -> Any:
    """``v`` as an array that shares no memory with ``X`` and is writable (a copy only when
    ``v`` is ``X`` itself, a view of it or a broadcast), so callers may modify it in place."""
    if backend == "torch":
        if v.data_ptr() == X.data_ptr() or 0 in v.stride() or v._base is not None:
            return v.clone(memory_format=torch.contiguous_format)
        return v
    if np.shares_memory(v, X) or not v.flags.writeable:
        return np.array(v)
    return v


def _broadcast(v: Any, shape: tuple[int, int], backend: Backend, like: Any) -> Any:
    if backend == "torch":
        v = _as_t(v, like)
        return v.expand(shape) if tuple(v.shape) != shape else v
    v = np.asarray(v, dtype=float)
    return np.broadcast_to(v, shape) if v.shape != shape else v


def sqrt_nonneg(v: Any) -> Any:
    """Element-wise sqrt of max(v, 0) (round-off can make a variance slightly negative)."""
    if isinstance(v, torch.Tensor):
        return torch.sqrt(torch.clamp(v, min=0.0))
    return np.sqrt(np.maximum(v, 0.0))
