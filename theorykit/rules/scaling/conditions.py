"""The preserved quantities (drift, batch noise, compression noise, stationary loss)
and the conditions on the factors under which each is preserved, with their solver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from theorykit.rules.scaling.rule import FACTORS, per_sample
from theorykit.rules.scaling.setup import _Setup
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import CURVATURE as LAMBDA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA


@dataclass
class _Quantity:
    key: str
    name: str
    pairs: list[tuple[sp.Expr, sp.Expr]]
    """(original, changed) expressions that must agree identically in the generators."""
    ratio: sp.Expr | None = None
    """changed/original when it is free of the generators (a scalar factor)."""
    series: bool = False


def _quantities(st: _Setup, s0: Any, s1: Any) -> dict[str, _Quantity]:
    from theorykit.noise import Gaussian
    from theorykit.rules.stationary import stationary_sde
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL

    g = s0.grad_symbols[0]
    b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
    b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, DELTA * B_SYMBOL)
    b0, c0, b1, c1 = b0[0], c0[0], b1[0], c1[0]
    q: dict[str, _Quantity] = {}
    q["sde"] = _Quantity("sde", "the whole SDE per sample seen (drift and diffusion)",
                         [(b0, b1), (c0, c1)], series=st.sign)

    def ratio(a: sp.Expr, b: sp.Expr) -> sp.Expr | None:
        if a == 0:
            return None
        r = sp.simplify(b / a)
        return r if not r.has(g) else None

    if not st.sign:
        q["time"] = _Quantity("time", "time scale (drift per sample seen)", [(b0, b1)],
                              ratio(b0, b1))
        a0, a1 = c0.subs(g, 0), c1.subs(g, 0)
        q["batch"] = _Quantity("batch", "batch-noise diffusion per sample (the sigma^2/B part)",
                               [(a0, a1)], ratio(a0, a1))
        m0 = sp.expand(sp.diff(c0, g, 2) / 2)
        m1 = sp.expand(sp.diff(c1, g, 2) / 2)
        if m0 != 0 or m1 != 0:
            q["compression"] = _Quantity(
                "compression", "compression diffusion per sample (the multiplicative "
                "omega*||grad f||^2 term)", [(m0, m1)], ratio(m0, m1))
        f0 = stationary_sde(s0, [[LAMBDA]]).loss
        f1 = stationary_sde(s1, [[LAMBDA]]).loss
        from theorykit.symbols import ETA

        l0 = sp.cancel(f0 / ETA).subs(ETA, 0)
        l1 = sp.cancel(f1 / ETA).subs(ETA, 0)
        q["floor0"] = _Quantity("floor0", "stationary loss on f = lambda*x^2/2, leading order "
                                "in eta", [(l0, l1)], ratio(l0, l1))
        q["floor"] = _Quantity("floor", "stationary loss on f = lambda*x^2/2, exact for every "
                               "curvature lambda", [(f0, f1)], ratio(f0, f1))
    else:
        s0_ = sp.diff(b0, g).subs(g, 0)
        s1_ = sp.diff(b1, g).subs(g, 0)
        d0, d1 = c0.subs(g, 0), c1.subs(g, 0)
        q["phase3"] = _Quantity(
            "phase3", "the Phase-3 (small-gradient, linearised) SDE per sample",
            [(s0_ * g, s1_ * g), (d0, d1)])
        q["time3"] = _Quantity("time3", "Phase-3 time scale (drift slope per sample)",
                               [(s0_, s1_)], ratio(s0_, s1_))
        q["diff3"] = _Quantity("diff3", "Phase-3 diffusion per sample", [(d0, d1)],
                               ratio(d0, d1))
        # Phase 1: noise negligible -> the method's moments at zero noise (sign(g) drift)
        from theorykit.methods import DSignSGD

        m0 = DSignSGD().moments([g], Gaussian(sigma=0), N_SYMBOL, B_SYMBOL).mean[0]
        m1 = DSignSGD().moments([g], Gaussian(sigma=0), ALPHA * N_SYMBOL,
                                DELTA * B_SYMBOL).mean[0]
        # sign(g) -> 1: the drift is odd in g, so g > 0 decides
        p0 = (-m0 * sp.sympify(s0.lr) / (N_SYMBOL * B_SYMBOL)).replace(sp.sign, lambda a: 1)
        p1 = (-m1 * sp.sympify(s1.lr) / (ALPHA * N_SYMBOL * DELTA * B_SYMBOL)).replace(
            sp.sign, lambda a: 1)
        q["phase1"] = _Quantity("phase1", "Phase-1 speed (SignGD drift per sample when "
                                "|grad f| >> noise)", [(p0, p1)], ratio(p0, p1))
        f0 = stationary_sde(s0, [[LAMBDA]], linearize=True).loss
        f1 = stationary_sde(s1, [[LAMBDA]], linearize=True).loss
        q["floor3"] = _Quantity("floor3", "stationary loss on f = lambda*x^2/2 (Phase-3 "
                                "linearisation)", [(f0, f1)], ratio(f0, f1))
    return q


def _generators(st: _Setup, s0: Any) -> list[sp.Symbol]:
    gens = list(s0.grad_symbols)
    for row in st.noise.scales.table:
        for e in row:
            gens += [s for s in e.free_symbols if s not in gens]
    return [*gens, LAMBDA]


def _core(c: sp.Expr) -> sp.Expr | None:
    """The part of a coefficient equation c = 0 that can vanish: factors free of the
    transformation factors, and powers of positive symbols, are dropped (nonzero)."""
    c = sp.factor(sp.sympify(c))
    if c == 0:
        return None
    if not c.has(*FACTORS):
        return sp.Integer(1)  # a nonzero constant: the condition can never hold
    try:
        _, facs = sp.factor_list(c)
    except sp.PolynomialError:  # not a polynomial in anything: keep it whole
        facs = [(c, 1)]
    keep = []
    for f, _p in facs:
        if not f.has(*FACTORS):
            continue
        if f.is_Symbol and f.is_positive:
            continue
        keep.append(f)
    if not keep:
        return sp.Integer(1)  # a nonzero constant: the condition can never hold
    return sp.Mul(*keep)


def _conditions(q: _Quantity, gens: list[sp.Symbol], series_order: int = 4) -> list[sp.Expr]:
    """Expressions (= 0) equivalent to 'changed == original for every value of the
    generators' (necessary conditions from Taylor coefficients for transcendental
    entries)."""
    out: list[sp.Expr] = []
    g = gens[0]
    for e0, e1 in q.pairs:
        diff = sp.sympify(e1) - sp.sympify(e0)
        if diff == 0:
            continue
        if q.series or not diff.is_rational_function(*gens):
            diff = sp.series(diff, g, 0, series_order).removeO()
        num = sp.numer(sp.together(sp.expand(diff)))
        num = sp.expand(num)
        if num == 0:
            continue
        present = [s for s in gens if num.has(s)]
        try:
            coeffs = sp.Poly(num, *present).coeffs() if present else [num]
        except sp.PolynomialError:
            coeffs = [num]
        for c in coeffs:
            k = _core(c)
            if k is not None and k not in out:
                out.append(k)
    return out


def _admissible(u: sp.Symbol, r: sp.Expr) -> bool:
    """κ, δ must be able to be positive, ω' nonnegative."""
    if r.has(sp.I) or r.is_real is False:
        return False
    if u in (KAPPA, DELTA):
        return r.is_nonpositive is not True
    if u == OMEGA_NEW:
        return r.is_negative is not True
    return True


