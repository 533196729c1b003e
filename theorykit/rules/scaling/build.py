"""Turning a solution into a :class:`ScalingRule`: what it preserves and breaks, its name
and its words."""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from theorykit.rules.scaling.conditions import (
    _Quantity,
    _residual,
    _solve,
)
from theorykit.rules.scaling.rule import _FACTOR_WORDS, Kind, ScalingRule
from theorykit.rules.scaling.setup import _Setup
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import CURVATURE as LAMBDA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA, OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA


def _describe_ratio(r: sp.Expr | None) -> str:
    if r is None:
        return "changes shape"
    return f"x {sp.sstr(sp.factor(r))}"


def _when_one(r: sp.Expr | None, free: list[sp.Symbol]) -> str:
    """' (unchanged only if omega' = omega)'-style note for a broken factor."""
    if r is None:
        return ""
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL
    from theorykit.symbols import ETA

    for s in free:
        if r.has(s):
            try:
                sol = sp.solve(sp.Eq(r, 1), s, dict=True)
            except NotImplementedError:  # pragma: no cover
                continue
            # only simple conditions (free of eta, lambda, N, B) are worth a note
            if sol and not any(x[s].has(ETA, LAMBDA, N_SYMBOL, B_SYMBOL) for x in sol):
                return " (unchanged only if " + " or ".join(
                    f"{s.name} = {sp.sstr(x[s])}" for x in sol) + ")"
    return ""


def _evaluate(qs: dict[str, _Quantity], conds: dict[str, list[sp.Expr]],
              sol: Mapping[sp.Symbol, sp.Expr], free: list[sp.Symbol]
              ) -> tuple[list[str], list[str]]:
    preserves, breaks = [], []
    for k, q in qs.items():
        if k == "sde":
            continue
        ok = all(sp.simplify(c.xreplace(dict(sol))) == 0 for c in conds[k])
        if ok and q.series:
            ok = all(r == 0 for r in _residual(q, sol))
        if ok:
            preserves.append(q.name)
        else:
            r = None if q.ratio is None else sp.simplify(q.ratio.xreplace(dict(sol)))
            if q.ratio is None and all(e0 == 0 for e0, _ in q.pairs):
                breaks.append(f"{q.name}: appears (absent before the change)")
            else:
                breaks.append(f"{q.name}: {_describe_ratio(r)}{_when_one(r, free)}")
    return preserves, breaks


