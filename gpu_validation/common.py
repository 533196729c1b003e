"""Shared infrastructure of the real-model experiments: modes, devices, provenance, verdicts.

Every experiment module ``gpu_validation/NAME.py`` follows one pattern::

    from gpu_validation import common

    ESTIMATED_S = {"tiny": 25, "cpu": 240, "full": 480}   # declared run time per mode
    PRIORITY = 10                                          # run_all: higher runs first

    def run(mode: common.Mode) -> dict:                    # returns the result document
        ...
        return common.document("NAME", mode, verdict, config=..., series=...)

    def main(argv=None) -> int:
        return common.main("NAME", run, __doc__, argv)

``ESTIMATED_S`` is what :mod:`gpu_validation.run_all` budgets with: tiny and cpu from
single-thread CPU times of the tiny runs (user time, a CI-class CPU) scaled by steps x
workers, full from the estimate in the experiment's module doc (no GPU measurement unless
it says so). Run ``python -m gpu_validation.NAME --tiny | --cpu | --full``.

**Modes** (:func:`add_mode_args` / :func:`resolve_mode`): ``--tiny`` (CPU, CI, ~1 min),
``--cpu`` (CPU, minutes; the default) and ``--full`` (one GPU, sized to about 8 minutes
on a datacenter GPU). ``--device`` overrides the device; ``--full`` on a machine without
CUDA is a one-line error unless ``--device cpu`` is given. ``--seed`` and ``--out`` as
usual; results go to ``gpu_validation/results/NAME_MODE.json``.

**Provenance** (:func:`provenance`) records the device a tensor of the run *really* lived
on (pass the model's parameter or any tensor used): the GPU's name comes from
``torch.cuda.get_device_name`` only when that tensor is on CUDA. Also the backend
(``"single-process"`` for simulated workers), versions, UTC date, command line and seed.

**Verdicts** (:class:`ExperimentVerdict`): ``{claim, title, status, predicted, measured,
interval, tolerance, n, seed, against, mutants: [{name, description, status, predicted,
measured}], details}``, built from a :class:`theorykit.check.claim.Verdict` obtained with
:mod:`theorykit.check.stats` (so the tolerance always says how it follows from an SE).
A mutant is a wrong theory run through the same statistic; its status is ``killed`` when
that statistic contradicts it (:func:`theorykit.check.mutants.mutant_status`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from theorykit.check.claim import Status, Verdict, joint_status
from theorykit.check.mutants import mutant_status
from theorykit.check.stats import Estimate
from theorykit.errors import InputError

__all__ = [
    "MODES",
    "RESULTS",
    "ExperimentVerdict",
    "Mode",
    "MutantResult",
    "add_mode_args",
    "device_of",
    "document",
    "experiment_verdict",
    "first_contradicted",
    "greater",
    "jsonable",
    "main",
    "mean_and_se",
    "mutant_result",
    "provenance",
    "resolve_mode",
    "set_threads",
    "write_result",
]

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("tiny", "cpu", "full")
ModeName = Literal["tiny", "cpu", "full"]


# ============================================================================ modes
@dataclass(frozen=True)
class Mode:
    """How an experiment runs: ``name`` (tiny/cpu/full), the torch ``device``, ``seed``,
    the ``out`` path (None: the default), the command line and the start time."""

    name: ModeName
    device: torch.device
    seed: int = 0
    out: Path | None = None
    command: str = ""
    started: float = field(default_factory=time.perf_counter)

    @property
    def tiny(self) -> bool:
        return self.name == "tiny"

    def pick(self, tiny: Any, cpu: Any, full: Any) -> Any:
        """The value for this mode (a configuration table in one call)."""
        return {"tiny": tiny, "cpu": cpu, "full": full}[self.name]


def add_mode_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--tiny | --cpu | --full``, ``--device``, ``--seed``, ``--out``."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tiny", action="store_true", help="small CPU run for CI (~1 min)")
    g.add_argument("--cpu", action="store_true", help="CPU run, minutes (the default)")
    g.add_argument("--full", action="store_true",
                   help="full run for one GPU (~8 min); needs CUDA unless --device cpu")
    p.add_argument("--device", default=None,
                   help="torch device (default: cpu for --tiny/--cpu, cuda for --full)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--out", default=None, help="results JSON path (default "
                   "gpu_validation/results/NAME_MODE.json)")
    return p


def resolve_mode(args: argparse.Namespace, command: str = "") -> Mode:
    """The :class:`Mode` of parsed arguments; raises :class:`InputError` (one line) for a
    CUDA device without CUDA (``--full`` defaults to CUDA)."""
    name: ModeName = "tiny" if args.tiny else "full" if args.full else "cpu"
    dev = args.device or ("cuda" if name == "full" else "cpu")
    try:
        device = torch.device(dev)
    except RuntimeError as exc:
        raise InputError(f"bad --device {dev!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        hint = " (--full needs a GPU; pass --device cpu to run it on the CPU)" \
            if name == "full" else ""
        raise InputError(f"device {dev!r} requested but CUDA is not available{hint}")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device {dev!r}: use cpu or cuda[:i]")
    return Mode(name, device, int(args.seed), Path(args.out) if args.out else None,
                command)


def set_threads(n: int = 1) -> None:
    """Limit CPU threads (small models: one thread is fastest on a shared CPU)."""
    torch.set_num_threads(n)


# ======================================================================= provenance
def device_of(t: torch.Tensor | torch.nn.Module) -> str:
    """The name of the device a tensor (or a module's first parameter) really lives on:
    the GPU's name only when it is on CUDA, else ``cpu (<processor>)``."""
    if isinstance(t, torch.nn.Module):
        t = next(t.parameters())
    if t.device.type == "cuda":
        return f"{torch.cuda.get_device_name(t.device)} ({t.device})"
    return f"cpu ({platform.processor() or platform.machine()})"


def _versions() -> dict[str, str]:
    from theorykit.check.ledger import versions

    v = versions()
    try:
        import sklearn

        v["scikit-learn"] = sklearn.__version__
    except ImportError:  # pragma: no cover - optional
        pass
    if torch.cuda.is_available():
        v["cuda"] = str(torch.version.cuda)
    return v


def provenance(mode: Mode, used: torch.Tensor | torch.nn.Module, *,
               backend: str = "single-process (simulated workers)",
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Provenance of a run: mode, the device ``used`` really lived on, backend, versions,
    UTC date, command line, seed and elapsed seconds."""
    return {
        "mode": mode.name,
        "device": device_of(used),
        "device_type": (next(used.parameters()) if isinstance(used, torch.nn.Module)
                        else used).device.type,
        "backend": backend,
        "versions": _versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": mode.command,
        "seed": mode.seed,
        "python": platform.python_version(),
        "elapsed_s": round(time.perf_counter() - mode.started, 2),
        **(extra or {}),
    }


# ========================================================================= verdicts
@dataclass
class MutantResult:
    """A wrong theory run through the experiment's statistic."""

    name: str
    description: str
    status: str
    """``killed`` (the statistic contradicts it), ``survived``, ``inconclusive``."""
    predicted: float | str | None
    measured: float | str | None
    tolerance: str = ""


@dataclass
class ExperimentVerdict:
    """A claim checked on a real model (see the module doc)."""

    claim: str
    title: str
    status: str
    predicted: float | str | None
    measured: float | str | None
    interval: list[float] | None
    tolerance: str
    n: int | str | None
    seed: int | None
    against: Literal["source", "derived"] | None
    mutants: list[MutantResult] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    @property
    def killed_all(self) -> bool:
        return bool(self.mutants) and all(m.status == "killed" for m in self.mutants)


def mutant_result(name: str, description: str, v: Verdict) -> MutantResult:
    """A mutant entry from the verdict the experiment's statistic gave the wrong theory."""
    return MutantResult(name, description, mutant_status(v.status.value), v.predicted,
                        v.measured, v.tolerance)


def experiment_verdict(claim: str, title: str, parts: Sequence[Verdict], *,
                       source: Literal["source", "derived"], seed: int | None,
                       mutants: Iterable[MutantResult] = (),
                       details: dict[str, Any] | None = None,
                       main: int = 0) -> ExperimentVerdict:
    """Combine the checks ``parts`` of one claim (joint status: contradicted if any part
    is, holds only if all hold); predicted/measured/interval/tolerance come from
    ``parts[main]`` and every part is listed under ``details["parts"]``. ``against``
    is set (to ``source``) only when the claim is contradicted."""
    if not parts:
        raise InputError("a verdict needs at least one check")
    status = joint_status(p.status for p in parts)
    m = parts[main]
    return ExperimentVerdict(
        claim=claim, title=title, status=status.value, predicted=m.predicted,
        measured=m.measured, interval=list(m.interval) if m.interval else None,
        tolerance=m.tolerance, n=m.sample_size, seed=seed,
        against=source if status == Status.CONTRADICTED else None,
        mutants=list(mutants),
        details={"parts": [{"claim": p.claim_id, "status": p.status.value,
                            "predicted": p.predicted, "measured": p.measured,
                            "interval": list(p.interval) if p.interval else None,
                            "tolerance": p.tolerance, "n": p.sample_size,
                            "details": p.details} for p in parts],
                 **(details or {})})


def greater(claim_id: str, est: Estimate, bound: float, *, z: float,
            seed: int | None = None, details: dict[str, Any] | None = None) -> Verdict:
    """Directional test: *holds* if ``est > bound`` beyond ``z·SE``, *contradicted* if
    ``est < bound`` beyond ``z·SE``, else *inconclusive* (the data cannot tell)."""
    lo, hi = est.mean - z * est.se, est.mean + z * est.se
    status = (Status.HOLDS if lo > bound else Status.CONTRADICTED if hi < bound
              else Status.INCONCLUSIVE)
    if not (math.isfinite(est.mean) and math.isfinite(est.se)):
        status = Status.INCONCLUSIVE
    return Verdict(claim_id, status, f"> {bound:g}", est.mean, (lo, hi),
                   f"holds iff mean - {z:.3g}·SE > {bound:g}; contradicted iff mean + "
                   f"{z:.3g}·SE < {bound:g} (SE={est.se:.3g})", est.n, seed,
                   {"se": est.se, "z": z, **(details or {})})


def first_contradicted(parts: Sequence[Verdict]) -> int:
    """The part a verdict shows (``main`` of :func:`experiment_verdict`): the first
    contradicted one, else the first."""
    return next((i for i, p in enumerate(parts) if p.status == Status.CONTRADICTED), 0)


def mean_and_se(a: Any) -> tuple[float, float]:
    """Mean and standard error of the mean of the values ``a`` (``(inf, nan)`` when one is
    not finite; SE 0 for a single value), for reporting."""
    import numpy as np

    a = np.asarray(a, float)
    if not np.all(np.isfinite(a)):
        return (math.inf, math.nan)
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0


def jsonable(x: Any) -> Any:
    """Plain JSON types (NaN/inf as strings, numpy and torch scalars as floats)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, Status):
        return x.value
    if isinstance(x, bool | int | str) or x is None:
        return x
    if isinstance(x, torch.Tensor):
        x = x.tolist()
        return jsonable(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f if math.isfinite(f) else str(f)


def document(name: str, mode: Mode, verdict: ExperimentVerdict, *,
             used: torch.Tensor | torch.nn.Module, description: str,
             config: dict[str, Any], series: dict[str, Any] | None = None,
             explanation: str = "", backend: str = "single-process (simulated workers)",
             ) -> dict[str, Any]:
    """The result document of one experiment (what :func:`write_result` stores)."""
    return jsonable({
        "experiment": name,
        "description": description,
        "provenance": provenance(mode, used, backend=backend),
        "config": config,
        "verdict": verdict.to_json(),
        "explanation": explanation,
        "series": series or {},
    })


def write_result(name: str, mode: Mode, doc: dict[str, Any]) -> Path:
    """Write ``doc`` to ``mode.out`` or ``gpu_validation/results/NAME_MODE.json``."""
    out = mode.out or RESULTS / f"{name}_{mode.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    return out


def summary_line(name: str, doc: dict[str, Any], path: Path) -> str:
    """One line: the verdict, predicted/measured, mutants killed, device, time, file."""
    v = doc["verdict"]
    muts = v.get("mutants") or []
    killed = sum(m["status"] == "killed" for m in muts)

    def num(x: Any) -> str:
        return f"{x:.4g}" if isinstance(x, float) else str(x)

    return (f"{name}: {v['status']} (predicted {num(v['predicted'])}, measured "
            f"{num(v['measured'])}); mutants killed {killed}/{len(muts)}; device "
            f"{doc['provenance']['device']}; {doc['provenance']['elapsed_s']} s; wrote {path}")


# ============================================================================= main
def main(name: str, run: Callable[[Mode], dict[str, Any]], doc: str | None,
         argv: list[str] | None = None,
         extra_args: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Parse the mode arguments, run, write the JSON, print one summary line. Input
    errors (e.g. ``--full`` without CUDA) print ``NAME: error: ...`` and return 2."""
    p = argparse.ArgumentParser(prog=f"python -m gpu_validation.{name}",
                                description=(doc or name).split("\n\n")[0])
    add_mode_args(p)
    if extra_args is not None:
        extra_args(p)
    args = p.parse_args(argv)
    command = shlex.join([Path(sys.executable).name, "-m", f"gpu_validation.{name}",
                          *(sys.argv[1:] if argv is None else argv)])
    try:
        mode = resolve_mode(args, command)
        set_threads(1 if mode.device.type == "cpu" else 4)
        res = run(mode)
    except InputError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    path = write_result(name, mode, res)
    print(summary_line(name, res, path), flush=True)
    return 0
