"""Claims, verdicts and the context a claim runs in.

A :class:`Claim` ties a literature result to code that derives a prediction and measures
it. Running it yields a :class:`Verdict`: *holds*, *contradicted* or *inconclusive* (or
*error* if the check itself failed), with predicted and measured values, the interval, the
tolerance and how it follows from the standard error, the sample size and the seed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from theorykit.check.mutants import THEORY, Mutant, Theory

Provenance = Literal["paper-abstract", "paper-recalled", "derived"]
PROVENANCE_TEXT: dict[str, str] = {
    "paper-abstract": "stated in the paper (abstract-level, read)",
    "paper-recalled": "the paper's result as recalled, not checked against the PDF",
    "derived": "derived by theorykit (SymPy) from the stated setting",
}


class Status(str, enum.Enum):  # noqa: UP042 - str mixin: statuses compare equal to strings
    HOLDS = "holds"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"

    @classmethod
    def of(cls, ok: bool) -> Status:
        """The status of a decided check: *holds* when ``ok`` is true, else *contradicted*.

        ``ok`` is read for its truth value (a NumPy bool works too). A check that can also
        be undecided picks :attr:`INCONCLUSIVE` itself before asking this."""
        return cls.HOLDS if ok else cls.CONTRADICTED


def joint_status(statuses: Iterable[Status]) -> Status:
    """The status of a claim made of several checks: *contradicted* if any check is,
    *holds* only if every check holds, otherwise *inconclusive* (an errored or undecided
    part leaves the whole undecided)."""
    statuses = list(statuses)
    if Status.CONTRADICTED in statuses:
        return Status.CONTRADICTED
    if statuses and all(s == Status.HOLDS for s in statuses):
        return Status.HOLDS
    return Status.INCONCLUSIVE


@dataclass(frozen=True)
class Source:
    """Where a claim comes from: paper key, theorem/equation locator and provenance."""

    paper: str
    locator: str
    provenance: Provenance
    note: str = ""

    def text(self) -> str:
        return f"{self.paper}, {self.locator} [{self.provenance}]"


@dataclass
class RunContext:
    """How a claim is run: ``mode`` is ``"quick"`` (the default; ``theorykit verify``
    finishes in minutes on 2 cores) or ``"full"`` (larger samples); ``seed`` seeds every
    generator the claim makes; ``device`` is a torch device string."""

    mode: Literal["quick", "full"] = "quick"
    seed: int = 20251
    device: str = "cpu"
    progress: Callable[[float], None] | None = None
    theory: Theory = THEORY
    """The theory under test: unmutated, or one of the claim's mutants (see
    :mod:`theorykit.check.mutants`). Predictions read their knobs from here."""
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Measurements shared by a claim's run and its mutants' runs (see :meth:`memo`)."""

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per claim for ``key``: a mutant that only changes the
        prediction reuses the measurement. ``key`` must name everything the measurement
        depends on (a mutant that changes the configuration changes the key)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def with_theory(self, theory: Theory) -> RunContext:
        """The same context (seed, mode, device, shared cache) under another theory."""
        return RunContext(mode=self.mode, seed=self.seed, device=self.device,
                          progress=self.progress, theory=theory, cache=self.cache)

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def pick(self, quick: Any, full: Any) -> Any:
        """``quick`` in quick mode, ``full`` otherwise."""
        return quick if self.quick else full

    def report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0))


@dataclass
class Verdict:
    """The outcome of one claim."""

    claim_id: str
    status: Status
    predicted: float | str | None
    measured: float | str | None
    interval: tuple[float, float] | None = None
    tolerance: str = ""
    sample_size: int | str | None = None
    seed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)
    """Data for plots (lists of numbers), rendered by the book."""
    elapsed_s: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    """Filled by the runner: versions, device, date, mode."""
    against: Literal["source", "derived"] | None = None
    """What a *contradicted* verdict contradicts: the source's own statement, or
    theorykit's derived hypothesis. ``None``: the runner fills it from the claim's source
    provenance (``derived`` -> ``"derived"``, else ``"source"``)."""
    mutants: list[dict[str, Any]] | None = None
    """Filled by ``verify --mutants``: one entry per mutant with name, description,
    status (killed / survived / inconclusive / error), predicted and measured."""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Verdict:
        d = dict(d)
        d["status"] = Status(d["status"])
        if d.get("interval") is not None:
            d["interval"] = tuple(d["interval"])
        return cls(**d)


@dataclass(frozen=True)
class Claim:
    """A checkable statement. ``run(ctx)`` returns a :class:`Verdict` (use the helpers of
    :mod:`theorykit.check.stats` to build it honestly)."""

    id: str
    title: str
    source: Source
    run: Callable[[RunContext], Verdict]
    tags: tuple[str, ...] = ()
    quick: bool = True
    """Included in ``theorykit verify --quick`` (all claims run under ``--full``)."""
    statement: str = ""
    """The claim in words/LaTeX, shown by the book."""
    mutants: tuple[Mutant, ...] = ()
    """Wrong versions of the theory the same check must contradict."""
