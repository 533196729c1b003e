"""Codec throughput of the compressor catalog against two references measured in the same
run: a plain tensor copy (``x.clone()``: the memory-bandwidth limit) and ``torch.topk`` alone
(on a precomputed ``|x|``, for the sparsifiers).

For each ``d`` (10^6 and 10^7 float32; ``--quick``: 10^5) and each catalog codec, the time of
``decode(encode(x, g))`` is the median of ``--repeats`` runs after ``--warmup`` runs; the
throughput is input bytes (4 d) per second. Targets (issue 2):

* sign-type codecs (sign, scaled_sign, terngrad) and the quantizers: throughput at least
  0.25x that of the copy;
* top-k: encode + decode time at most 2x that of ``torch.topk`` alone.

Usage::

    python benchmarks/compressors.py            # d = 1e6, 1e7
    python benchmarks/compressors.py --quick    # d = 1e5 (CI smoke)
    python benchmarks/compressors.py --json out.json --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from theorykit.compressors.registry import catalog

SIGN = ("sign", "scaled_sign", "terngrad")
QUANTIZERS = ("qsgd", "natural_dithering", "natural", "truncated_uniform",
              "truncated_nonuniform", "unbiased_rounding", "nearest_rounding")
SPARSIFIERS = ("topk", "randk", "randk_unscaled", "bernoulli", "biased_bernoulli",
               "topk_qsgd", "topk_natural_dithering")
COPY_TARGET = 0.25
TOPK_TARGET = 2.0
KEEP = 0.01  # fraction kept by the sparsifiers


def params_for(name: str, d: int) -> dict[str, Any]:
    """Benchmark parameters: sparsifiers keep 1% of the coordinates, quantizers use 4-bit
    codes where they have a level count."""
    k = max(1, int(KEEP * d))
    table: dict[str, dict[str, Any]] = {
        "topk": {"k": k}, "randk": {"k": k}, "randk_unscaled": {"k": k},
        "bernoulli": {"p": KEEP}, "biased_bernoulli": {"p": KEEP},
        "qsgd": {"s": 15}, "natural_dithering": {"s": 8},
        "truncated_uniform": {"tau": 2.0, "s": 15},
        "truncated_nonuniform": {"tau": 2.0, "levels": ",".join(
            f"{2.0 * (2 * i / 15 - 1) * abs(2 * i / 15 - 1):.6f}" for i in range(16))},
        "topk_qsgd": {"k": k, "s": 15}, "topk_natural_dithering": {"k": k, "s": 8},
    }
    return table.get(name, {})


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], Any], device: torch.device, repeats: int,
                warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def group_of(name: str) -> str:
    if name in SIGN:
        return "sign"
    if name in QUANTIZERS:
        return "quantizer"
    if name in SPARSIFIERS:
        return "sparsifier"
    return "other"


def run(dims: list[int], device: str, repeats: int, warmup: int, only: list[str] | None,
        seed: int = 0) -> dict[str, Any]:
    dev = torch.device(device)
    results = []
    refs = {}
    for d in dims:
        x = torch.randn(d, generator=torch.Generator().manual_seed(seed)).to(dev)
        xa = x.abs()
        k = max(1, int(KEEP * d))
        t_copy = median_time(lambda x=x: x.clone(), dev, repeats, warmup)
        t_topk = median_time(lambda xa=xa, k=k: torch.topk(xa, k, sorted=False), dev, repeats,
                             warmup)
        gbs_copy = 4 * d / t_copy / 1e9
        refs[d] = {"copy_ms": 1e3 * t_copy, "copy_GBps": gbs_copy, "topk_ms": 1e3 * t_topk,
                   "topk_k": k}
        print(f"\nd = {d:.0e}: copy {1e3 * t_copy:.3f} ms ({gbs_copy:.2f} GB/s), "
              f"torch.topk(k={k}) {1e3 * t_topk:.3f} ms", flush=True)
        print(f"{'codec':<24}{'group':<11}{'ms':>10}{'GB/s':>9}{'bits/elt':>9}"
              f"{'x copy':>8}{'x topk':>8}  target")
        for name, cls in catalog().items():
            if only and name not in only:
                continue
            try:
                spec = cls(**params_for(name, d))
                g = torch.Generator(device=dev).manual_seed(seed)
                nbits = spec.encode(x, g).nbits

                def codec(spec=spec, g=g, x=x):
                    return spec.decode(spec.encode(x, g))

                t = median_time(codec, dev, repeats, warmup)
            except Exception as exc:  # report, keep benchmarking the rest
                print(f"{name:<24}error: {type(exc).__name__}: {exc}")
                results.append({"codec": name, "d": d, "error": f"{type(exc).__name__}: "
                                f"{exc}"})
                continue
            grp = group_of(name)
            vs_copy = t_copy / t
            vs_topk = t / t_topk
            target, met = "", None
            if grp in ("sign", "quantizer"):
                target, met = f">= {COPY_TARGET}x copy", vs_copy >= COPY_TARGET
            elif name == "topk":
                target, met = f"<= {TOPK_TARGET}x torch.topk", vs_topk <= TOPK_TARGET
            row = {"codec": name, "group": grp, "d": d, "params": params_for(name, d),
                   "ms": 1e3 * t, "GBps": 4 * d / t / 1e9, "bits_per_element": nbits / d,
                   "ratio_vs_copy": vs_copy, "time_ratio_vs_topk": vs_topk,
                   "target": target, "met": met}
            results.append(row)
            flag = "" if met is None else ("MET" if met else "MISSED")
            print(f"{name:<24}{grp:<11}{1e3 * t:>10.3f}{row['GBps']:>9.3f}"
                  f"{row['bits_per_element']:>9.3f}{vs_copy:>8.3f}"
                  f"{vs_topk if grp == 'sparsifier' else float('nan'):>8.2f}  "
                  f"{target} {flag}", flush=True)
    summary = [r for r in results if r.get("met") is not None]
    return {
        "device": device if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "repeats": repeats, "warmup": warmup, "keep_fraction": KEEP,
        "references": {str(k): v for k, v in refs.items()},
        "results": results,
        "targets_met": sum(bool(r["met"]) for r in summary),
        "targets_total": len(summary),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="d = 1e5 only (CI smoke test)")
    p.add_argument("--dims", type=float, nargs="+", help="dimensions (default 1e6 1e7)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=None, help="timed runs (median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's default)")
    p.add_argument("--only", nargs="+", help="codec names")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = p.parse_args(argv)
    dims = [int(v) for v in (args.dims or ([1e5] if args.quick else [1e6, 1e7]))]
    repeats = args.repeats or (3 if args.quick else 5)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = run(dims, args.device, repeats, args.warmup, args.only)
    print(f"\ntargets met: {out['targets_met']}/{out['targets_total']} "
          f"(device {out['device']}, {out['threads']} threads, load {out['loadavg']})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
