r"""Derive the SDE of a distributed method from its one-step moments.

Given a :class:`~theorykit.methods.base.Method`, compressor(s), a
:class:`~theorykit.noise.NoiseModel` and either a dimension (generic gradient
:math:`g_j = \partial_j f(x)`) or a problem with a symbolic gradient, :func:`derive` returns
the order-1 weak approximation (Li, Tai & E 2017/2019; Compagnoni et al., AISTATS 2025,
Theorem 1 for DCSGD and the DSignSGD SDE, *recalled*)

.. math:: dX_t = -E[D(X_t)]\,dt + \sqrt\eta\,\operatorname{Cov}[D(X_t)]^{1/2}\,dW_t,
   \qquad t = k\eta,

where D is one step's direction (:meth:`Method.moments`). For DCSGD this is
:math:`dX = -\nabla f\,dt + \sqrt{\eta/N}\,\Sigma_{DCSGD}^{1/2}dW` and for DSignSGD
:math:`dX = -\frac1N\sum_i m_i\,dt + \sqrt{\eta/N}\,\Sigma_S^{1/2} dW`
(docs/theory/sde_papers.md Sec. 2.2).

Derivations are cached on a hashable key of their inputs, so a repeated catalog derivation
is a dictionary lookup.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Any

import sympy as sp

from theorykit.compressors.registry import make as make_compressor
from theorykit.errors import InputError
from theorykit.limits import check_derive_dim
from theorykit.methods import Method, make_method
from theorykit.noise import Gaussian, NoiseModel, make_noise
from theorykit.sde.sde import ETA, SDE
from theorykit.symbols import BATCH as B_SYMBOL  # workers N and batch B, defined once
from theorykit.symbols import N_WORKERS as N_SYMBOL
from theorykit.validate import count_expr, learning_rate, positive_int, symbolic

__all__ = ["B_SYMBOL", "N_SYMBOL", "clear_cache", "derive"]


WEAK_APPROX = ("order-1 weak approximation in eta (Li, Tai & E 2017/2019): needs smooth "
               "drift/diffusion with polynomially growing derivatives, small eta and bounded "
               "noise moments")

_CACHE: OrderedDict[tuple, SDE] = OrderedDict()
_CACHE_SIZE = 256


def clear_cache() -> None:
    """Forget cached derivations."""
    _CACHE.clear()


# --------------------------------------------------------------------------- inputs
def _as_method(method: Any, compressor: Any) -> Method:
    """A method instance: a :class:`Method` (with ``compressor`` swapped in if given), a
    registered name or a ``module:Object`` reference (with ``compressor``)."""
    comps = None if compressor is None else _as_compressors(compressor)
    if isinstance(method, Method):
        return method if comps is None else method.with_compressor(comps)
    if isinstance(method, type | str):
        return make_method(method, comps)
    raise InputError(f"method must be a Method or a name, got {method!r}")


def _as_compressors(c: Any) -> Any:
    if isinstance(c, list | tuple):
        return [_as_compressors(x) for x in c]
    if isinstance(c, str) and not _looks_symbolic(c):
        return make_compressor(c)
    return c


def _looks_symbolic(name: str) -> bool:
    """``"omega"`` or ``"omega_1"`` denote a generic U(omega); catalog names don't start so."""
    return name.startswith("omega")


def _as_noise(noise: Any) -> NoiseModel:
    if noise is None:
        return Gaussian(sigma="sigma")
    if isinstance(noise, NoiseModel):
        return noise
    if isinstance(noise, str):
        return make_noise(noise)
    raise InputError(f"noise must be a NoiseModel or a name, got {noise!r}")


def _count(name: str, value: Any, default: sp.Symbol) -> sp.Expr:
    """N or B: ``default`` (the shared symbol) when omitted, else :func:`count_expr`."""
    return default if value is None else count_expr(name, value)


def _lr(value: Any) -> sp.Expr:
    """The learning rate: η when omitted, a (positive) symbol, or a number > 0 kept exact
    when it has a short decimal form."""
    if value is None:
        return ETA
    sym = symbolic(value, positive=True)
    if sym is not None:
        return sym
    v = learning_rate(value, expected="a number or a symbol")
    return sp.nsimplify(v) if len(repr(v)) <= 8 else sp.Float(v)


def _state(problem_or_dim: Any) -> tuple[list[sp.Symbol], sp.Matrix, list[sp.Symbol] | None,
                                          str, tuple]:
    """(state symbols, gradient column, generic gradient symbols or None, label, cache key)."""
    if isinstance(problem_or_dim, bool):
        raise InputError("problem_or_dim must be a dimension or a problem")
    if isinstance(problem_or_dim, int | float) and not isinstance(problem_or_dim, bool):
        d = positive_int("dimension d", problem_or_dim)
        x = list(sp.symbols(f"x_1:{d + 1}", real=True))
        g = list(sp.symbols(f"g_1:{d + 1}", real=True))
        return x, sp.Matrix(g), g, f"generic f on R^{d}", ("dim", d)
    if hasattr(problem_or_dim, "symbols") and hasattr(problem_or_dim, "grad"):
        x = list(problem_or_dim.symbols)
        g = sp.Matrix(problem_or_dim.grad())
        if g.shape[1] != 1:
            g = g.T if g.shape[0] == 1 else g
        if g.shape != (len(x), 1):
            raise InputError(f"problem gradient has shape {g.shape}, expected ({len(x)}, 1)")
        label = getattr(problem_or_dim, "name", type(problem_or_dim).__name__)
        key = ("problem", type(problem_or_dim).__name__, tuple(s.name for s in x),
               tuple(sp.srepr(e) for e in g))
        return x, g, None, str(label), key
    raise InputError("problem_or_dim must be a positive integer d or an object with "
                     f".symbols and .grad(), got {type(problem_or_dim).__name__}")


