"""The search over unknown sets and target compressors: :func:`derive_rules` (cached)
and :func:`rules_by_kind`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sympy as sp

from theorykit.errors import AssumptionError, DerivationError, InputError
from theorykit.rules.scaling.build import _impossible_text, _make_rule, _pinned_text
from theorykit.rules.scaling.conditions import (
    _conditions,
    _generators,
    _quantities,
    _residual,
    _solve,
)
from theorykit.rules.scaling.rule import Kind, ScalingRule, per_sample
from theorykit.rules.scaling.setup import _derive_pair, _Setup, _setup
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA, OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA


def _unknown_sets(st: _Setup) -> list[list[sp.Symbol]]:
    sets = [[KAPPA], [KAPPA, DELTA]]
    if st.omega_new is not None:
        sets += [[KAPPA, OMEGA_NEW], [KAPPA, DELTA, OMEGA_NEW]]
    return sets


def _target_mismatch(st: _Setup, sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    """'' if a solution's pinned omega' is compatible with the requested target compressor,
    else why not (e.g. 'here omega = 1 and omega' = 3')."""
    if OMEGA_NEW not in sol or OMEGA_NEW not in st.omega_values:
        if OMEGA_NEW in sol and st.omega == 0 and st.omega_new is not None and \
                sp.simplify(sol[OMEGA_NEW]) == 0:
            return "it needs omega' = 0 (no compression after the change)"
        return ""
    want = sp.sympify(sol[OMEGA_NEW]).xreplace(
        {OMEGA: st.omega_values.get(OMEGA, st.omega)})
    have = st.omega_values[OMEGA_NEW]
    diff = sp.simplify(want - have)
    if diff == 0 or diff.free_symbols:
        return ""
    return (f"it needs omega' = {sp.sstr(sol[OMEGA_NEW])}, but here omega = "
            f"{sp.sstr(st.omega_values.get(OMEGA, st.omega))} and omega' = {sp.sstr(have)}")


def derive_rules(method: str, compressor: Any = None, noise: Any = "gaussian", *,
                 to_compressor: Any = None, nu: Any = None) -> list[ScalingRule]:
    r"""Scaling rules of ``method`` (``"dsgd" | "dcsgd" | "dsignsgd"``), derived by SymPy.

    * ``compressor`` (DCSGD): a :class:`~theorykit.compressors.base.CompressorSpec`, a
      catalog name (parameters left symbolic, e.g. ω = 1/p − 1), an ω (number/symbol) or
      ``"omega"``; any unbiased compressor (its ``omega()`` is used).
    * ``to_compressor``: the compressor after the change (ω -> ω' = its ω); with
      ``method="dsgd"`` this asks for the move from uncompressed DSGD to DCSGD. Without it
      DCSGD rules keep ω' as a free symbol.
    * ``noise``: ``"gaussian"`` (scale σ) or ``"student-t"`` (scale s, tail index ``nu``,
      symbolic unless given), or such a :class:`~theorykit.noise.NoiseModel`.

    Returns the exact rule if one exists (with the factors it pins), then regime rules
    (DSignSGD Phase 3 / Phase 1) and nearest rules for the changes the exact rule forbids;
    or a single ``kind="none"`` rule. Each rule says what it preserves and breaks.
    """
    key = (str(method), _key(compressor), _key(noise), _key(to_compressor), _key(nu))
    if key not in _CACHE:
        _CACHE[key] = _derive_rules(method, compressor, noise, to_compressor, nu)
    return [replace(r, preserves=list(r.preserves), breaks=list(r.breaks),
                    assumptions=list(r.assumptions), solution=dict(r.solution),
                    pinned=dict(r.pinned), conditions=list(r.conditions),
                    omega_values=dict(r.omega_values)) for r in _CACHE[key]]


_CACHE: dict[tuple, list[ScalingRule]] = {}


def _key(x: Any) -> str:
    from theorykit.compressors.base import CompressorSpec

    if isinstance(x, CompressorSpec):
        return f"{type(x).__module__}.{type(x).__qualname__}{x.values}{x.d}"
    return f"{type(x).__qualname__}:{x!r}"


def _derive_rules(method: Any, compressor: Any, noise: Any, to_compressor: Any, nu: Any
                  ) -> list[ScalingRule]:
    st = _setup(method, compressor, noise, to_compressor, nu)
    if st.no_sde:
        return _finish([ScalingRule(
            method=st.method, kind="none", name="no rule", equation=None, solution={},
            words=f"No scaling rule: {st.no_sde}.", assumptions=list(st.assumptions),
            regime="none", omega_values=dict(st.omega_values))], st)
    s0, s1 = _derive_pair(st)
    qs = _quantities(st, s0, s1)
    gens = _generators(st, s0)
    conds = {k: _conditions(q, gens) for k, q in qs.items()}
    free = [DELTA] + ([OMEGA_NEW] if st.omega_new is not None else [])
    m = st.method
    rules: list[ScalingRule] = []
    base_assumptions = [*st.assumptions, *[a for a in s0.assumptions
                                           if a not in st.assumptions]]

    # ---- exact: the whole per-sample SDE
    exact_sol, exact_set, mismatch = None, None, ""
    for unknowns in _unknown_sets(st):
        sol = _solve(conds["sde"], unknowns)
        if sol is not None and all(r == 0 for r in _residual(qs["sde"], sol)):
            mismatch = _target_mismatch(st, sol)
            if not mismatch:
                exact_sol, exact_set = sol, unknowns
            break
    seen: list[dict] = []
    if exact_sol is not None:
        rules.append(_make_rule(st, "exact", qs, conds, exact_sol, "sde", free,
                                base_assumptions, "all phases (the full SDE)"))
        note = _verify_on_spec(st, exact_sol)
        if note:
            rules[-1].assumptions.append(note)
        seen.append(exact_sol)
        if exact_set == [KAPPA]:
            return _finish(rules, st)
    pinned_text = _pinned_text(exact_sol) if exact_sol is not None else None
    impossible = _impossible_text(st, qs, conds, mismatch)

    # ---- regime rules (sign methods) and nearest rules
    if st.sign:
        candidates = [("phase3", "regime", "Phase 3: |d_j f| << noise scale/sqrt(B) "
                       "(small gradients; the linearisation of the sign mean)"),
                      ("phase1", "regime", "Phase 1: |d_j f| >> noise scale/sqrt(B) (noise "
                       "negligible; SignGD)")]
    else:
        candidates = [("time", "nearest", ""), ("floor0", "nearest", ""),
                      ("floor", "nearest", "")]
    for key, kind, regime in candidates:
        for unknowns in ([[KAPPA]] if key != "floor" else [[KAPPA], [KAPPA, DELTA]]):
            sol = _solve(conds[key], unknowns)
            if sol is None:
                continue
            if key == "phase3" and not all(r == 0 for r in _residual(qs[key], sol)):
                continue
            if any(_same(sol, s) for s in seen):
                break
            seen.append(sol)
            reg = regime or ("all phases; exact only for the named quantities it preserves")
            rule = _make_rule(st, kind, qs, conds, sol, key, free, base_assumptions, reg,
                              no_exact=pinned_text if exact_sol is not None else impossible)
            rules.append(rule)
            break
    if not rules:
        rules.append(ScalingRule(
            method=m, kind="none", name="no rule", equation=None, solution={},
            words="No scaling rule: " + impossible + ".",
            assumptions=base_assumptions, omega_values=dict(st.omega_values)))
    return _finish(rules, st)


def _verify_on_spec(st: _Setup, sol: Mapping[sp.Symbol, sp.Expr]) -> str:
    """For DCSGD with a concrete compressor and a rule that keeps the compressor (ω' = ω),
    re-check the rule on the SDE built from the compressor's *own* conditional covariance
    (e.g. rand-k's off-diagonal terms), not only its omega: returns a note."""
    from theorykit.compressors.base import CompressorSpec
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL, derive
    from theorykit.symbols import ETA

    spec = st.spec
    if isinstance(spec, str) and not spec.startswith("omega"):
        from theorykit.compressors.registry import make

        spec = make(spec)
    if not isinstance(spec, CompressorSpec) or sp.simplify(
            sol.get(OMEGA_NEW, OMEGA) - OMEGA) != 0:
        return ""
    d = spec.d or 2
    for dd in ([d] if spec.d else [2, 3, 4]):
        try:
            s0 = derive("dcsgd", spec, st.noise, dd)
            s1 = derive("dcsgd", spec, st.noise, dd, n_workers=ALPHA * N_SYMBOL,
                        batch=sol.get(DELTA, DELTA) * B_SYMBOL,
                        lr_symbol=sol[KAPPA] * ETA)
        except (InputError, AssumptionError, DerivationError, TypeError, ValueError):
            continue
        b0, c0 = per_sample(s0, N_SYMBOL, B_SYMBOL)
        b1, c1 = per_sample(s1, ALPHA * N_SYMBOL, sol.get(DELTA, DELTA) * B_SYMBOL)
        res = [sp.simplify(e) for e in [*(b1 - b0), *(c1 - c0)]]
        if all(r == 0 for r in res):
            return (f"verified on {spec.name}'s own SDE (its exact conditional covariance, "
                    f"d = {dd}): per-sample residual 0")
        return (f"NOT exact on {spec.name}'s own SDE (d = {dd}): residual "
                f"{sp.sstr(next(r for r in res if r != 0))}")
    return f"not re-checked on {spec.name}'s own SDE (needs numeric parameters)"


def _same(a: Mapping, b: Mapping) -> bool:
    if set(a) != set(b):
        return False
    return all(sp.simplify(a[k] - b[k]) == 0 for k in a)


def _finish(rules: list[ScalingRule], st: _Setup) -> list[ScalingRule]:
    nums = {k: v for k, v in st.omega_values.items() if sp.sympify(v).is_number}
    for r in rules:
        if nums and r.kappa is not None and r.kappa.has(*nums):
            vals = ", ".join(f"{k.name} = {sp.sstr(v)}" for k, v in nums.items())
            r.words += (f" Here {vals}: kappa = "
                        f"{sp.sstr(sp.simplify(r.kappa.xreplace(nums)))}.")
        for k, v in st.labels.items():
            note = f"{k}: {v}"
            if note not in r.assumptions:
                r.assumptions.insert(0, note)
    return rules


def rules_by_kind(rules: list[ScalingRule], kind: Kind, key: str | None = None
                  ) -> ScalingRule:
    """The first rule of ``kind`` (and whose name contains ``key``); InputError if none."""
    for r in rules:
        if r.kind == kind and (key is None or key in r.name):
            return r
    raise InputError(f"no {kind} rule{'' if key is None else f' ({key})'} among "
                     f"{[r.name for r in rules]}")