def _sequential(conds: list[sp.Expr], unknowns: list[sp.Symbol],
                sol: dict[sp.Symbol, sp.Expr], depth: int = 0) -> list[dict[sp.Symbol, sp.Expr]]:
    """Solve the conditions one at a time (simplest first), substituting as we go."""
    pending = []
    for c in conds:
        k = _core(sp.simplify(c.xreplace(sol)))
        if k is None:
            continue
        if k == 1:
            return []  # a nonzero constant: inconsistent
        pending.append(k)
    if not pending:
        return [sol]
    if depth > 2 * len(unknowns) + 2:  # pragma: no cover - safety net
        return []
    for c in sorted(pending, key=sp.count_ops):
        for u in [u for u in unknowns if c.has(u) and u not in sol]:
            try:
                roots = sp.solve(c, u)
            except (NotImplementedError, ValueError):  # pragma: no cover
                continue
            out: list[dict[sp.Symbol, sp.Expr]] = []
            for r in roots:
                r = sp.simplify(r)
                if not _admissible(u, r):
                    continue
                new = {k: sp.simplify(v.xreplace({u: r})) for k, v in sol.items()}
                new[u] = r
                out += _sequential(conds, unknowns, new, depth + 1)
            if out:
                return out
        return []  # the simplest pending condition cannot be met with these unknowns
    return []


def _solve(conds: list[sp.Expr], unknowns: list[sp.Symbol]) -> dict[sp.Symbol, sp.Expr] | None:
    """A solution (positive κ, δ; ω' >= 0) of all conditions for the given unknowns (the
    other factors stay free), or None."""
    if not conds:
        return {}
    if any(c == 1 for c in conds):
        return None
    for sol in _sequential(conds, unknowns, {}):
        if all(sp.simplify(c.xreplace(sol)) == 0 for c in conds):
            return sol
    return None


def _residual(q: _Quantity, sol: Mapping[sp.Symbol, sp.Expr]) -> list[sp.Expr]:
    """Exact residuals (changed with the rule substituted minus original), simplified."""
    out = []
    for e0, e1 in q.pairs:
        r = sp.simplify(sp.sympify(e1).xreplace(dict(sol)) - e0)
        if r != 0:
            r = sp.simplify(sp.expand(r))
        out.append(r)
    return out
