"""Run every real-model experiment of ``gpu_validation`` in one mode, within a time budget.

    python -m gpu_validation.run_all --tiny                       # CPU smoke (CI), ~1 min each
    python -m gpu_validation.run_all --cpu --budget 900           # CPU, minutes each
    python -m gpu_validation.run_all --full --budget 3600         # one GPU, ~8 min each
    python -m gpu_validation.run_all --full --device cpu --budget 600   # dry run of --full

Experiments run most informative first (their ``PRIORITY``, higher first); before each,
its declared estimated time for the mode (``ESTIMATED_S``) is compared with what is left of
``--budget`` and it is skipped, with a message, if it would not fit. Each writes its JSON
(with provenance: the device really used) to ``gpu_validation/results/NAME_MODE.json``.
``--full`` without CUDA is a one-line error unless ``--device cpu`` is given. The exit
status is non-zero if any experiment that ran failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from types import ModuleType

EXPERIMENTS = ("vit_heavy_tails", "svag", "lm_scaling", "ef_cnn", "quant_budget",
               "topk_energy", "distributed_compression")
"""Modules of this package with ``main(argv) -> int``. Modules built on
:mod:`gpu_validation.common` declare ``ESTIMATED_S`` (seconds per mode) and ``PRIORITY``
and take ``--tiny|--cpu|--full --device``; the older ones take ``--tiny`` / ``--device``."""

LEGACY = {
    # declared estimates for the modules that predate common.py (measured on CPU runs /
    # sized from their own configurations)
    "topk_energy": ({"tiny": 10, "cpu": 60, "full": 180}, 10),
    "distributed_compression": ({"tiny": 30, "cpu": 300, "full": 300}, 5),
}


def _meta(name: str, mod: ModuleType) -> tuple[dict[str, float], int, bool]:
    """(estimated seconds per mode, priority, new-style?)"""
    if hasattr(mod, "ESTIMATED_S"):
        return dict(mod.ESTIMATED_S), int(getattr(mod, "PRIORITY", 0)), True
    est, prio = LEGACY.get(name, ({"tiny": 60, "cpu": 600, "full": 600}, 0))
    return est, prio, False


def _argv(new_style: bool, mode: str, device: str) -> list[str]:
    if new_style:
        return [f"--{mode}", "--device", device]
    return (["--tiny"] if mode == "tiny" else []) + ["--device", device]


def plan(names: list[str], mode: str, budget: float | None
         ) -> list[tuple[str, ModuleType, float, bool]]:
    """The experiments in run order (priority, highest first) with their estimates."""
    rows = []
    for name in names:
        try:
            mod = importlib.import_module(f"gpu_validation.{name}")
        except Exception as exc:  # a broken module is reported, the others still run
            print(f"[FAILED] {name}: cannot import: {type(exc).__name__}: {exc}", flush=True)
            continue
        est, prio, new = _meta(name, mod)
        rows.append((prio, name, mod, float(est.get(mode, 600)), new))
    rows.sort(key=lambda r: -r[0])
    return [(n, m, e, new) for _, n, m, e, new in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_validation.run_all",
                                description=(__doc__ or "").split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tiny", action="store_true", help="small CPU runs (CI)")
    g.add_argument("--cpu", action="store_true", help="CPU runs, minutes each (default)")
    g.add_argument("--full", action="store_true", help="full runs on one GPU")
    p.add_argument("--device", default=None,
                   help="torch device (default: cuda for --full, else cpu)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the whole run; experiments whose declared estimate "
                        "does not fit in what is left are skipped")
    p.add_argument("--only", nargs="*", default=None, help="run only these experiments")
    args = p.parse_args(argv)
    mode = "tiny" if args.tiny else "full" if args.full else "cpu"
    device = args.device or ("cuda" if mode == "full" else "cpu")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("run_all: error: CUDA is not available"
                  + (" (--full needs a GPU; pass --device cpu to run it on the CPU)"
                     if mode == "full" else ""), file=sys.stderr)
            return 2
    if args.budget is not None and not args.budget > 0:
        print(f"run_all: error: --budget must be > 0, got {args.budget}", file=sys.stderr)
        return 2
    names = list(EXPERIMENTS)
    if args.only:
        bad = [n for n in args.only if n not in EXPERIMENTS]
        if bad:
            print(f"run_all: error: unknown experiment(s) {', '.join(bad)}; known: "
                  f"{', '.join(EXPERIMENTS)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in args.only]
    t_start = time.perf_counter()
    failed, skipped = [], []
    for name, mod, est, new in plan(names, mode, args.budget):
        left = None if args.budget is None else args.budget - (time.perf_counter() - t_start)
        if left is not None and est > left:
            print(f"[skipped] {name}: estimated {est:.0f} s in {mode} mode > {max(left, 0):.0f} s "
                  "left of the budget", flush=True)
            skipped.append(name)
            continue
        t0 = time.perf_counter()
        rc = mod.main(_argv(new, mode, device))
        print(f"[{'ok' if rc == 0 else 'FAILED'}] {name} ({time.perf_counter() - t0:.1f}s, "
              f"estimated {est:.0f}s)", flush=True)
        if rc != 0:
            failed.append(name)
    print(f"run_all: {mode} on {device}: {len(names) - len(failed) - len(skipped)} ran, "
          f"{len(failed)} failed, {len(skipped)} skipped "
          f"({time.perf_counter() - t_start:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
