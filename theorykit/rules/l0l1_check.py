r"""The (L0, L1)-smoothness checker: is :math:`\|\nabla^2 f\|_2 \le L_0 + L_1\|\nabla f\|_2`
true for a :class:`~theorykit.problems.Problem`, how small can L0 be, and is f L-smooth?

(L0, L1)-smoothness: Zhang, He, Sra & Jadbabaie, ICLR 2020, Def. 1 (*recalled*); used by
Compagnoni, Islamov, Orvieto & Gorbunov, arXiv 2506.00181 (2025), whose theory
:mod:`theorykit.rules.l0l1` derives. :func:`check_l0l1` verifies the inequality
symbolically when f is separable (then the 1-D inequality :math:`|f_j''| \le L_0 +
L_1|f_j'|` per coordinate is necessary and sufficient when each :math:`f_j'` vanishes
somewhere; its supremum is found with ``sympy.solve`` on the critical points, the endpoint
and the limit at infinity) and numerically on samples (random directions on log-spaced radii
plus the axes), and reports whether f is L-smooth (symbolically: :math:`\lim_{|x_j|\to\infty}
|f_j''| = \infty`; numerically: growth of :math:`\sup\|\nabla^2 f\|` over shells).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import AssumptionError, InputError
from theorykit.problems import Problem
from theorykit.validate import nonneg_float, positive_float

__all__ = [
    "L0L1Report",
    "check_l0l1",
    "is_separable",
    "sample_points",
    "smallest_l0",
]


@dataclass
class L0L1Report:
    """Result of :func:`check_l0l1`.

    ``symbolic``: ``"holds"``, ``"violated"`` or ``"n/a"`` (not separable / SymPy could not
    decide); ``l0_min``: per coordinate, the smallest L0 that works with the given L1
    (SymPy); ``hessian_unbounded``: symbolic verdict on L-smoothness (True: not L-smooth;
    None: undecided); numeric: ``n_points`` samples, the largest excess
    ``‖H‖ - L0 - L1‖g‖`` (<= 0 means the inequality held at every sample), the worst point,
    and the max ‖H‖ per sampled radius shell (``shells``: (radius, max ‖H‖)).
    """

    problem: str
    L0: float
    L1: float
    symbolic: str
    l0_min: list[sp.Expr] | None
    hessian_unbounded: bool | None
    n_points: int
    max_excess: float
    max_rel_excess: float
    worst_point: list[float]
    shells: list[tuple[float, float]]
    tolerance: float
    notes: list[str] = field(default_factory=list)

    @property
    def numeric_holds(self) -> bool:
        return self.max_rel_excess <= self.tolerance

    @property
    def holds(self) -> bool:
        return self.numeric_holds and self.symbolic != "violated"

    @property
    def hessian_growth(self) -> float:
        """max ‖H‖ on the outermost shell over that on the shell at half its radius."""
        if len(self.shells) < 2:
            return float("nan")
        r_out, h_out = self.shells[-1]
        best = min(self.shells[:-1], key=lambda s: abs(s[0] - r_out / 2))
        return h_out / best[1] if best[1] > 0 else float("inf")

    @property
    def l_smooth(self) -> bool:
        """False when f is not L-smooth (symbolic verdict if decided, else numeric growth of
        sup ‖H‖ by more than 2x when the radius doubles)."""
        if self.hessian_unbounded is not None:
            return not self.hessian_unbounded
        return not self.hessian_growth > 2.0

    def to_json(self) -> dict[str, Any]:
        return {"problem": self.problem, "L0": self.L0, "L1": self.L1,
                "symbolic": self.symbolic,
                "l0_min": None if self.l0_min is None else [sp.sstr(e) for e in self.l0_min],
                "hessian_unbounded": self.hessian_unbounded, "n_points": self.n_points,
                "max_excess": self.max_excess, "max_rel_excess": self.max_rel_excess,
                "worst_point": self.worst_point, "shells": self.shells,
                "hessian_growth": self.hessian_growth, "l_smooth": self.l_smooth,
                "tolerance": self.tolerance, "notes": self.notes}



def is_separable(problem: Problem) -> bool:
    """Whether f is a sum of one-coordinate functions: a diagonal Hessian whose entry j,
    like the gradient's, depends on x_j only."""
    H = problem.hessian()
    x = problem.symbols
    for i in range(problem.d):
        for j in range(problem.d):
            if i != j and sp.simplify(H[i, j]) != 0:
                return False
        others = set(x) - {x[i]}
        if H[i, i].free_symbols & others or problem.grad()[i].free_symbols & others:
            return False
    return True


