"""The :class:`ScalingRule` a derivation returns, the factor symbols it is written in
(:mod:`theorykit.symbols`) and the per-sample view of an SDE (:func:`per_sample`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from theorykit.errors import InputError
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA
from theorykit.validate import positive_float

TIME_VARIABLE = ("samples seen s = k*N*B (k steps, N workers, per-worker batch B); SDE time "
                 "t = k*eta = eta*s/(N*B); per sample: drift b_s = eta*b/(N*B), diffusion "
                 "covariance Sigma_s = eta^2*Sigma/(N*B)")

FACTORS = (KAPPA, DELTA, ALPHA, OMEGA_NEW)
"""The factors a rule solves for, from :mod:`theorykit.symbols`: ``KAPPA`` = LR_FACTOR
(η -> κη), ``DELTA`` = BATCH_FACTOR (B -> δB), ``ALPHA`` = WORKER_FACTOR (N -> αN) and
``OMEGA_NEW`` (ω -> ω')."""
_FACTOR_WORDS = {KAPPA: "learning rate", DELTA: "per-worker batch size",
                 ALPHA: "number of workers", OMEGA_NEW: "compression constant"}

Kind = Literal["exact", "regime", "nearest", "none"]


@dataclass
class ScalingRule:
    r"""One scaling rule (see the module doc).

    ``kind``: ``"exact"`` (the whole SDE per sample is preserved), ``"regime"`` (exact for
    the SDE in a named regime, e.g. DSignSGD's Phase-3 linearisation), ``"nearest"`` (no
    exact rule exists for the requested change; named quantities are preserved) or
    ``"none"`` (no rule at all; ``words`` says why). ``solution`` maps κ (and any factor the
    rule pins, e.g. δ -> 1) to its value; ``equation`` is ``Eq(kappa, ...)``.
    """

    method: str
    kind: Kind
    name: str
    equation: sp.Eq | None
    solution: dict[sp.Symbol, sp.Expr]
    words: str
    preserves: list[str] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    regime: str = "all phases"
    conditions: list[sp.Eq] = field(default_factory=list)
    """The invariance conditions that were solved (e.g. ``Eq(kappa/(alpha*delta), 1)``)."""
    pinned: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    """Factors other than κ that the rule fixes (e.g. ``{delta: 1}``)."""
    omega_values: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    """What ω and ω' are for the compressors involved (e.g. ``{omega: 1/p - 1}``)."""
    time_variable: str = TIME_VARIABLE
    residual_fn: Callable[[], list[sp.Expr]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ presentation
    def latex(self) -> str:
        """The rule as LaTeX: ``\\kappa = ...`` and the pinned factors."""
        if self.equation is None:
            return r"\text{no rule}"
        names = {OMEGA_NEW: r"\omega'"}
        parts = [sp.latex(self.equation, symbol_names=names)]
        parts += [sp.latex(sp.Eq(k, v), symbol_names=names) for k, v in self.pinned.items()]
        return r",\quad ".join(parts)

    def text(self) -> str:
        """The rule as a plain-text equation."""
        if self.equation is None:
            return "no rule"
        parts = [f"kappa = {sp.sstr(self.equation.rhs)}"]
        parts += [f"{k.name} = {sp.sstr(v)}" for k, v in self.pinned.items()]
        return ",  ".join(parts)

    def pretty(self) -> str:
        """Equation, words, what it preserves and breaks, assumptions."""
        out = [f"[{self.kind}] {self.name}"]
        if self.equation is not None:
            out.append(f"  {self.text()}")
        out.append(f"  {self.words}")
        if self.preserves:
            out.append("  preserves: " + "; ".join(self.preserves))
        if self.breaks:
            out.append("  breaks:    " + "; ".join(self.breaks))
        out.append(f"  regime:    {self.regime}")
        for a in self.assumptions:
            out.append(f"  assumes:   {a}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kind": self.kind,
            "name": self.name,
            "equation": self.text(),
            "latex": self.latex(),
            "solution": {k.name: sp.sstr(v) for k, v in self.solution.items()},
            "pinned": {k.name: sp.sstr(v) for k, v in self.pinned.items()},
            "words": self.words,
            "preserves": list(self.preserves),
            "breaks": list(self.breaks),
            "regime": self.regime,
            "assumptions": list(self.assumptions),
            "conditions": [sp.sstr(c) for c in self.conditions],
            "omega_values": {k.name: sp.sstr(v) for k, v in self.omega_values.items()},
            "time_variable": self.time_variable,
        }

    def __repr__(self) -> str:
        return f"ScalingRule({self.method}, {self.kind}: {self.text()})"

    # ------------------------------------------------------------------ numbers
    @property
    def kappa(self) -> sp.Expr | None:
        """κ as an expression (None for a ``"none"`` rule)."""
        return self.solution.get(KAPPA)

    def kappa_value(self, alpha: float = 1.0, delta: float = 1.0,
                    omega_new: float | None = None, **values: Any) -> float:
        """κ as a number for given factors (and values of ω or of compressor parameters
        such as ``p``). Raises :class:`InputError` when the factors violate a pinned one
        (e.g. δ != 1 for a rule that needs δ = 1) or when a value is missing."""
        if self.kappa is None:
            raise InputError(f"{self.method}: no scaling rule here ({self.words})")
        by_name: dict[str, Any] = {"alpha": alpha, "delta": delta, **values}
        if omega_new is not None:
            by_name["omega'"] = omega_new
        for om, expr in self.omega_values.items():
            if om.name not in by_name:
                by_name[om.name] = _xreplace_by_name(expr, by_name)
        for k, v in self.pinned.items():
            if k.name not in by_name:
                continue
            want = _xreplace_by_name(v, by_name)
            have = sp.sympify(by_name[k.name])
            if want.free_symbols or have.free_symbols:
                continue  # cannot decide without numbers
            if abs(float(want) - float(have)) > 1e-9 * max(1.0, abs(float(want))):
                raise InputError(f"this rule ({self.name}) needs {k.name} = {sp.sstr(v)}, "
                                 f"got {k.name} = {float(have):g}")
        val = _xreplace_by_name(self.kappa, by_name)
        if val.free_symbols:
            missing = ", ".join(sorted(s.name for s in val.free_symbols))
            raise InputError(f"kappa = {sp.sstr(self.kappa)} needs a value for {missing}")
        return positive_float(f"kappa = {sp.sstr(self.kappa)}", val, one_message=True)

    def apply(self, eta: float, batch: int, n_workers: int, alpha: float = 1.0,
              delta: float = 1.0, omega_new: float | None = None, **values: Any
              ) -> dict[str, float]:
        """New hyperparameters ``{"eta", "batch", "n_workers"}`` after the change."""
        k = self.kappa_value(alpha, delta, omega_new, **values)
        return {"eta": eta * k, "batch": batch * delta, "n_workers": n_workers * alpha}

    def residual(self) -> list[sp.Expr]:
        """The simplified differences (per-sample SDE after the change, with the rule
        substituted, minus the original) over the quantities the rule claims to preserve
        exactly: all zero for an exact or regime rule."""
        if self.residual_fn is None:
            return []
        return self.residual_fn()


def _xreplace_by_name(e: Any, values: Mapping[str, Any]) -> sp.Expr:
    """Substitute values given by symbol *name* (assumptions on symbols may differ)."""
    e = sp.sympify(e)
    return e.xreplace({s: sp.sympify(values[s.name]) for s in e.free_symbols
                       if s.name in values})


def per_sample(sde: Any, n_workers: sp.Expr, batch: sp.Expr) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Drift and diffusion covariance of ``sde`` per sample seen:
    :math:`b_s = \eta b/(NB)`, :math:`\Sigma_s = \eta^2\Sigma/(NB)` (see the module doc)."""
    lr = sp.sympify(sde.lr)
    nb = sp.sympify(n_workers) * sp.sympify(batch)
    return sde.drift * (lr / nb), sde.diffusion_cov * (lr**2 / nb)
