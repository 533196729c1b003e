r"""Stationary second moments and expected losses on quadratics, derived in SymPy.

Setting: a quadratic :math:`f(x) = f^\star + \tfrac12 (x - x^\star)^\top H (x - x^\star)` and a
method whose one-step direction D has conditional mean :math:`E[D\mid x] = -b(x)` and
covariance :math:`\operatorname{Cov}[D\mid x] = \Sigma(x)` (:meth:`Method.moments`); the SDE
of :mod:`theorykit.sde` is :math:`dX = b\,dt + \sqrt\eta\,\Sigma^{1/2} dW`. Write
:math:`y = x - x^\star`, :math:`M = E[y y^\top]` and, when the drift is linear,
:math:`b(x) = J y`.

**SDE (Itô / Lyapunov).** Itô's formula for :math:`y y^\top` gives
:math:`\frac{d}{dt}M = JM + MJ^\top + \eta\,E\,\Sigma(X)`; at stationarity

.. math:: 0 = JM + MJ^\top + \eta\,\overline\Sigma(M),

where :math:`\overline\Sigma(M) = E\,\Sigma(X)` is exact when the entries of Σ are
polynomials of degree <= 2 in y (replace :math:`y_a y_b \to M_{ab}`, :math:`y_a \to 0`):
DSGD and DCSGD with Bernoulli / rand-k compressors and Gaussian noise.

**Discrete method (exact).** :math:`y_{k+1} = y_k - \eta D_k` gives
:math:`M = (I + \eta J)M(I + \eta J)^\top + \eta^2\overline\Sigma(M)`, i.e.

.. math:: 0 = JM + MJ^\top + \eta\,JMJ^\top + \eta\,\overline\Sigma(M).

The same equation with :math:`\eta JMJ^\top` replaced by :math:`h\,JMJ^\top` is the exact
stationary moment of Euler–Maruyama with step h applied to the SDE (``step=h``), so the
solver's own O(h) bias is known in closed form too.

**Linearization (Phase 3 of DSignSGD).** When b is not linear or Σ not quadratic,
``linearize=True`` replaces b by its Jacobian at :math:`x^\star` and Σ by
:math:`\Sigma(x^\star)` (the linear-noise approximation, valid when the stationary spread
keeps the gradient in the regime :math:`|\partial_j f| \ll \sigma/\sqrt B`).

Finally :math:`E_\infty f - f^\star = \tfrac12\operatorname{tr}(HM)`.

Provenance: the closed forms this reproduces are those of docs/theory/sde_papers.md §2.3(b) (DCSGD,
SDE and discrete) and §2.3(c) (DSignSGD, Gaussian and Student-t), themselves *derived*
there (MC-checked) for Compagnoni et al., AISTATS 2025 (Theorem 1 SDEs, *recalled*). Here
they are *derived* by SymPy from the SDE / the one-step moments; ``tests/test_stationary.py``
checks them against the digest's formulas symbolically and against simulations numerically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from theorykit.errors import DerivationError, InputError
from theorykit.validate import count_expr

__all__ = ["Stationary", "stationary_discrete", "stationary_sde"]


@dataclass
class Stationary:
    """A stationary second moment ``M = E[(x - x*)(x - x*)^T]`` and the excess loss
    ``loss = E f - f* = tr(H M)/2`` (SymPy), with how they were obtained."""

    M: sp.Matrix
    loss: sp.Expr
    kind: Literal["sde", "discrete"]
    step: sp.Expr
    """0 for the SDE itself; h for Euler–Maruyama with step h; eta for the discrete method."""
    linearized: bool
    equation: sp.Matrix
    """The Lyapunov residual ``JM + MJ^T + step JMJ^T + eta Sigma(M)`` (zero at M)."""
    assumptions: list[str] = field(default_factory=list)

    def value(self, values: Mapping[Any, Any] | None = None) -> float:
        """The excess loss as a float, substituting ``values`` (symbols or names)."""
        e = _subs_named(self.loss, values or {})
        if e.free_symbols:
            names = ", ".join(sorted(s.name for s in e.free_symbols))
            raise InputError(f"stationary loss still depends on {names}")
        v = complex(sp.N(e))
        if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
            raise DerivationError(f"stationary loss is not real: {v}")
        return float(v.real)

    def exists(self, values: Mapping[Any, Any] | None = None) -> bool:
        """Whether the moment is a valid (positive semi-definite, finite) stationary
        second moment at the given values (it stops existing beyond the stability cap)."""
        M = _subs_named(self.M, values or {})
        try:
            import numpy as np

            a = np.array(M.evalf().tolist(), dtype=float)
        except (TypeError, ValueError):
            return False
        return bool(np.all(np.isfinite(a)) and np.linalg.eigvalsh((a + a.T) / 2).min() >= 0)


def _subs_named(e: Any, values: Mapping[Any, Any]) -> Any:
    if not values:
        return e
    by_name = {str(k): v for k, v in values.items()}
    rep = {s: sp.sympify(by_name.get(s.name, values.get(s)))
           for s in e.free_symbols if s.name in by_name or s in values}
    return e.xreplace(rep)


def _as_matrix(H: Any) -> sp.Matrix:
    if hasattr(H, "hessian") and hasattr(H, "symbols"):
        H = H.hessian()
    M = sp.Matrix(H)
    if M.shape[0] != M.shape[1]:
        raise InputError(f"the Hessian must be square, got {M.shape}")
    return M


def _x_star(x_star: Any, d: int) -> sp.Matrix:
    if x_star is None:
        return sp.zeros(d, 1)
    v = sp.Matrix([sp.nsimplify(e) if isinstance(e, float) else sp.sympify(e)
                   for e in list(x_star)])
    if v.shape != (d, 1):
        raise InputError(f"x_star must have length {d}")
    return v


def _moment_symbols(d: int) -> tuple[sp.Matrix, list[sp.Symbol]]:
    syms: dict[tuple[int, int], sp.Symbol] = {}
    for a in range(d):
        for b in range(a, d):
            syms[(a, b)] = sp.Symbol(f"M_{a + 1}{b + 1}", real=True)
    M = sp.Matrix(d, d, lambda a, b: syms[(min(a, b), max(a, b))])
    return M, list(syms.values())


def _expected(Sig: sp.Matrix, y: Sequence[sp.Symbol], M: sp.Matrix) -> sp.Matrix:
    """E Σ(x* + y) for E y = 0, E y y^T = M: exact for entries of degree <= 2 in y."""
    d = len(y)

    def ex(e: sp.Expr) -> sp.Expr:
        e = sp.expand(e)
        if not e.has(*y):
            return e
        try:
            p = sp.Poly(e, *y)
        except sp.PolynomialError:
            raise DerivationError(
                f"Σ entry {sp.sstr(e)[:80]} is not polynomial in x: use linearize=True") from None
        out = sp.Integer(0)
        for mon, c in p.terms():
            deg = sum(mon)
            if deg == 0:
                out += c
            elif deg == 1:
                continue
            elif deg == 2:
                idx = [a for a in range(d) for _ in range(mon[a])]
                out += c * M[idx[0], idx[1]]
            else:
                raise DerivationError("Σ has terms of degree > 2 in x (no moment closure); "
                                      "use linearize=True")
        return out

    return Sig.applyfunc(ex)


def _solve(J: sp.Matrix, SigM: sp.Matrix, eta: sp.Expr, step: sp.Expr, M: sp.Matrix,
           unknowns: list[sp.Symbol], H: sp.Matrix, kind: str, linearized: bool,
           assumptions: list[str]) -> Stationary:
    eq = J * M + M * J.T + step * J * M * J.T + eta * SigM
    d = J.shape[0]
    eqs = [eq[a, b] for a in range(d) for b in range(a, d)]
    sol = sp.linsolve(eqs, unknowns)
    if not sol:
        raise DerivationError("the stationary Lyapunov equation has no solution "
                              "(unstable: beyond the stability cap?)")
    (vals,) = list(sol)
    if any(v.free_symbols & set(unknowns) for v in vals):
        raise DerivationError("the stationary Lyapunov equation is singular")
    rep = dict(zip(unknowns, vals, strict=True))
    Ms = M.xreplace(rep).applyfunc(sp.factor)
    loss = sp.factor(sp.simplify((H * Ms).trace() / 2))
    return Stationary(M=Ms, loss=loss, kind=kind, step=sp.sympify(step), linearized=linearized,
                      equation=eq, assumptions=assumptions)


def _linear_parts(b: sp.Matrix, Sig: sp.Matrix, x: Sequence[sp.Symbol], xs: sp.Matrix,
                  linearize: bool) -> tuple[sp.Matrix, sp.Matrix, list[sp.Symbol], bool]:
    """(J, Σ in y, y symbols, linear?) with y = x - x*."""
    d = len(x)
    y = list(sp.symbols(f"y_1:{d + 1}", real=True))
    shift = {x[j]: xs[j] + y[j] for j in range(d)}
    by = b.xreplace(shift).applyfunc(sp.expand)
    Sy = Sig.xreplace(shift)
    at0 = {s: 0 for s in y}
    if any(sp.simplify(e.xreplace(at0)) != 0 for e in by):
        raise DerivationError("the drift does not vanish at x* (wrong minimizer?)")
    J = by.jacobian(y).xreplace(at0).applyfunc(sp.simplify)
    linear = all(sp.simplify(by[j] - (J.row(j) * sp.Matrix(y))[0]) == 0 for j in range(d))
    if not linear and not linearize:
        raise DerivationError("the drift is not linear in x: exact moments do not close; "
                              "use linearize=True (Phase-3 / linear-noise approximation)")
    if linearize:
        Sy = Sy.xreplace(at0)
    return J, Sy, y, linear


def stationary_sde(sde: Any, hessian: Any, *, x_star: Any = None, step: Any = 0,
                   linearize: bool = False) -> Stationary:
    r"""Stationary :math:`M` and :math:`E f - f^\star` of ``sde`` on the quadratic with
    Hessian ``hessian`` (a matrix or a :class:`~theorykit.problems.Problem`) and minimizer
    ``x_star`` (default 0). An SDE derived for a generic gradient (``derive(..., d)``) gets
    :math:`g = H(x - x^\star)` substituted. ``step=h``: the stationary moment of
    Euler–Maruyama with step h instead of the exact SDE (see module doc)."""
    H = _as_matrix(hessian)
    d = H.shape[0]
    if sde.dim != d:
        raise InputError(f"the SDE has dimension {sde.dim} but the Hessian is {d} x {d}")
    x = list(sde.x)
    xs = _x_star(x_star, d)
    grad = H * (sp.Matrix(x) - xs)
    b, Sig = sde.drift, sde.diffusion_cov
    if sde.grad_symbols:
        rep = {g: grad[j] for j, g in enumerate(sde.grad_symbols)}
        b, Sig = b.xreplace(rep), Sig.xreplace(rep)
    J, Sy, y, _ = _linear_parts(b, Sig, x, xs, linearize)
    M, unknowns = _moment_symbols(d)
    SigM = Sy if linearize else _expected(Sy, y, M)
    assumptions = [
        "quadratic objective; stationary mean at the minimizer",
        "Itô + Lyapunov: 0 = JM + MJ^T + step·JMJ^T + eta·E Σ(X)",
        *(["linearized at x* (Phase-3 / linear-noise approximation)"] if linearize else
          ["E Σ(X) exact (Σ polynomial of degree <= 2 in x)"]),
    ]
    return _solve(J, SigM, sp.sympify(sde.lr), sp.sympify(step), M, unknowns, H, "sde",
                  linearize, assumptions)


def stationary_discrete(method: Any, noise: Any, hessian: Any, n_workers: Any, batch: Any,
                        eta: Any, *, x_star: Any = None, compressors: Any = None,
                        linearize: bool = False) -> Stationary:
    r"""Stationary :math:`M` and :math:`E f - f^\star` of the **discrete** method
    :math:`x_{k+1} = x_k - \eta D_k` from its exact one-step moments
    (:meth:`Method.moments` at :math:`g = H(x - x^\star)`): exact for the algorithm when
    the moments are (see module doc). ``eta``: a number or a symbol (or its name)."""
    from theorykit.methods import make_method
    from theorykit.methods.base import Method

    m = method if isinstance(method, Method) else make_method(str(method), compressors)
    H = _as_matrix(hessian)
    d = H.shape[0]
    x = list(sp.symbols(f"x_1:{d + 1}", real=True))
    xs = _x_star(x_star, d)
    grad = H * (sp.Matrix(x) - xs)
    mom = m.moments(grad, noise, count_expr("number of workers N", n_workers),
                    count_expr("batch size B", batch), compressors)
    lr = sp.Symbol(eta, positive=True) if isinstance(eta, str) else sp.nsimplify(eta) \
        if isinstance(eta, float) else sp.sympify(eta)
    J, Sy, y, _ = _linear_parts(-mom.mean, mom.cov, x, xs, linearize)
    M, unknowns = _moment_symbols(d)
    SigM = Sy if linearize else _expected(Sy, y, M)
    assumptions = [*mom.assumptions, "quadratic objective; stationary mean at the minimizer",
                   "exact recursion M = (I+eta J)M(I+eta J)^T + eta^2 E Cov[D|x]",
                   *(["linearized at x*"] if linearize else [])]
    return _solve(J, SigM, lr, lr, M, unknowns, H, "discrete", linearize, assumptions)