def _may_be_dense(m: Method, nz: NoiseModel) -> bool:
    """Whether the diffusion may be a dense d x d matrix (cost ~ d^2), probed at d = 3:
    the noise covariance off the diagonal, or the method's own term
    (:meth:`Method.may_be_dense`); a probe that fails counts as dense."""
    try:
        if not nz.cov(0, 3, B_SYMBOL).is_diagonal():
            return True
    except Exception:  # any failure of the probe: assume the expensive case
        return True
    return m.may_be_dense()


def _noise_key(n: NoiseModel) -> tuple:
    return (type(n).__qualname__, repr(n), tuple(tuple(sp.srepr(e) for e in row)
                                                 for row in n.scales.table))


# --------------------------------------------------------------------------- tidy
def _tidy(e: sp.Expr) -> sp.Expr:
    """Light simplification: rational entries are put over a common denominator
    (``cancel`` + ``factor_terms``: fast, canonical, and a polynomial stays a polynomial for
    the lambdify fast paths); transcendental ones (erf, 2F1, ...) are left in the form the
    method produced -- ``simplify`` would ``hyperexpand`` the Student-t 2F1 and cost seconds
    per entry (catalog derivations must stay < 2 s)."""
    if e == 0 or e.is_number or e.has(sp.Function):
        return e
    if e.is_polynomial():
        return sp.expand(e)
    return sp.factor_terms(sp.cancel(e))


# --------------------------------------------------------------------------- derive
def derive(method: Any, compressor: Any = None, noise: Any = None, problem_or_dim: Any = 1,
           n_workers: Any = None, batch: Any = None, lr_symbol: Any = None, *,
           simplify: bool = True) -> SDE:
    """The SDE of ``method``: a :class:`Method`, a registered name (``theorykit methods``)
    or a ``module.path:Object`` reference. The method supplies its one-step moments
    (:meth:`Method.moments`); one without a known SDE raises
    :class:`~theorykit.errors.AssumptionError`.

    * ``compressor``: for methods that take one (DCSGD) -- a :class:`CompressorSpec`, a
      catalog name, a list of N of those (heterogeneous omega_i), or an omega
      (number/symbol/``"omega"``) for a generic member of U(omega). Must be None for
      others.
    * ``noise``: a :class:`NoiseModel` or a name (default: isotropic Gaussian with symbolic
      ``sigma``).
    * ``problem_or_dim``: a dimension d (generic gradient g_j = ∂_j f) or an object with
      ``.symbols`` and ``.grad()`` (e.g. :mod:`theorykit.problems`).
    * ``n_workers`` / ``batch``: positive integers or symbols (default symbols N and B; a
      per-worker noise model fixes N).
    * ``lr_symbol``: the learning rate, a symbol (default η) or a positive number.
    """
    t0 = time.perf_counter()
    m = _as_method(method, compressor)
    nz = _as_noise(noise)
    if n_workers is None and nz.heterogeneous:
        n_workers = nz.n_workers
    if n_workers is None and m.compressor_names and len(m.compressor_names) > 1:
        n_workers = len(m.compressor_names)  # one compressor per worker fixes N
    n = _count("number of workers N", n_workers, N_SYMBOL)
    b = _count("batch size B", batch, B_SYMBOL)
    lr = _lr(lr_symbol)
    if (isinstance(problem_or_dim, int | float) and not isinstance(problem_or_dim, bool)
            and math.isfinite(problem_or_dim)):  # refuse a d whose cost is above the limit
        check_derive_dim(int(problem_or_dim), dense=_may_be_dense(m, nz),
                         what=f"{m.name} derivation")
    x, g, grad_syms, label, pkey = _state(problem_or_dim)

    key = (m.cache_key(), _noise_key(nz), pkey, sp.srepr(n), sp.srepr(b), sp.srepr(lr),
           simplify)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _copy(_CACHE[key])

    mom = m.moments(g, nz, n, b)
    drift = -mom.mean
    cov = mom.cov
    if simplify:
        drift = drift.applyfunc(_tidy)
        cov = cov.applyfunc(_tidy)
    noise_type = "diagonal" if cov.is_diagonal() else "general"

    params: dict[str, sp.Symbol] = {}
    skip = set(x) | set(grad_syms or [])
    for s in drift.free_symbols | cov.free_symbols | sp.sympify(lr).free_symbols:
        if s not in skip:
            params[s.name] = s
    if isinstance(lr, sp.Symbol):
        params[lr.name] = lr

    comp_names = m.compressor_names
    title = m.title or m.name
    if comp_names:
        uniq = sorted(set(comp_names))
        title += f" with {', '.join(uniq)}"
    title += f", {nz.title or nz.name} noise"
    sde = SDE(
        x=x, drift=drift, diffusion_cov=cov, params=dict(sorted(params.items())),
        assumptions=[*mom.assumptions, WEAK_APPROX], noise_type=noise_type, lr=lr,
        grad_symbols=grad_syms, title=title,
        meta={"method": m.name, "method_repr": repr(m), "compressors": comp_names,
              "noise": nz.describe(), "n_workers": sp.sstr(n), "batch": sp.sstr(b),
              "problem": label, "derive_seconds": round(time.perf_counter() - t0, 4)},
    )
    _CACHE[key] = sde
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return _copy(sde)


def _copy(s: SDE) -> SDE:
    from dataclasses import replace

    return replace(s, x=list(s.x), params=dict(s.params), assumptions=list(s.assumptions),
                   meta=dict(s.meta),
                   grad_symbols=list(s.grad_symbols) if s.grad_symbols else None)
