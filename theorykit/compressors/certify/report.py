"""The certifier's results: one :class:`TestRow` per (dimension, input, inequality), one
:class:`ConstantResult` per claimed constant (:func:`summarise`) and the
:class:`CertificationReport` with the settings that produced them (and its claim
:class:`~theorykit.check.claim.Verdict`). The decision rule the report states is that of
:mod:`theorykit.compressors.certify`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from theorykit.check.claim import Status, Verdict
from theorykit.compressors.certify.stat_tests import CONFIRM_FACTOR

__all__ = ["ATTAINED", "CertificationReport", "ConstantResult", "TestRow", "summarise"]

ATTAINED = ".attained"
"""Suffix of the key of a tightness test (``"U.omega.attained"``)."""


@dataclass
class TestRow:
    """One (dimension, input, inequality) test."""

    d: int
    input: str
    key: str
    mean: float
    se: float
    rhs: float
    violation: float
    threshold: float
    status: str
    n: int
    scale: float = math.nan
    claimed: float | None = None
    implied: float | None = None
    implied_se: float | None = None
    tightness: float | None = None
    note: str = ""


@dataclass
class ConstantResult:
    """The verdict on one claimed constant (e.g. ``B1.beta``) over all dims and inputs."""

    key: str
    cls: str
    constant: str
    formula: str
    text: str
    status: str
    claimed: float | None
    worst_d: int | None
    worst_input: str | None
    estimate: float | None
    se: float | None
    tightness: float | None
    n: int | None
    seed: int
    note: str = ""
    rows: list[TestRow] = field(default_factory=list)

    def summary(self) -> str:
        est = "-" if self.estimate is None else f"{self.estimate:.4g} ± {self.se or 0:.2g}"
        tight = "-" if self.tightness is None else f"{self.tightness:.3g}"
        return (f"{self.key}: {self.status} (claimed {_fmt(self.claimed)}, implied {est} at "
                f"{self.worst_input}, d={self.worst_d}, tightness {tight}, n={self.n})")


@dataclass
class CertificationReport:
    """All verdicts of one certification, with the settings that produced them."""

    compressor: str
    values: dict[str, Any]
    dims: list[int]
    n_samples: int
    seed: int
    z: float
    alpha: float
    n_tests: int
    float_rtol: float
    max_rel_se: float
    inputs: list[str]
    constants: list[ConstantResult]
    elapsed_s: float = 0.0

    @property
    def status(self) -> Status:
        """Contradicted if any constant is, else inconclusive if any is, else holds."""
        st = {c.status for c in self.constants}
        if Status.CONTRADICTED.value in st:
            return Status.CONTRADICTED
        if Status.INCONCLUSIVE.value in st or not self.constants:
            return Status.INCONCLUSIVE
        return Status.HOLDS

    @property
    def contradicted(self) -> list[ConstantResult]:
        return [c for c in self.constants if c.status == Status.CONTRADICTED.value]

    def constant(self, key: str) -> ConstantResult:
        for c in self.constants:
            if c.key == key:
                return c
        raise KeyError(key)

    def rule(self) -> str:
        return (f"violation > z·SE + tol, z={self.z:.3g} (Bonferroni over {self.n_tests} tests, "
                f"family-wise alpha={self.alpha:g}), tol={self.float_rtol:g}·scale; "
                f"randomized rejections confirmed on {CONFIRM_FACTOR}x fresh samples with "
                f"Cochran's rule; inconclusive if SE > {self.max_rel_se:g}·scale or non-finite"
                + ("; KEY.attained: the reverse inequality at the inputs where the constant "
                   "is claimed attained, same rule (two-sided at those inputs)"
                   if any(c.key.endswith(ATTAINED) for c in self.constants) else ""))

    def to_json(self, *, rows: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["rule"] = self.rule()
        if not rows:
            for c in out["constants"]:
                c.pop("rows")
        return _finite_json(out)

    def verdict(self, claim_id: str) -> Verdict:
        """A claim verdict: holds iff every claimed constant holds."""
        counts = {s: sum(c.status == s for c in self.constants)
                  for s in ("holds", "contradicted", "inconclusive")}
        measured = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return Verdict(
            claim_id=claim_id,
            status=self.status,
            predicted=f"all {len(self.constants)} claimed constants hold",
            measured=measured,
            tolerance=self.rule(),
            sample_size=self.n_samples,
            seed=self.seed,
            details={
                "compressor": self.compressor,
                "values": self.values,
                "dims": self.dims,
                "constants": [c.summary() for c in self.constants],
            },
            series={
                "constant": [c.key for c in self.constants],
                "tightness": [c.tightness for c in self.constants],
                "status": [c.status for c in self.constants],
            },
        )


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _finite_json(o: Any) -> Any:
    if isinstance(o, float):
        return o if math.isfinite(o) else str(o)
    if isinstance(o, dict):
        return {k: _finite_json(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite_json(v) for v in o]
    return o


def summarise(key: str, meta: tuple[str, str, str, str], rows: list[TestRow],
               seed: int) -> ConstantResult:
    """The verdict on one constant from its rows: contradicted if any row is, else
    inconclusive if any is, else holds (sign-type: holds if any row shows non-homogeneity),
    reported at the worst row. ``meta``: (class, constant, inequality text, formula)."""
    cls, label, text, formula = meta
    statuses = {r.status for r in rows}
    if key == "sign-type.nonhomogeneous":
        status = Status.HOLDS if Status.HOLDS.value in statuses else Status.INCONCLUSIVE
    elif Status.CONTRADICTED.value in statuses:
        status = Status.CONTRADICTED
    elif Status.INCONCLUSIVE.value in statuses:
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS

    def badness(r: TestRow) -> tuple:
        if key == "sign-type.nonhomogeneous":
            rank = {"holds": 1, "inconclusive": 0, "contradicted": 0}[r.status]
            return (rank, r.violation / r.threshold if r.threshold > 0 else math.inf)
        rank = {"contradicted": 2, "inconclusive": 1, "holds": 0}[r.status]
        if not (math.isfinite(r.violation) and math.isfinite(r.threshold)):
            return (rank, -math.inf)
        if rank == 2:  # the clearest contradiction: largest violation in thresholds
            return (rank, r.violation / r.threshold if r.threshold > 0 else math.inf)
        # otherwise the input whose estimate comes closest to the bound (relative to the
        # size of the terms; the point estimate may exceed it by less than the threshold)
        sc = r.scale if math.isfinite(r.scale) and r.scale > 0 else 1.0
        return (rank, r.violation / sc)

    worst = max(rows, key=badness)
    notes = sorted({part for r in rows if r.note and r.status != "holds"
                    for part in r.note.split("; ")})
    has_implied = worst.implied is not None
    return ConstantResult(
        key=key, cls=cls, constant=label, formula=formula, text=text, status=status.value,
        claimed=worst.claimed, worst_d=worst.d, worst_input=worst.input,
        estimate=worst.implied if has_implied else worst.mean,
        se=worst.implied_se if has_implied else worst.se, tightness=worst.tightness,
        n=worst.n, seed=seed, note="; ".join(notes[:3]) or worst.note, rows=rows)
