"""The ledger: running claims, recording verdicts with provenance, and rendering them.

Verdicts are appended to a JSON-lines file as soon as each claim finishes, so an
interrupted ``theorykit verify`` loses nothing: ``--resume`` skips claims already recorded
for the same mode and seed.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from theorykit.check.claim import Claim, RunContext, Status, Verdict
from theorykit.check.mutants import THEORY, Mutant, mutant_status
from theorykit.errors import TheorykitError


def versions() -> dict[str, str]:
    import numpy
    import scipy
    import sympy
    import torch

    import theorykit

    return {
        "theorykit": theorykit.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sympy": sympy.__version__,
    }


def device_text(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()})"


def _run_once(c: Claim, ctx: RunContext) -> Verdict:
    """Run one claim under ``ctx.theory``; failures of the check become an ``error``
    verdict, never a crash."""
    t0 = time.perf_counter()
    try:
        v = c.run(ctx)
        if v.claim_id != c.id:
            v.claim_id = c.id
    except TheorykitError as exc:
        v = Verdict(c.id, Status.ERROR, None, None, details={"error": str(exc)})
    except Exception as exc:  # any failure is reported, not raised
        v = Verdict(c.id, Status.ERROR, None, None,
                    details={"error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(limit=5)})
    v.elapsed_s = round(time.perf_counter() - t0, 3)
    if v.against is None:
        v.against = "derived" if c.source.provenance == "derived" else "source"
    return v


def run_mutant(c: Claim, m: Mutant, ctx: RunContext) -> dict[str, Any]:
    """Run mutant ``m`` of claim ``c`` through the same check (same seed, shared cache)."""
    mv = _run_once(c, ctx.with_theory(m.theory()))
    out: dict[str, Any] = {
        "name": m.name,
        "description": m.description,
        "status": mutant_status(mv.status.value),
        "verdict": mv.status.value,
        "predicted": mv.predicted,
        "measured": mv.measured,
        "tolerance": mv.tolerance,
        "elapsed_s": mv.elapsed_s,
    }
    if mv.status == Status.ERROR:
        out["error"] = mv.details.get("error")
    return out


def run_claim(c: Claim, ctx: RunContext, *, mutants: bool = False) -> Verdict:
    """Run one claim (and, with ``mutants``, each of its mutants through the same check)."""
    ctx = ctx.with_theory(THEORY)
    ctx.cache.clear()
    t0 = time.perf_counter()
    v = _run_once(c, ctx)
    if mutants:
        v.mutants = [run_mutant(c, m, ctx) for m in c.mutants]
        v.elapsed_s = round(time.perf_counter() - t0, 3)
    ctx.cache.clear()
    v.provenance = {
        "mode": ctx.mode,
        "seed": ctx.seed,
        "device": device_text(ctx.device),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "source": c.source.text(),
        "mutants_run": mutants,
    }
    return v


def mutant_summary(v: Verdict) -> str:
    """``"k/n"`` mutants killed, or ``"-"`` when mutants were not run."""
    if v.mutants is None:
        return "-"
    killed = sum(m["status"] == "killed" for m in v.mutants)
    return f"{killed}/{len(v.mutants)}"


class Ledger:
    """Verdicts of a run, optionally backed by a JSON-lines journal for resuming."""

    def __init__(self, journal: Path | None = None) -> None:
        self.journal = journal
        self.verdicts: dict[str, Verdict] = {}

    def load(self, ctx: RunContext, *, mutants: bool = False) -> None:
        if self.journal is None or not self.journal.exists():
            return
        for line in self.journal.read_text().splitlines():
            if not line.strip():
                continue
            try:
                v = Verdict.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError, KeyError, ValueError):
                continue  # a line cut short by a kill mid-write: that claim runs again
            p = v.provenance
            if (p.get("mode") == ctx.mode and p.get("seed") == ctx.seed
                    and (p.get("mutants_run", False) or not mutants)):
                self.verdicts[v.claim_id] = v

    def record(self, v: Verdict) -> None:
        self.verdicts[v.claim_id] = v
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            with self.journal.open("a") as fh:
                fh.write(json.dumps(v.to_json(), default=_jsonable) + "\n")

    def run(self, claims: Iterable[Claim], ctx: RunContext, *, resume: bool = False,
            mutants: bool = False, jobs: int = 1, user_targets: tuple[str, ...] = (),
            on_start=None, on_done=None) -> list[Verdict]:
        """Run ``claims`` (``jobs`` at a time in worker processes when ``jobs > 1``),
        recording each verdict as it finishes; returns them in the order given."""
        if resume:
            self.load(ctx, mutants=mutants)
        claims = list(claims)
        got: dict[str, Verdict] = {}
        todo = []
        for c in claims:
            if resume and c.id in self.verdicts and self.verdicts[c.id].status != Status.ERROR:
                got[c.id] = self.verdicts[c.id]
                if on_done:
                    on_done(c, got[c.id], True)
            else:
                todo.append(c)
        if jobs > 1 and len(todo) > 1:
            from theorykit.check.parallel import run_parallel

            for c, v in run_parallel(todo, ctx, jobs=jobs, mutants=mutants,
                                     user_targets=user_targets, on_start=on_start):
                self.record(v)
                got[c.id] = v
                if on_done:
                    on_done(c, v, False)
        else:
            for c in todo:
                if on_start:
                    on_start(c)
                v = run_claim(c, ctx, mutants=mutants)
                self.record(v)
                got[c.id] = v
                if on_done:
                    on_done(c, v, False)
        return [got[c.id] for c in claims]

    def to_json(self) -> dict[str, Any]:
        return {"verdicts": [v.to_json() for v in self.verdicts.values()]}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=_jsonable))


def _jsonable(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def format_value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def verdict_rows(verdicts: Iterable[Verdict], claims: dict[str, Claim]) -> list[list[str]]:
    rows = []
    for v in verdicts:
        c = claims.get(v.claim_id)
        src = (f"{c.source.paper}; {c.source.locator} [{c.source.provenance}]"
               if c else "")
        interval = (f"[{v.interval[0]:.4g}, {v.interval[1]:.4g}]"
                    if v.interval is not None else "-")
        measured = format_value(v.measured)
        if v.status == Status.ERROR:
            measured = str(v.details.get("error", "error"))[:60]
        rows.append([v.claim_id, src, format_value(v.predicted), measured, interval,
                     mutant_summary(v), v.status.value])
    return rows
