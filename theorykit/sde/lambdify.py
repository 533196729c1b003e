r"""The one lambdify adapter: SymPy expressions -> batched numpy / torch functions.

Every numeric use of a symbolic expression in theorykit goes through
:func:`vector_function`, which turns a list of expressions ``e_1..e_m`` in the state symbols
``x_1..x_d`` (and optionally the time ``t``) into ``fn(t, X) -> (P, m)`` for a batch ``X`` of
shape ``(P, d)``.

Printer gaps are closed by :mod:`theorykit.sde.backends` (rewrites, folding of numbers,
parameter substitution) with the numpy/torch special functions of
:mod:`theorykit.sde.special` (e.g. the Student-t :math:`{}_2F_1` in torch); constants are
broadcast to the batch shape. Templates are built in :mod:`theorykit.sde.templates`, the
array helpers are in :mod:`theorykit.sde.arrays`.

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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.sde.arrays import (
    BatchOps,
    as_tensor,
    broadcast_to_shape,
    column_selector,
    fresh_array,
    index_array,
    put_columns,
    sqrt_nonneg,
    take_columns,
)
from theorykit.sde.backends import Backend, check_free, fold_numbers, lambdify_backend, prepare
from theorykit.sde.templates import (
    TemplateGroup,
    TemplateMembers,
    build_template,
    polynomial_terms,
    template_key,
)

__all__ = ["Backend", "fold_numbers", "prepare", "scalar_function", "sqrt_nonneg",
           "vector_function"]


def scalar_function(expr: Any, args: Sequence[sp.Symbol], backend: Backend = "numpy",
                    params: Mapping[Any, Any] | None = None) -> Callable[..., Any]:
    """``f(*args)`` for a single expression (element-wise; constants broadcast to the
    shape of the first array argument)."""
    e = prepare(expr, backend, params)
    check_free([e], set(args))
    f = lambdify_backend(list(args), e, backend)

    def call(*vals):
        out = f(*vals)
        like = next((v for v in vals if hasattr(v, "shape") and v.shape != ()), None)
        if backend == "torch":
            ref = like if isinstance(like, torch.Tensor) else None
            out = as_tensor(out, ref)
            return out.expand(like.shape) if ref is not None and out.shape != like.shape \
                else out
        out = np.asarray(out, dtype=float)
        return np.broadcast_to(out, like.shape) if like is not None else out

    return call


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
    check_free(prepared, allowed)
    m, d = len(prepared), len(x)
    ops = BatchOps(backend)

    const_idx, const_val = [], []
    poly_idx, poly_terms = [], []
    lin_idx, lin_terms = [], []
    groups: dict[str, TemplateMembers] = {}
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
            key, nums = template_key(eu, u, t)
            ckey, cnums = template_key(eu, u, t, canon=True)
            grp = groups.setdefault(ckey, TemplateMembers())
            grp.exprs.append(eu)
            grp.comps.append(j)
            grp.cols.append(index[xs[0]])
            grp.keys.append(key)
            grp.nums.append(nums)
            grp.cnums.append(cnums)
            continue
        if t is None or t not in fs:
            pt = polynomial_terms(e, index)
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

    tmpl: list[TemplateGroup] = []
    for grp in groups.values():
        # one raw template if all members share it; else the canonical one (explicit
        # coefficients), whose placeholders equal to 1 in every member are dropped again
        canon = len(set(grp.keys)) > 1
        numlists = grp.cnums if canon else grp.nums
        n_ph = len(numlists[0])
        ph = [sp.Dummy(f"c{k}", real=True) for k in range(n_ph)]
        template = build_template(grp.exprs[0], ph, canon=canon)
        consts = [[float(nl[k]) for nl in numlists] for k in range(n_ph)]
        if canon:
            ones = {ph[k]: sp.Integer(1) for k in range(n_ph) if all(v == 1.0 for v in consts[k])}
            template = template.xreplace(ones)
            consts = [cl for k, cl in enumerate(consts) if ph[k] not in ones]
            ph = [q for q in ph if q not in ones]
        args = [t if t is not None else sp.Dummy("t"), u, *ph]
        fn = lambdify_backend(args, template, backend)
        tmpl.append(TemplateGroup(fn, grp.comps, grp.cols, consts))

    rest_fn = None
    if rest_idx:
        args = [t if t is not None else sp.Dummy("t"), *x]
        rest_fn = lambdify_backend(args, [prepared[j] for j in rest_idx], backend, cse=True)

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
            c["const_idx"] = index_array(const_idx, like, backend)
            c["const_val"] = ops.const(const_val, like)
        if poly is not None:
            out_i, coef, fac, _ = poly
            c["poly_idx"] = index_array(poly_idx, like, backend)
            c["poly_out"] = index_array(out_i, like, backend)
            c["poly_coef"] = ops.const(coef, like)
            c["poly_fac"] = index_array(fac, like, backend)  # (T, maxdeg)
            if backend != "torch":
                order = np.argsort(np.asarray(out_i), kind="stable")
                c["poly_order"] = order
                starts = np.searchsorted(np.asarray(out_i)[order], np.arange(len(poly_idx)))
                c["poly_starts"] = starts
        # a constant shared by every member of a group is passed as a 0-d array (a scalar
        # operand is cheaper than a broadcast (d,) vector); column sets that are
        # contiguous ranges become slices (views) instead of gathers/scatters
        c["groups"] = [(g.fn, column_selector(g.comps, like, backend),
                        column_selector(g.cols, like, backend),
                        [ops.scalar(cl[0], like) if all(v == cl[0] for v in cl)
                         else ops.const(cl, like) for cl in g.consts],
                        g.comps == list(range(m)) and g.cols == list(range(d)), len(g.comps))
                       for g in tmpl]
        if lin is not None:
            c["lin_idx"] = index_array(lin_idx, like, backend)
            if backend == "torch":
                c["lin_M"] = torch.tensor(lin[0], dtype=like.dtype, device=like.device)
                c["lin_c"] = torch.tensor(lin[1], dtype=like.dtype, device=like.device)
            else:
                c["lin_M"], c["lin_c"] = lin
        if rest_idx:
            c["rest_idx"] = index_array(rest_idx, like, backend)
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
            v = broadcast_to_shape(gfn(tt, X, *consts), (p, m), backend, X)
            return fresh_array(v, X, backend)
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
            U = X if full else take_columns(X, cols, backend)
            v = gfn(tt, U, *consts)
            if full:
                out[:, :] = broadcast_to_shape(v, (p, m), backend, X)
            else:
                put_columns(out, comps, broadcast_to_shape(v, (p, n_comps), backend, X), backend)
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
