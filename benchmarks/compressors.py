"""Codec throughput of the compressor catalog against two references measured in the same
run: a plain tensor copy (``x.clone()``: the memory-bandwidth limit) and ``torch.topk`` alone
(on a precomputed ``|x|``, for the sparsifiers).

For each ``d`` (10^6 and 10^7 float32; ``--quick``: 10^5) and each catalog codec, the time of
``decode(encode(x, g))`` is the median of ``--repeats`` runs after ``--warmup`` runs; the
references are timed *interleaved* with each codec (one run of each per round), so a shared
machine's load affects both sides of a ratio alike. Throughput is input bytes (4 d) per
second. Targets (issue 2):

* sign-type codecs (sign, scaled_sign, terngrad) and the quantizers: throughput at least
  0.25x that of the copy;
* top-k: encode + decode time at most 2x that of ``torch.topk`` alone.

Ratios are medians of per-round ratios (a codec run and its reference run taken back to back
in the same round, in alternating order), not ratios of separate medians; the printed times
are the separate medians. ``x warm`` (diagnostic, no target) is the same ratio against a copy
into an already paged-in buffer: on a VM ``x.clone()`` of 40 MB is mostly first-touch page
faults (e.g. 15 ms against 2-5 ms warm at d = 1e7), and their cost varies over time, so a
jump of ``x copy`` without one of ``x warm`` points at the reference, not at the codec.

Usage::

    python benchmarks/compressors.py            # d = 1e6, 1e7
    python benchmarks/compressors.py --quick    # d = 1e5 (CI smoke)
    python benchmarks/compressors.py --json out.json --device cuda   # CUDA codec throughput

On CUDA every codec encodes and decodes on the GPU (input, generator and payload on the
device; times synchronised), and ``device`` records ``torch.cuda.get_device_name``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import _results  # benchmarks/_results.py: results files with provenance
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


def paired_runs(fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int,
                warmup: int) -> dict[str, list[float]]:
    """Times of several functions measured *interleaved*: one run of each per round, so that
    a reference and a codec see the same machine load; ``repeats`` rounds after ``warmup``
    rounds. The order within a round alternates (forward, then reversed), so neither side
    always runs right after the other (and inherits its cache/allocator/thread state)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = fns[name]
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def paired_times(fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int,
                 warmup: int) -> dict[str, float]:
    """Median times of :func:`paired_runs`."""
    runs = paired_runs(fns, device, repeats, warmup)
    return {k: statistics.median(v) for k, v in runs.items()}


def paired_ratio(runs: dict[str, list[float]], num: str, den: str) -> float:
    """Median over rounds of the per-round ratio ``num_i / den_i``.

    A ratio of two separate medians can pair a codec time from one load phase of a shared
    machine with a reference time from another (the two medians may come from different
    rounds), which made ratios jump by up to ~8x between codecs of equal cost; the
    per-round ratio compares two runs taken back to back under the same load."""
    return statistics.median(a / b for a, b in zip(runs[num], runs[den], strict=True))


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

        def copy(x=x):
            return x.clone()

        warm_buf = torch.empty_like(x)

        def warm_copy(x=x, out=warm_buf):
            # diagnostic only: a copy into memory already paged in (no first-touch faults)
            return out.copy_(x)

        def topk(xa=xa, k=k):
            return torch.topk(xa, k, sorted=False)

        ref = paired_times({"copy": copy, "topk": topk}, dev, repeats, warmup)
        refs[d] = {"copy_ms": 1e3 * ref["copy"], "copy_GBps": 4 * d / ref["copy"] / 1e9,
                   "topk_ms": 1e3 * ref["topk"], "topk_k": k}
        print(f"\nd = {d:.0e}: copy {1e3 * ref['copy']:.3f} ms "
              f"({refs[d]['copy_GBps']:.2f} GB/s), torch.topk(k={k}) "
              f"{1e3 * ref['topk']:.3f} ms (references re-measured interleaved with each codec)",
              flush=True)
        print(f"{'codec':<24}{'group':<11}{'ms':>10}{'GB/s':>9}{'bits/elt':>9}"
              f"{'x copy':>8}{'x warm':>8}{'x topk':>8}  target")
        for name, cls in catalog().items():
            if only and name not in only:
                continue
            grp = group_of(name)
            try:
                spec = cls(**params_for(name, d))
                g = torch.Generator(device=dev).manual_seed(seed)
                nbits = spec.encode(x, g).nbits

                def codec(spec=spec, g=g, x=x):
                    return spec.decode(spec.encode(x, g))

                fns = {"codec": codec, "copy": copy, "warm_copy": warm_copy}
                if grp == "sparsifier":
                    fns["topk"] = topk
                runs = paired_runs(fns, dev, repeats, warmup)
                t = {k: statistics.median(v) for k, v in runs.items()}
            except Exception as exc:  # report, keep benchmarking the rest
                print(f"{name:<24}error: {type(exc).__name__}: {exc}")
                results.append({"codec": name, "d": d, "error": f"{type(exc).__name__}: "
                                f"{exc}"})
                continue
            vs_copy = paired_ratio(runs, "copy", "codec")
            vs_topk = paired_ratio(runs, "codec", "topk") if "topk" in t else None
            vs_warm = paired_ratio(runs, "warm_copy", "codec")
            target, met = "", None
            if grp in ("sign", "quantizer"):
                target, met = f">= {COPY_TARGET}x copy", vs_copy >= COPY_TARGET
            elif name == "topk":
                target, met = f"<= {TOPK_TARGET}x torch.topk", vs_topk <= TOPK_TARGET
            row = {"codec": name, "group": grp, "d": d, "params": params_for(name, d),
                   "ms": 1e3 * t["codec"], "GBps": 4 * d / t["codec"] / 1e9,
                   "bits_per_element": nbits / d, "copy_ms": 1e3 * t["copy"],
                   "topk_ms": None if "topk" not in t else 1e3 * t["topk"],
                   "ratio_vs_copy": vs_copy, "time_ratio_vs_topk": vs_topk,
                   "warm_copy_ms": 1e3 * t["warm_copy"], "ratio_vs_warm_copy": vs_warm,
                   "target": target, "met": met}
            results.append(row)
            flag = "" if met is None else ("MET" if met else "MISSED")
            print(f"{name:<24}{grp:<11}{1e3 * t['codec']:>10.3f}{row['GBps']:>9.3f}"
                  f"{row['bits_per_element']:>9.3f}{vs_copy:>8.3f}{vs_warm:>8.3f}"
                  f"{vs_topk if vs_topk is not None else float('nan'):>8.2f}  "
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
    p.add_argument("--json", metavar="PATH", help="write the results as JSON here (default "
                   "for a full run: results/benchmarks/compressors.json)")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"compressors: error: --device {args.device} but CUDA is not available "
              "(run on a GPU machine, or --device cpu)", file=sys.stderr)
        return 2
    dims = [int(v) for v in (args.dims or ([1e5] if args.quick else [1e6, 1e7]))]
    repeats = args.repeats or (3 if args.quick else 5)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = run(dims, args.device, repeats, args.warmup, args.only)
    print(f"\ntargets met: {out['targets_met']}/{out['targets_total']} "
          f"(device {out['device']}, {out['threads']} threads, load {out['loadavg']})")
    return _results.finish("compressors", out, args.json, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
