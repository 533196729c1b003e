"""Time of the symbolic side: SDE derivations and quantizer optima, against their targets.

Issue 3 asks that deriving the DCSGD or DSignSGD SDE of a catalog compressor takes under
2 s; issue 6 that the symbolic optimum of truncated quantization for a catalog density takes
under 1 s. Each case runs in a *fresh* Python process (``--cold``, the default: imports,
SymPy's own caches and theorykit's caches all start empty, the on-disk cache of
:mod:`theorykit.diskcache` switched off; the import time is excluded and printed
separately): ``cold`` is what a researcher waits for on a first-ever call. ``disk`` is the
first call of a later process, which reads the on-disk cache; ``warm`` a repeated call in
one process (in-memory cache).

The "peer" of this benchmark is the target itself: the ratio printed is time / target
(below 1 meets it).

Usage::

    python benchmarks/derive_time.py            # every unbiased catalog compressor
    python benchmarks/derive_time.py --quick    # three cases (CI smoke)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import _results  # benchmarks/_results.py: results files with provenance

DERIVE_TARGET_S = 2.0
OPTIMUM_TARGET_S = 1.0

#: (method, compressor name, compressor params, noise name, noise params, dim)
DERIVE_CASES = [
    ("dcsgd", "randk", {"k": 2}, "gaussian", {}, 3),
    ("dcsgd", "bernoulli", {"p": 0.5}, "gaussian", {}, 3),
    ("dcsgd", "qsgd", {"s": 4}, "gaussian", {}, 3),
    ("dcsgd", "natural", {}, "gaussian", {}, 3),
    ("dcsgd", "terngrad", {}, "gaussian", {}, 3),
    ("dcsgd", "unbiased_rounding", {}, "gaussian", {}, 3),
    ("dcsgd", "natural_dithering", {"s": 2}, "gaussian", {}, 3),
    ("dcsgd", "randk", {"k": 2}, "student-t", {"nu": 3}, 3),
    ("dsignsgd", None, {}, "gaussian", {}, 3),
    ("dsignsgd", None, {}, "student-t", {"nu": 3}, 3),
    ("dsgd", None, {}, "gaussian", {}, 3),
]
OPTIMUM_CASES = [
    ("laplace", {}, "nonuniform"), ("laplace", {}, "uniform"), ("gaussian", {}, "nonuniform"),
    ("student-t", {"nu": 4}, "nonuniform"), ("pareto", {"rho": 4}, "uniform"),
    ("pareto", {"rho": 4}, "nonuniform"),
]

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
kind, case = sys.argv[1], json.loads(sys.argv[2])
if kind == "derive":
    from theorykit.compressors.registry import make
    from theorykit.noise import make_noise
    from theorykit.sde import derive
    method, comp, cparams, noise, nparams, dim = case
    spec = make(comp, **cparams) if comp else None
    nz = make_noise(noise, **nparams)
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter(); derive(method, spec, nz, dim); cold = time.perf_counter() - t1
    t2 = time.perf_counter(); derive(method, spec, nz, dim); warm = time.perf_counter() - t2
else:
    from theorykit.rules.quantization import density, optimize
    name, params, scheme = case
    d = density(name, **params)
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter(); optimize(d, 7, scheme=scheme); cold = time.perf_counter() - t1
    t2 = time.perf_counter(); optimize(d, 15, scheme=scheme); warm = time.perf_counter() - t2
print(json.dumps({"import_s": t_import, "cold_s": cold, "warm_s": warm}))
"""


def _child(kind: str, case: object, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, json.dumps(case)],
                         check=True, capture_output=True, text=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run(kind: str, case: object, cache: str) -> dict[str, float]:
    """From scratch (disk cache off), then twice with a private disk cache (the first of
    those fills it; the second is what every later process sees)."""
    scratch = _child(kind, case, {"THEORYKIT_DISK_CACHE": "0"})
    _child(kind, case, {"THEORYKIT_CACHE_DIR": cache})
    disk = _child(kind, case, {"THEORYKIT_CACHE_DIR": cache})
    return {**scratch, "disk_cached_s": disk["cold_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="three cases only (CI smoke)")
    ap.add_argument("--json", help="write the rows here (default for a full run: "
                    "results/benchmarks/derive_time.json)")
    args = ap.parse_args(argv)
    derive_cases = DERIVE_CASES[:2] if args.quick else DERIVE_CASES
    opt_cases = OPTIMUM_CASES[:1] if args.quick else OPTIMUM_CASES
    rows = []
    cache = tempfile.mkdtemp(prefix="tk-bench-cache-")
    print(f"{'case':58s} {'import':>7s} {'cold':>7s} {'disk':>7s} {'warm':>8s} "
          f"{'cold/target':>11s}")
    for case in derive_cases:
        r = _run("derive", case, cache)
        method, comp, cparams, noise, nparams, dim = case
        label = f"derive {method} {comp or ''}{cparams or ''} {noise}{nparams or ''} d={dim}"
        rows.append({"case": label, "target_s": DERIVE_TARGET_S, **r})
    for case in opt_cases:
        r = _run("optimum", case, cache)
        name, params, scheme = case
        rows.append({"case": f"optimum {name}{params or ''} {scheme} s=7",
                     "target_s": OPTIMUM_TARGET_S, **r})
    for r in rows:
        print(f"{r['case']:58s} {r['import_s']:6.2f}s {r['cold_s']:6.2f}s "
              f"{r['disk_cached_s']:6.2f}s {r['warm_s']:7.4f}s "
              f"{r['cold_s'] / r['target_s']:10.2f}x")
    for col, what in (("cold_s", "from scratch"), ("disk_cached_s", "with the disk cache")):
        worst = max(r[col] / r["target_s"] for r in rows)
        print(f"worst time/target {what}: {worst:.2f} "
              f"({'meets' if worst <= 1 else 'MISSES'} the targets)")
    return _results.finish("derive_time", {"rows": rows}, args.json, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