def _pinned_text(sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    pins = [k for k in (DELTA, OMEGA_NEW) if k in sol]
    if not pins:
        return ""
    neg = " or ".join(f"{k.name} != {sp.sstr(sol[k])}" for k in pins)
    need = " and ".join(f"{k.name} = {sp.sstr(sol[k])}" for k in pins)
    return f"when {neg}: exact matching of the SDE per sample needs {need}"


def _impossible_text(st: _Setup, qs: dict[str, _Quantity], conds: dict[str, list[sp.Expr]],
                     mismatch: str = "") -> str:
    """Why exact matching is impossible."""
    if st.omega == 0 and st.omega_new is not None:
        return ("exact SDE matching from omega = 0 to omega' > 0 is impossible: the "
                "multiplicative term omega'*||grad f||^2 has no counterpart without "
                "compression")
    if mismatch:
        return f"exact matching of the SDE per sample is impossible here: {mismatch}"
    allu = [KAPPA, DELTA] + ([OMEGA_NEW] if st.omega_new is not None else [])
    bad = [q.name for k, q in qs.items() if k not in ("sde", "floor")
           and _solve(conds[k], allu) is None]
    if bad:
        return "no choice of (kappa, delta) matches " + "; ".join(bad)
    return "the conditions for exact matching have no common solution"


def _make_rule(st: _Setup, kind: Kind, qs: dict[str, _Quantity],
               conds: dict[str, list[sp.Expr]], sol: dict[sp.Symbol, sp.Expr], key: str,
               free: list[sp.Symbol], assumptions: list[str], regime: str,
               no_exact: str | None = None) -> ScalingRule:
    preserves, breaks = _evaluate(qs, conds, sol, free)
    if kind in ("exact",):
        preserves = [qs["sde"].name, *preserves]
    kappa = sol.get(KAPPA, KAPPA)
    pinned = {k: sol[k] for k in (DELTA, OMEGA_NEW) if k in sol}
    name = _rule_name(st, kind, key, kappa, pinned)
    words = _words(st, kind, key, kappa, pinned, preserves, breaks, no_exact)
    q = qs[key]
    conditions = [sp.Eq(c, 0) for c in conds[key]]
    return ScalingRule(
        method=st.method, kind=kind, name=name, equation=sp.Eq(KAPPA, kappa),
        solution=dict(sol), words=words, preserves=preserves, breaks=breaks,
        assumptions=list(assumptions), regime=regime, conditions=conditions, pinned=pinned,
        omega_values=dict(st.omega_values),
        residual_fn=lambda q=q, sol=dict(sol): _residual(q, sol))


def _rule_name(st: _Setup, kind: Kind, key: str, kappa: sp.Expr, pinned: Mapping) -> str:
    if kappa == ALPHA * DELTA:
        base = "linear scaling rule"
    elif kappa == ALPHA * sp.sqrt(DELTA):
        base = "square-root scaling rule"
    elif kappa == ALPHA and pinned.get(DELTA) == 1:
        base = "worker-count rule (batch fixed)"
    else:
        base = "scaling rule"
    tag = {"exact": "exact", "regime": {"phase3": "Phase 3", "phase1": "Phase 1"}.get(key, key),
           "nearest": {"time": "preserves the time scale",
                       "floor0": "preserves the stationary loss (leading order)",
                       "floor": "preserves the stationary loss exactly"}.get(key, key),
           "none": "none"}[kind]
    return f"{base} ({tag})"


def _words(st: _Setup, kind: Kind, key: str, kappa: sp.Expr, pinned: Mapping,
           preserves: list[str], breaks: list[str], no_exact: str | None) -> str:
    change = "when the number of workers is multiplied by alpha and the per-worker batch by " \
             "delta"
    if DELTA in pinned:
        change = "when the number of workers is multiplied by alpha"
    if st.omega_new is not None and OMEGA_NEW not in pinned:
        change += " and the compression constant becomes omega'"
    act = f"multiply the learning rate by kappa = {sp.sstr(kappa)} {change}"
    pins = []
    for k, v in pinned.items():
        what = _FACTOR_WORDS.get(k, k.name)
        if k == DELTA and v == 1:
            pins.append("keep the per-worker batch size fixed (delta = 1)")
        elif k == OMEGA_NEW and v == OMEGA:
            pins.append("keep the compression fixed (omega' = omega)")
        else:
            pins.append(f"set the {what} factor {k.name} = {sp.sstr(v)}")
    pin_txt = ("; " + " and ".join(pins)) if pins else ""
    keep = "; ".join(preserves) if preserves else "nothing named"
    lost = "; ".join(b.split(": ", 1)[0] for b in breaks) if breaks else "nothing named"
    if kind == "exact":
        tail = ("" if not pins else " No other choice preserves the whole SDE per sample.")
        return (f"Exact: {act}{pin_txt}. Then the SDE written per sample seen is unchanged, so "
                f"loss curves against samples seen coincide (up to the O(eta) error of the "
                f"SDE).{tail}")
    if kind == "regime":
        where = ("Phase 3 (small gradients)" if key == "phase3"
                 else "Phase 1 (large gradients, noise negligible)")
        return (f"In {where}: {act}{pin_txt}. It preserves {keep}; it does not preserve "
                f"{lost} (factors under 'breaks').")
    if no_exact and no_exact.startswith("when "):
        head = f"No exact rule {no_exact}. "
    else:
        head = f"No exact rule: {no_exact}. " if no_exact else "No exact rule. "
    return (f"{head}Nearest rule: {act}{pin_txt}. It preserves {keep}; but not {lost} "
            "(factors under 'breaks').")
