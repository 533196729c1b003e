"""``theorykit verify``: run the claim registry and print the verdict table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from theorykit.check.claim import RunContext, Status
from theorykit.check.ledger import Ledger, mutant_summary, verdict_rows
from theorykit.check.registry import all_claims, load_user_claims, select
from theorykit.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="run the registered claims and print the verdict table")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="quick versions of the quick claims (default; minutes on 2 cores)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="every claim with its full sample sizes")
    p.add_argument("--only", metavar="PATTERN", help="claim ids or tags matching a glob")
    p.add_argument("--list", action="store_true", help="list the selected claims and exit")
    p.add_argument("--json", metavar="PATH", help="write the verdicts as JSON to PATH")
    p.add_argument("--journal", metavar="PATH",
                   help="append each verdict to this JSON-lines file as it finishes")
    p.add_argument("--resume", action="store_true",
                   help="skip claims already in --journal (same mode and seed)")
    p.add_argument("--seed", type=int, default=20251, help="master seed (default 20251)")
    p.add_argument("--device", default="cpu", help="torch device for simulations")
    p.add_argument("--mutants", action="store_true",
                   help="also run each claim's mutants (wrong theories) through the same "
                        "check; exit 1 if any mutant is not killed (contradicted)")
    p.add_argument("--claims", metavar="MODULE_OR_FILE", action="append", default=[],
                   help="a claim module of your own (dotted path or .py file; repeatable): "
                        "run its claims, mutants included, instead of the built-in ones")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run N claims at a time in worker processes (default 1)")
    p.add_argument("--seeds", type=int, metavar="K",
                   help="re-run the claims under K seeds (seed, seed+1, ...) and report "
                        "each claim's measured contradiction rate against its level")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--fail-on", choices=("contradicted", "error"), default="contradicted",
                   help="exit status 1 when a claim is contradicted or errors (default), or "
                        "only when a check errors (contradicted claims are then findings)")
    p.set_defaults(func=run, mode="quick")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    if args.resume and not args.journal:
        raise InputError("--resume needs --journal PATH")
    if not 1 <= args.jobs <= 64:
        raise InputError(f"--jobs must be between 1 and 64, got {args.jobs}")
    if args.seeds is not None and not 1 <= args.seeds <= 1000:
        raise InputError(f"--seeds must be between 1 and 1000, got {args.seeds}")
    if args.claims:
        user = [c for target in args.claims for c in load_user_claims(target)]
        ids = {c.id for c in select(args.only)}
        claims = [c for c in user if c.id in ids]
    else:
        claims = select(args.only, quick_only=args.mode == "quick")
    if not claims:
        known = ", ".join(c.id for c in all_claims())
        raise InputError(f"no claim matches {args.only!r}; known: {known}")
    # A pipe or CI log gets a wide table rather than rich's 80-column fallback.
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 180)
    if args.list:
        for c in claims:
            console.print(f"{c.id}  [dim]{c.source.text()}[/dim]  {c.title}")
        return 0

    ledger = Ledger(Path(args.journal) if args.journal else None)
    by_id = {c.id: c for c in claims}
    show = not args.no_progress and sys.stderr.isatty()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=Console(stderr=True),
        disable=not show, transient=True)
    with progress:
        task = progress.add_task("verifying", total=len(claims))

        def on_start(c):
            progress.update(task, description=f"{c.id}")

        def on_done(c, v, cached):
            progress.advance(task)
            if not show:
                tag = " (resumed)" if cached else ""
                mut = f" mutants killed {mutant_summary(v)}" if v.mutants is not None else ""
                print(f"[{v.status.value:>12}] {c.id} ({v.elapsed_s or 0:.1f}s){mut}{tag}",
                      file=sys.stderr, flush=True)

        if args.seeds:
            progress.update(task, total=len(claims) * args.seeds)
            return _run_seeds(args, claims, on_start, on_done, console)
        ctx = RunContext(mode=args.mode, seed=args.seed, device=args.device)
        verdicts = ledger.run(claims, ctx, resume=args.resume, mutants=args.mutants,
                              jobs=args.jobs, user_targets=tuple(args.claims),
                              on_start=on_start, on_done=on_done)

    table = Table(title=f"theorykit verify ({args.mode}, seed {args.seed})", show_lines=False)
    widths = {"claim": 34, "source": 50, "predicted": 14, "measured": 14, "interval": 22,
              "mutants killed": 8}
    for col in ("claim", "source", "predicted", "measured", "interval", "mutants killed",
                "verdict"):
        table.add_column(col, overflow="fold", max_width=widths.get(col))
    colors = {"holds": "green", "contradicted": "red", "inconclusive": "yellow",
              "error": "magenta"}
    for v, row in zip(verdicts, verdict_rows(verdicts, by_id), strict=True):
        cells = [escape(cell) for cell in row[:-1]]
        word = row[-1]
        if v.status == Status.CONTRADICTED:
            word += " (source)" if v.against == "source" else " (derived hyp.)"
        table.add_row(*cells, f"[{colors[row[-1]]}]{word}[/]")
    console.print(table)
    counts = {s.value: sum(v.status == s for v in verdicts) for s in Status}
    console.print("  ".join(f"{k}: {n}" for k, n in counts.items()))
    weak = []
    if args.mutants:
        muts = [(v.claim_id, m) for v in verdicts for m in (v.mutants or [])]
        killed = sum(m["status"] == "killed" for _, m in muts)
        few = [v.claim_id for v in verdicts if len(v.mutants or []) < 2]
        weak = [(cid, m) for cid, m in muts if m["status"] != "killed"]
        console.print(f"mutants: {killed}/{len(muts)} killed over {len(verdicts)} claims")
        for cid, m in weak:
            console.print(f"  mutant {m['status']}: {cid} / {m['name']} ({m['description']}): "
                          f"predicted {m['predicted']}, measured {m['measured']}")
        if few:
            console.print("claims with fewer than 2 mutants: " + ", ".join(few))
            weak += [(cid, {"status": "missing"}) for cid in few]
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"mode": args.mode, "seed": args.seed,
                                   "mutants_run": bool(args.mutants),
                                   "verdicts": [v.to_json() for v in verdicts]},
                                  indent=2, default=str))
    contradicted = [v.claim_id for v in verdicts if v.status == Status.CONTRADICTED]
    if contradicted:
        console.print("contradicted (findings, with their numbers above; details in --json): "
                      + ", ".join(contradicted))
    if counts["error"] or weak:
        return 1
    return 1 if contradicted and args.fail_on == "contradicted" else 0


def _run_seeds(args: argparse.Namespace, claims, on_start, on_done, console) -> int:
    """``--seeds K``: every claim under K seeds; a table of contradiction rates."""
    from rich.table import Table

    from theorykit.check.flake import FLAG_P, flake_rows
    from theorykit.check.ledger import versions

    seeds = [args.seed + k for k in range(args.seeds)]
    statuses: dict[str, list[str]] = {c.id: [] for c in claims}
    for seed in seeds:
        ledger = Ledger(Path(args.journal) if args.journal else None)
        ctx = RunContext(mode=args.mode, seed=seed, device=args.device)
        for v in ledger.run(claims, ctx, resume=args.resume, mutants=False, jobs=args.jobs,
                            user_targets=tuple(args.claims), on_start=on_start,
                            on_done=on_done):
            statuses[v.claim_id].append(v.status.value)
    rows = flake_rows(statuses)
    table = Table(title=f"contradiction rate over {len(seeds)} seeds "
                        f"({seeds[0]}..{seeds[-1]}, {args.mode})")
    for col in ("claim", "runs", "holds", "contradicted", "inconclusive", "error", "rate",
                "level", "P(>= observed)", "verdict"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.claim_id, str(r.runs), str(r.holds), str(r.contradicted),
                      str(r.inconclusive), str(r.error), f"{r.rate:.3f}", f"{r.level:.4f}",
                      f"{r.p_value:.3g}", r.verdict)
    console.print(table)
    flaky = [r.claim_id for r in rows if r.verdict in ("flaky", "errors")]
    console.print(f"flagged (binomial tail < {FLAG_P:g} under the declared level, or "
                  f"errors): {', '.join(flaky) or 'none'}")
    if args.json:
        import datetime as _dt
        import os
        import platform

        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "mode": args.mode, "seeds": seeds, "flag_p": FLAG_P,
            "rows": [r.to_json() for r in rows],
            "provenance": {
                "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "command": "theorykit verify " + " ".join(sys.argv[2:]),
                "versions": versions(), "cores": os.cpu_count(),
                "machine": platform.processor() or platform.machine()},
        }, indent=2))
    errored = [r.claim_id for r in rows if r.verdict == "errors"]
    if args.fail_on == "error":  # flagged rates are findings, reported above
        return 1 if errored else 0
    return 1 if flaky else 0
