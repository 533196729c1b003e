"""Run every real-model experiment of ``gpu_validation`` in one mode.

    python -m gpu_validation.run_all --tiny            # CPU smoke (CI), seconds
    python -m gpu_validation.run_all --device cuda     # full runs on a GPU

Each experiment writes its JSON (with provenance) to ``gpu_validation/results/``. The exit
status is non-zero if any experiment fails.
"""

from __future__ import annotations

import argparse
import sys
import time

EXPERIMENTS = ("topk_energy", "distributed_compression")
"""Modules of this package with a ``main(argv) -> int`` accepting ``--tiny``/``--device``."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_validation.run_all",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="small CPU runs (CI)")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda[:i]")
    args = p.parse_args(argv)
    import importlib

    failed = []
    for name in EXPERIMENTS:
        mod = importlib.import_module(f"gpu_validation.{name}")
        t0 = time.perf_counter()
        rc = mod.main((["--tiny"] if args.tiny else []) + ["--device", args.device])
        print(f"[{'ok' if rc == 0 else 'FAILED'}] {name} ({time.perf_counter() - t0:.1f}s)",
              flush=True)
        if rc != 0:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