def _coordinate_sup(f2: sp.Expr, f1: sp.Expr, xj: sp.Symbol, L1: sp.Expr
                    ) -> tuple[sp.Expr | None, bool | None]:
    """sup over x_j of |f''| - L1 |f'| (the smallest L0 for this coordinate) and whether
    |f''| is unbounded, by SymPy on each half-line (u > 0, x_j = ±u)."""
    u = sp.Symbol("u", positive=True)
    sups: list[sp.Expr] = []
    unbounded = False
    for s in (1, -1):
        a2 = sp.simplify(sp.Abs(f2.subs(xj, s * u)))
        a1 = sp.simplify(sp.Abs(f1.subs(xj, s * u)))
        if a2.has(sp.Abs) or a1.has(sp.Abs):
            return None, None
        h = sp.simplify(a2 - L1 * a1)
        try:
            crit = sp.solve(sp.diff(h, u), u)
        except (NotImplementedError, TypeError):
            return None, None
        if not isinstance(crit, list):
            return None, None
        cands = [sp.limit(h, u, 0, "+"), sp.limit(h, u, sp.oo)]
        for r in crit:
            if r.is_real is False or (r.is_number and not r.is_positive):
                continue
            cands.append(sp.simplify(h.subs(u, r)))
        try:
            sups.append(sp.Max(*cands))
        except (TypeError, ValueError):
            return None, None
        lim = sp.limit(a2, u, sp.oo)
        unbounded = unbounded or lim in (sp.oo,)
    return sp.simplify(sp.Max(*sups)), unbounded


def smallest_l0(problem: Problem, L1: Any) -> list[sp.Expr] | None:
    """Per coordinate, the smallest L0 such that |f_j''| <= L0 + L1 |f_j'| (SymPy; separable
    problems only, else None). *Derived*."""
    L1v = sp.nsimplify(nonneg_float("L1", L1)) if not isinstance(L1, sp.Basic) else L1
    if not is_separable(problem):
        return None
    H, g = problem.hessian(), problem.grad()
    out = []
    for j, xj in enumerate(problem.symbols):
        sup, _ = _coordinate_sup(H[j, j], g[j], xj, L1v)
        if sup is None:
            return None
        out.append(sup)
    return out


