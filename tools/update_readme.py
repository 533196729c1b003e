"""Regenerate the README's measured figures from the committed result files.

The README never carries a typed-in timing, ratio or count: each such figure sits between
``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->`` and is rendered here
from a file written, with provenance, by the program that measured it:

* ``benchmarks`` from ``results/benchmarks/*.json`` (the benchmark scripts),
* ``verify`` from ``results/verify_record.json`` (``theorykit verify --mutants --json
  results/verify_record.json``; ``make verify`` writes the working copy
  ``results/verify.json``, which is not committed),
* ``flake`` from ``results/flake_rates.json`` (``theorykit verify --seeds 20 --json ...``),
* ``ci`` from ``results/ci_run.json`` (``.ci/run`` writes ``results/scratch/ci_run.json``;
  a run worth recording is copied here).

``python tools/update_readme.py`` rewrites the blocks; ``--check`` exits 1 when the README
differs from what the files say (a test runs it, so the README cannot drift).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "results"


def _load(rel: str) -> dict[str, Any] | None:
    p = RESULTS / rel
    return json.loads(p.read_text()) if p.exists() else None


def _when(prov: dict[str, Any]) -> str:
    date = str(prov.get("date", "?"))[:10]
    return f"{date}, {prov.get('cores', '?')} cores, load {_load_txt(prov)}"


def _load_txt(prov: dict[str, Any]) -> str:
    la = prov.get("loadavg")
    return f"{la[0]:.1f}" if la else "?"


def _range(vals: list[float], fmt: str = ".2f") -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    lo, hi = min(vals), max(vals)
    return f"{lo:{fmt}}x" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}x"


def _ratios_row(name: str, what: str, peers: str, cols: list[tuple[str, str, str]]
                ) -> str | None:
    """The README row of benchmark ``name`` whose rows carry ratio columns ``cols`` (column,
    label, format) and a dimension ``d``; ``None`` while its results file does not exist."""
    b = _load(f"benchmarks/{name}.json")
    if not b:
        return None
    dims = sorted({r["d"] for r in b["rows"]})
    cells = ", ".join(f"{_range([r[col] for r in b['rows']], fmt)} {label}"
                      for col, label, fmt in cols)
    return f"| `{name}.py` | {what}, d = {dims} | {peers} | {cells} | {_when(b['provenance'])} |"


def block_benchmarks() -> str:
    rows = ["| script | measures | peer | measured ratios | run (date, cores, load) |",
            "| --- | --- | --- | --- | --- |"]
    c = _load("benchmarks/compressors.json")
    if c:
        res = [r for r in c["results"] if "error" not in r]
        parts = []
        for d in sorted({r["d"] for r in res}):
            at = [r for r in res if r["d"] == d]
            signq = [r["ratio_vs_copy"] for r in at if r["group"] in ("sign", "quantizer")]
            topk = [r["time_ratio_vs_topk"] for r in at if r["codec"] == "topk"]
            met = sum(bool(r["met"]) for r in at if r["met"] is not None)
            tot = sum(r["met"] is not None for r in at)
            parts.append(f"d = {d:.0e}: sign/quantizers {_range(signq)} copy throughput"
                         + (f", top-k time {_range(topk)} `torch.topk`" if topk else "")
                         + f" (targets met {met}/{tot})")
        rows.append("| `compressors.py` | encode+decode throughput | `x.clone()`; `torch.topk` | "
                    + "; ".join(parts) + f" | {_when(c['provenance'])} |")
    rows += filter(None, [
        _ratios_row("sde_solver", "paths x steps per second", "hand-written Euler–Maruyama; "
                    "torchsde", [("ratio_theorykit_vs_hand", "the hand loop (target 0.8x)", ".2f"),
                                 ("ratio_theorykit_vs_torchsde", "torchsde", ".1f")]),
        _ratios_row("simulate", "replica-steps per second of the discrete driver (DSGD, DCSGD)",
                    "the same method as a hand-written loop",
                    [("ratio_theorykit_vs_hand", "the hand loop", ".2f")])])
    t = _load("benchmarks/derive_time.json")
    if t:
        der = [r for r in t["rows"] if r["case"].startswith("derive")]
        opt = [r for r in t["rows"] if r["case"].startswith("optimum")]

        def span(rs: list[dict], col: str) -> str:
            v = [r[col] for r in rs]
            return f"{min(v):.2f}–{max(v):.2f} s" if v else "–"
        tgt = {r["case"].split()[0]: r["target_s"] for r in t["rows"]}
        rows.append(f"| `derive_time.py` | first-call time of SDE derivations and quantizer "
                    f"optima | the targets ({tgt.get('derive', '?')} s, "
                    f"{tgt.get('optimum', '?')} s) | derivations {span(der, 'cold_s')}; optima "
                    f"{span(opt, 'cold_s')} from scratch, {span(opt, 'disk_cached_s')} with the "
                    f"disk cache | {_when(t['provenance'])} |")
    h = _load("benchmarks/ddp_hook.json")
    if h:
        cells = [f"{r['variant'].removeprefix('tk_')} {r['ratio_vs_allreduce']:.2f}x"
                 + (f" (compression {r['compression']:.0f}x)" if r.get("compression") else "")
                 for r in h["rows"] if r["variant"] not in ("local", "allreduce")]
        rows.append(f"| `ddp_hook.py` | DDP step time with the theorykit hook, {h['world_size']} "
                    f"{h['backend']} ranks, d = {h['d']:,} | DDP's all-reduce; PyTorch's fp16 "
                    f"hook | step time / all-reduce step: {'; '.join(cells)} | "
                    f"{_when(h['provenance'])} |")
    if len(rows) == 2:
        return "*No benchmark results committed yet: run the scripts in `benchmarks/`.*"
    return "\n".join(rows)


def block_verify(v: dict[str, Any]) -> str:
    vs = v["verdicts"]
    counts = {s: sum(x["status"] == s for x in vs) for s in
              ("holds", "contradicted", "inconclusive", "error")}
    muts = [m for x in vs for m in (x.get("mutants") or [])]
    killed = sum(m["status"] == "killed" for m in muts)
    secs = sum(x.get("elapsed_s") or 0 for x in vs)
    date = min((str(x["provenance"].get("date", "")) for x in vs), default="")[:10]
    against = {a: sum(x["status"] == "contradicted" and x.get("against") == a for x in vs)
               for a in ("source", "derived")}
    text = (f"The committed record ({v['mode']} mode, seed {v['seed']}, "
            f"{date}): **{len(vs)} claims** — " + ", ".join(f"{k} {n}" for k, n in
                                                           counts.items()))
    if counts["contradicted"]:
        text += (f" (of the contradictions, {against['source']} contradict a source's "
                 f"statement and {against['derived']} theorykit's own derived hypothesis)")
    if muts:
        text += f"; **mutants killed {killed}/{len(muts)}**"
    return text + f"; claim time {secs:.0f} s in all."


def block_ci(c: dict[str, Any]) -> str:
    steps = ", ".join(f"{s['name']} {s['seconds']} s" for s in c["steps"])
    return (f"Measured by `.ci/run` in a clean clone on {c.get('date', '?')[:10]} "
            f"({c.get('cores', '?')} cores, commit {c.get('commit', '?')}): "
            f"{c['total_seconds']} s in all — {steps}.")


def block_flake(f: dict[str, Any]) -> str:
    rows = f["rows"]
    findings = [r for r in rows if r["verdict"] == "finding"]
    rest = [r for r in rows if r["verdict"] != "finding"]
    runs = sum(r["runs"] for r in rest)
    contra = sum(r["contradicted"] for r in rest)
    flagged = [r["claim_id"] for r in rows if r["verdict"] in ("flaky", "errors")]
    level = rows[0]["level"] if rows else 0.0
    return (f"The committed `results/flake_rates.json` ({len(f['seeds'])} seeds, "
            f"{f['seeds'][0]}–{f['seeds'][-1]}, {f['mode']} mode, "
            f"{str(f['provenance']['date'])[:10]}): {len(rows)} claims; "
            f"{len(findings)} contradicted at every seed (findings: "
            f"{', '.join('`' + r['claim_id'] + '`' for r in findings) or 'none'}); among the "
            f"others, {contra} contradictions in {runs} runs ({contra / max(runs, 1):.2%}, "
            f"declared level {level:.2%} per check); flagged as flaky: "
            f"{', '.join(flagged) or 'none'}.")


def from_file(rel: str, missing: str, block: Callable[[dict[str, Any]], str]
              ) -> Callable[[], str]:
    """A block rendered from ``results/REL``, or the ``missing`` line while it does not exist."""
    def render() -> str:
        data = _load(rel)
        return block(data) if data else missing
    return render


BLOCKS: dict[str, Callable[[], str]] = {
    "benchmarks": block_benchmarks,
    "verify": from_file("verify_record.json",
                        "*No `results/verify_record.json` committed yet: run `theorykit verify "
                        "--mutants --json results/verify_record.json`.*", block_verify),
    "ci": from_file("ci_run.json", "*No CI timing committed yet (`.ci/run` writes "
                    "`results/scratch/ci_run.json`).*", block_ci),
    "flake": from_file("flake_rates.json", "*No contradiction-rate table committed yet: run "
                       "`theorykit verify --seeds 20 --json results/flake_rates.json`.*",
                       block_flake)}


def render(text: str) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in BLOCKS:
            raise SystemExit(f"README: unknown generated block {name!r}")
        return f"<!-- BEGIN generated:{name} -->\n{BLOCKS[name]()}\n<!-- END generated:{name} -->"
    return re.sub(r"<!-- BEGIN generated:(\w+) -->.*?<!-- END generated:\1 -->", sub, text,
                  flags=re.S)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = ap.parse_args(argv)
    old = README.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md is stale: run `python tools/update_readme.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
