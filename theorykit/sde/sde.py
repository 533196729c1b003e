r"""The SDE object: a symbolic Itô SDE in SDE time t = k·η,

.. math:: dX_t = b(X_t)\,dt + \sqrt{\eta}\;\Sigma(X_t)^{1/2}\,dW_t ,

with drift ``b`` (a d x 1 SymPy matrix) and diffusion covariance ``Σ`` (d x d). This is the
form of the order-1 weak approximations of Li, Tai & E (2017/2019) used by Compagnoni et al.
(AISTATS 2025) for DSGD / DCSGD / DSignSGD (*recalled*): ``Σ`` is the covariance of one
step's update direction, so e.g. DCSGD has :math:`\Sigma = \Sigma_{DCSGD}/N`.

The object renders itself (:meth:`SDE.latex`, :meth:`SDE.pretty`, :meth:`SDE.to_json`) and
turns into batched numeric functions through the one adapter
:mod:`theorykit.sde.lambdify` (:meth:`SDE.lambdify`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.sde.lambdify import Backend, sqrt_nonneg, vector_function
from theorykit.symbols import ETA, TIME  # one definition each (meaning in theorykit.symbols)
from theorykit.validate import finite_float, positive_float

__all__ = ["ETA", "SDE", "TIME"]



@dataclass
class SDE:
    """A symbolic SDE ``dX = drift dt + sqrt(lr) diffusion_cov^{1/2} dW`` (see module doc)."""

    x: list[sp.Symbol]
    """State symbols x_1..x_d."""
    drift: sp.Matrix
    """b(x), d x 1."""
    diffusion_cov: sp.Matrix
    """Σ(x), d x d (the covariance of one step's direction)."""
    params: dict[str, sp.Symbol] = field(default_factory=dict)
    """Free parameters by name (eta, N, B, sigma, ...)."""
    assumptions: list[str] = field(default_factory=list)
    noise_type: Literal["diagonal", "general"] = "diagonal"
    lr: sp.Expr = ETA
    """The learning rate (a symbol, or a number when derived at a fixed η)."""
    grad_symbols: list[sp.Symbol] | None = None
    """Generic gradient symbols g_j = ∂_j f(x) when no problem was given, else None."""
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    """What it was derived from (method, compressor(s), noise, N, B) -- JSON-able."""

    def __post_init__(self) -> None:
        d = len(self.x)
        self.drift = sp.Matrix(self.drift)
        self.diffusion_cov = sp.Matrix(self.diffusion_cov)
        if self.drift.shape != (d, 1):
            raise InputError(f"drift must be {d} x 1, got {self.drift.shape}")
        if self.diffusion_cov.shape != (d, d):
            raise InputError(f"diffusion_cov must be {d} x {d}, got {self.diffusion_cov.shape}")
        if self.noise_type not in ("diagonal", "general"):
            raise InputError(f"noise_type must be 'diagonal' or 'general', got {self.noise_type}")

    @property
    def dim(self) -> int:
        return len(self.x)

    @property
    def is_diagonal(self) -> bool:
        return self.noise_type == "diagonal"

    # ------------------------------------------------------------------ presentation
    def _display_subs(self) -> dict[sp.Symbol, sp.Symbol]:
        """Generic gradient symbols shown as ∂_j f(x)."""
        if not self.grad_symbols:
            return {}
        return {g: sp.Symbol(rf"\partial_{{{j + 1}}} f") for j, g in enumerate(self.grad_symbols)}

    def latex(self, *, state: str = "X_t") -> str:
        r"""The SDE and its coefficients as a LaTeX ``aligned`` block."""
        subs = self._display_subs()
        drift = self.drift.xreplace(subs)
        cov = self.diffusion_cov.xreplace(subs)
        lr = sp.latex(self.lr)
        lines = [rf"dX_t &= b({state})\,dt + \sqrt{{{lr}}}\;\Sigma({state})^{{1/2}}\,dW_t"]
        lines.append(rf"b(x) &= {sp.latex(drift)}")
        if self.is_diagonal:
            entries = ", ".join(sp.latex(cov[j, j]) for j in range(self.dim))
            lines.append(rf"\Sigma(x) &= \operatorname{{diag}}\left({entries}\right)")
        else:
            lines.append(rf"\Sigma(x) &= {sp.latex(cov)}")
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def pretty(self) -> str:
        """A plain-text rendering (drift, diffusion, assumptions)."""
        subs = {g: sp.Symbol(f"d{j + 1}f") for j, g in enumerate(self.grad_symbols or [])}
        drift = self.drift.xreplace(subs)
        cov = self.diffusion_cov.xreplace(subs)
        out = [self.title or "SDE", f"  dX_t = b(X_t) dt + sqrt({sp.sstr(self.lr)}) "
               "Sigma(X_t)^(1/2) dW_t   (t = k*eta)", "", "drift b(x):",
               sp.pretty(drift, use_unicode=True), ""]
        if self.is_diagonal:
            out.append("diffusion covariance Sigma(x) (diagonal):")
            for j in range(self.dim):
                out.append(f"  Sigma[{j + 1},{j + 1}] = {sp.sstr(cov[j, j])}")
        else:
            out += ["diffusion covariance Sigma(x):", sp.pretty(cov, use_unicode=True)]
        if self.grad_symbols:
            out += ["", "with dj f = the j-th partial derivative of f at x"]
        out += ["", "assumptions:"] + [f"  - {a}" for a in self.assumptions]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (expressions as SymPy strings and LaTeX)."""
        return {
            "title": self.title,
            "state": [s.name for s in self.x],
            "generic_gradient": [g.name for g in self.grad_symbols] if self.grad_symbols
            else None,
            "lr": sp.sstr(self.lr),
            "form": "dX = b(X) dt + sqrt(lr) Sigma(X)^(1/2) dW, t = k*eta",
            "drift": [sp.sstr(e) for e in self.drift],
            "diffusion_cov": [[sp.sstr(e) for e in self.diffusion_cov.row(a)]
                              for a in range(self.dim)],
            "noise_type": self.noise_type,
            "params": sorted(self.params),
            "assumptions": list(self.assumptions),
            "latex": self.latex(),
            "meta": self.meta,
        }

    def __repr__(self) -> str:
        return (f"SDE({self.title or 'untitled'}, d={self.dim}, noise_type={self.noise_type}, "
                f"params={sorted(self.params)})")

    # ------------------------------------------------------------------ algebra
    def _lookup(self, key: Any) -> sp.Symbol:
        if isinstance(key, sp.Symbol):
            return key
        name = str(key)
        if name in self.params:
            return self.params[name]
        for s in [*self.x, *(self.grad_symbols or [])]:
            if s.name == name:
                return s
        if name == sp.sstr(self.lr) and isinstance(self.lr, sp.Symbol):
            return self.lr
        raise InputError(f"unknown SDE parameter {name!r}; known: {', '.join(sorted(self.params))}")

    def subs(self, values: Mapping[Any, Any]) -> SDE:
        """A new SDE with parameters (or generic gradient symbols) replaced by values or
        expressions; substituted parameters leave ``params``."""
        rep = {self._lookup(k): sp.sympify(v) for k, v in values.items()}
        drift = self.drift.xreplace(rep)
        cov = self.diffusion_cov.xreplace(rep)
        lr = sp.sympify(self.lr).xreplace(rep)
        params = {n: s for n, s in self.params.items() if s not in rep}
        for e in (*rep.values(),):
            for s in e.free_symbols:
                if s not in self.x:
                    params.setdefault(s.name, s)
        grads = [g for g in (self.grad_symbols or []) if g not in rep] or None
        return replace(self, drift=drift, diffusion_cov=cov, lr=lr, params=params,
                       grad_symbols=grads, assumptions=list(self.assumptions),
                       meta=dict(self.meta))

    # ------------------------------------------------------------------ numeric faces
    def _numeric_params(self, params: Mapping[Any, Any] | None) -> dict[sp.Symbol, float]:
        if self.grad_symbols:
            raise InputError(
                "this SDE has a generic gradient (g_1..g_d); derive it with a problem or "
                "substitute the gradient with .subs({'g_1': ...}) before lambdify")
        out: dict[sp.Symbol, float] = {}
        for k, v in (params or {}).items():
            s = self._lookup(k)
            out[s] = finite_float(f"parameter {k!r}", v)
        lr = sp.sympify(self.lr).xreplace({k: sp.Float(v) for k, v in out.items()})
        if not lr.is_number:
            raise InputError(f"lambdify needs a value for the learning rate {sp.sstr(self.lr)}")
        positive_float("learning rate", float(lr), allow_zero=True, one_message=True)
        return out

    def _lr_value(self, p: dict[sp.Symbol, float]) -> float:
        return float(sp.sympify(self.lr).xreplace({k: sp.Float(v) for k, v in p.items()}))

    def lambdify_drift(self, backend: Backend = "numpy",
                       params: Mapping[Any, Any] | None = None) -> Callable[[Any, Any], Any]:
        """``drift_fn(t, X (P, d)) -> (P, d)``."""
        p = self._numeric_params(params)
        return vector_function(list(self.drift), self.x, backend, t=TIME, params=p)

    def lambdify_cov(self, backend: Backend = "numpy",
                     params: Mapping[Any, Any] | None = None) -> Callable[[Any, Any], Any]:
        """``cov_fn(t, X) -> (P, d)`` (diagonal Σ_jj) or ``(P, d, d)`` (general Σ)."""
        p = self._numeric_params(params)
        d = self.dim
        if self.is_diagonal:
            return vector_function([self.diffusion_cov[j, j] for j in range(d)], self.x,
                                   backend, t=TIME, params=p)
        iu = [(a, b) for a in range(d) for b in range(a, d)]
        f = vector_function([self.diffusion_cov[a, b] for a, b in iu], self.x, backend,
                            t=TIME, params=p)
        ia = [a for a, _ in iu]
        ib = [b for _, b in iu]

        def cov_fn(t: Any, X: Any) -> Any:
            vals = f(t, X)
            n = vals.shape[0]
            if backend == "torch":
                out = torch.zeros((n, d, d), dtype=vals.dtype, device=vals.device)
            else:
                out = np.zeros((n, d, d))
            out[:, ia, ib] = vals
            out[:, ib, ia] = vals
            return out

        return cov_fn

    def lambdify(self, backend: Backend = "numpy", params: Mapping[Any, Any] | None = None
                 ) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
        """``(drift_fn, diffusion_fn)`` for batched solvers.

        ``drift_fn(t, X)`` -> ``(P, d)``. ``diffusion_fn(t, X)`` -> ``(P, d)`` for diagonal
        noise (element-wise :math:`\\sqrt{\\eta\\,\\Sigma_{jj}}`) or ``(P, d, d)`` for general
        noise (:math:`\\sqrt\\eta\\,L` with :math:`LL^T = \\Sigma`: Cholesky, or the symmetric
        square root where Σ is singular). ``params`` maps names or symbols to numbers and must
        include the learning rate. A diffusion that does not depend on the state or time is
        factored once and broadcast (no per-step cost)."""
        p = self._numeric_params(params)
        eta = self._lr_value(p)
        drift_fn = self.lambdify_drift(backend, params)
        cov_fn = self.lambdify_cov(backend, params)
        const = not (self.diffusion_cov.free_symbols & {*self.x, TIME})
        sq = math.sqrt(eta)
        d = self.dim

        if self.is_diagonal:
            def diffusion_fn(t: Any, X: Any) -> Any:
                return _scaled_sqrt(cov_fn(t, X), sq)
        else:
            def diffusion_fn(t: Any, X: Any) -> Any:
                return sq * _factor(cov_fn(t, X))

        if const:
            cache: dict[tuple, Any] = {}
            inner = diffusion_fn

            def diffusion_fn(t: Any, X: Any) -> Any:
                key = (str(getattr(X, "device", "cpu")), getattr(X, "dtype", None))
                if key not in cache:
                    probe = X[:1] if X.shape[0] else X
                    cache[key] = inner(t, probe)[0]
                val = cache[key]
                shape = (X.shape[0], d) if self.is_diagonal else (X.shape[0], d, d)
                if isinstance(val, torch.Tensor):
                    return val.expand(shape)
                return np.broadcast_to(val, shape)

        drift_fn.noise_type = self.noise_type  # type: ignore[attr-defined]
        diffusion_fn.noise_type = self.noise_type  # type: ignore[attr-defined]
        diffusion_fn.constant = const  # type: ignore[attr-defined]
        return drift_fn, diffusion_fn


def _scaled_sqrt(v: Any, sq: float) -> Any:
    """``sq * sqrt(max(v, 0))`` element-wise, in place on ``v`` (a fresh array returned by
    :func:`~theorykit.sde.lambdify.vector_function`): the same operations in the same order
    as ``sq * sqrt_nonneg(v)``, so bit-identical, without two temporaries per call. Out of
    place when ``v`` takes part in autograd (Milstein's derivative)."""
    if isinstance(v, torch.Tensor):
        if v.requires_grad:
            return sq * sqrt_nonneg(v)
        return v.clamp_(min=0.0).sqrt_().mul_(sq)
    v = np.maximum(v, 0.0, out=v)
    np.sqrt(v, out=v)
    v *= sq
    return v


def _factor(cov: Any) -> Any:
    """Batched L with L L^T = cov: Cholesky where it succeeds, the symmetric PSD square
    root (eigen-decomposition, negative round-off eigenvalues clipped) elsewhere."""
    if isinstance(cov, torch.Tensor):
        L, info = torch.linalg.cholesky_ex(cov)
        bad = info != 0
        if bool(bad.any()):
            w, v = torch.linalg.eigh(cov[bad])
            L = L.clone()
            L[bad] = v @ torch.diag_embed(torch.sqrt(torch.clamp(w, min=0.0))) @ v.mT
        return L
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v @ (np.sqrt(np.maximum(w, 0.0))[..., None] * np.swapaxes(v, -1, -2))