def sample_points(d: int, radius: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points: random directions on log-spaced radii in [1e-2, radius] plus the axes."""
    rng = np.random.default_rng(seed)
    n_r = 24
    radii = np.geomspace(1e-2, radius, n_r)
    per = max(n // n_r, 2)
    pts, rad = [], []
    for r in radii:
        v = rng.standard_normal((per, d))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ax = np.vstack([np.eye(d), -np.eye(d)])
        pts.append(np.vstack([v, ax]) * r)
        rad.append(np.full(per + 2 * d, r))
    return np.vstack(pts), np.concatenate(rad)


def check_l0l1(problem: Problem, L0: Any = None, L1: Any = None, *, radius: float = 8.0,
               samples: int = 2400, seed: int = 0, tolerance: float = 1e-9,
               raise_on_violation: bool = True) -> L0L1Report:
    r"""Check :math:`\|\nabla^2 f\|_2 \le L_0 + L_1\|\nabla f\|_2` for ``problem``
    symbolically (separable f) and numerically on ``samples`` points with ‖x‖ <= ``radius``
    (float64; a sample violates it when the excess exceeds ``tolerance`` relative to
    L0 + L1‖∇f‖, i.e. more than rounding). ``L0``/``L1`` default to the problem's declared
    constants. Raises :class:`InputError` for negative constants and
    :class:`AssumptionError` (one line, naming the point) when the inequality fails, unless
    ``raise_on_violation=False``."""
    if not isinstance(problem, Problem):
        raise InputError(f"check_l0l1 needs a Problem, got {type(problem).__name__}")
    L0 = problem.L0 if L0 is None else L0
    L1 = problem.L1 if L1 is None else L1
    if L0 is None or L1 is None:
        raise InputError(f"{problem.name} declares no (L0, L1) constants; pass L0= and L1=")
    L0f, L1f = nonneg_float("L0", L0), nonneg_float("L1", L1)
    radius = positive_float("radius", radius)
    notes: list[str] = []
    sym = "n/a"
    l0_min: list[sp.Expr] | None = None
    unbounded: bool | None = None
    if is_separable(problem):
        H, g = problem.hessian(), problem.grad()
        l0_min, flags = [], []
        for j, xj in enumerate(problem.symbols):
            sup, unb = _coordinate_sup(H[j, j], g[j], xj, sp.nsimplify(L1f))
            if sup is None:
                l0_min = None
                notes.append(f"SymPy could not maximise |f''| - L1|f'| in {xj}")
                break
            l0_min.append(sup)
            flags.append(unb)
        if l0_min is not None:
            worst = max(float(e) for e in l0_min)
            sym = "holds" if worst <= L0f * (1 + 1e-12) + 1e-15 else "violated"
            unbounded = any(flags)
            notes.append("separable: ||H||_2 = max_j |f_j''| and each f_j' has a zero, so "
                         "the per-coordinate inequality is necessary and sufficient")
    else:
        notes.append("not separable: numeric check only")
    P, rad = sample_points(problem.d, radius, samples, seed)
    X = torch.as_tensor(P, dtype=torch.float64)
    with torch.no_grad():
        Hn = torch.linalg.matrix_norm(problem.hessian(X), ord=2).numpy()
        Gn = problem.grad(X).norm(dim=-1).numpy()
    rhs = L0f + L1f * Gn
    excess = Hn - rhs
    rel = excess / np.maximum(rhs, 1e-300)
    if not np.all(np.isfinite(Hn)) or not np.all(np.isfinite(Gn)):
        raise InputError(f"{problem.name}: non-finite Hessian/gradient within radius "
                         f"{radius:g}; choose a smaller radius")
    k = int(np.argmax(rel))
    shells = [(float(r), float(Hn[rad == r].max())) for r in np.unique(rad)]
    rep = L0L1Report(problem=repr(problem), L0=L0f, L1=L1f, symbolic=sym, l0_min=l0_min,
                     hessian_unbounded=unbounded, n_points=len(P),
                     max_excess=float(excess.max()), max_rel_excess=float(rel[k]),
                     worst_point=P[k].tolist(), shells=shells, tolerance=tolerance,
                     notes=notes)
    if raise_on_violation and not rep.holds:
        if not rep.numeric_holds:
            raise AssumptionError(
                f"{problem.name} is not ({L0f:g}, {L1f:g})-smooth: at x = "
                f"{np.round(P[k], 4).tolist()} ||Hess|| = {Hn[k]:.6g} > L0 + L1||grad|| = "
                f"{rhs[k]:.6g}")
        raise AssumptionError(
            f"{problem.name} is not ({L0f:g}, {L1f:g})-smooth: the smallest L0 for L1 = "
            f"{L1f:g} is {max(float(e) for e in l0_min or [0]):.6g} (SymPy)")
    return rep
