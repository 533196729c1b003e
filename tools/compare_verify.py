"""Compare two ``theorykit verify --json`` files claim by claim: a refactor must keep every
verdict, every mutant's verdict and (to a relative 1e-9) every number.

    python tools/compare_verify.py results/verify_record.json results/scratch/after.json
    python tools/compare_verify.py A.json B.json --claims yan2024.   # only ids with this prefix

Exits 0 when they agree, 1 with one line per difference otherwise. Timings and provenance
are not compared.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

IGNORED = {"elapsed_s", "provenance"}


def _diff(a: Any, b: Any, path: str, out: list[str], rtol: float) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in IGNORED:
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'B' if k not in a else 'A'}")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out, rtol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{path}[{i}]", out, rtol)
    elif (isinstance(a, float) and isinstance(b, float | int)) or (
            isinstance(b, float) and isinstance(a, int)):
        if math.isnan(a) and math.isnan(b):
            return
        if not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300):
            out.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{path}: {str(a)[:120]!r} != {str(b)[:120]!r}")


def compare(a: dict, b: dict, prefix: str = "", rtol: float = 1e-9) -> list[str]:
    """Return the differences between verify outputs ``a`` and ``b`` (empty when equal)."""
    va = {v["claim_id"]: v for v in a["verdicts"] if v["claim_id"].startswith(prefix)}
    vb = {v["claim_id"]: v for v in b["verdicts"] if v["claim_id"].startswith(prefix)}
    out: list[str] = []
    for cid in sorted(set(va) | set(vb)):
        if cid not in va or cid not in vb:
            out.append(f"{cid}: only in {'B' if cid not in va else 'A'}")
            continue
        _diff(va[cid], vb[cid], cid, out, rtol)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--claims", default="", help="compare only claim ids with this prefix")
    p.add_argument("--rtol", type=float, default=1e-9)
    args = p.parse_args(argv)
    with open(args.a) as fa, open(args.b) as fb:
        a, b = json.load(fa), json.load(fb)
    diffs = compare(a, b, args.claims, args.rtol)
    n = len({v["claim_id"] for v in b["verdicts"] if v["claim_id"].startswith(args.claims)})
    for line in diffs:
        print(line)
    print(f"{n} claims compared: {'identical' if not diffs else f'{len(diffs)} differences'}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
