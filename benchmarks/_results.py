"""Where benchmark numbers go: ``results/benchmarks/NAME.json`` with provenance.

Every full (non ``--quick``) benchmark run writes its numbers here with the date, the exact
command, the machine (cores, processor, load) and the versions, so that the README's
figures are generated from committed files (``python tools/update_readme.py``) and never
typed by hand.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "benchmarks"


def provenance() -> dict[str, Any]:
    """Date, command, machine and versions of this run."""
    import numpy
    import torch

    import theorykit

    # the checkout theorykit was imported from (PYTHONPATH may point at another one)
    src = Path(theorykit.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=src,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "commit": commit or None,
        "theorykit_path": str(src),
        "cores": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def write(name: str, payload: dict[str, Any], path: str | None, quick: bool) -> Path | None:
    """Write ``payload`` plus provenance to ``path``, or — for a full run without --json —
    to ``results/benchmarks/NAME.json``. A ``--quick`` smoke without --json writes nothing."""
    if path is None and quick:
        return None
    out = Path(path) if path else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": name, "quick": quick, "provenance": provenance(),
                               **payload}, indent=2, default=str) + "\n")
    print(f"wrote {os.path.relpath(out, Path.cwd())}")
    return out


def finish(name: str, payload: dict[str, Any], path: str | None, quick: bool) -> int:
    """The end of every benchmark's ``main``: :func:`write` the results, exit status 0."""
    write(name, payload, path, quick)
    return 0
