"""``theorykit compressors`` (the catalog) and ``theorykit compressor NAME`` (one compressor:
constants as formulas and numbers; ``--verify`` runs the Monte Carlo certifier).

``NAME`` is a catalog name or ``module.path:Object`` for a user-defined
:class:`~theorykit.compressors.base.CompressorSpec` subclass; the current directory is put
on ``sys.path`` for the import, so ``theorykit compressor examples.my_compressor:MyCompressor``
works from the repository root. Parameters are given as ``-p KEY=VALUE`` (``-p d=...``
sets the dimension). ``--verify`` certifies at ``d`` (default :data:`VERIFY_DEFAULT_D` = 64
when no ``-p d=`` is given) and exits with status 1 if any claimed constant is
contradicted.
"""

from __future__ import annotations

import argparse
from typing import Any

import sympy as sp

from theorykit.cli.common import (
    add_params_option,
    param_json,
    param_text,
    parse_params,
    print_json,
)
from theorykit.errors import InputError
from theorykit.limits import MAX_SAMPLES, check_count, check_memory

VERIFY_DEFAULT_D = 64
"""Dimension used by ``--verify`` when no ``-p d=VALUE`` is given."""
DEFAULT_SAMPLES = 2000
DEFAULT_SEED = 20251
_COLORS = {"holds": "green", "contradicted": "red", "inconclusive": "yellow"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compressors", help="list the compressor catalog with class constants")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.set_defaults(func=run_catalog)

    q = sub.add_parser(
        "compressor",
        help="one compressor: constants as formulas and numbers; --verify certifies them",
        description="Show a compressor's class constants (formulas and numbers at the given "
        "parameters). NAME is a catalog name or module.path:Object. --verify runs the Monte "
        f"Carlo certifier (d defaults to {VERIFY_DEFAULT_D}) and exits 1 if any claimed "
        "constant is contradicted.")
    q.add_argument("name", metavar="NAME", help="catalog name or module.path:Object")
    add_params_option(q)
    q.add_argument("--verify", action="store_true",
                   help="certify every claimed constant by Monte Carlo")
    q.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help=f"draws per input for --verify (default {DEFAULT_SAMPLES})")
    q.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed for --verify (default {DEFAULT_SEED})")
    q.add_argument("--device", default="cpu", help="torch device for --verify")
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.set_defaults(func=run_one)


# --------------------------------------------------------------------------- helpers
def resolve_spec_class(name: str):
    """A spec class by catalog name or ``module.path:Object`` (cwd importable)."""
    from theorykit.compressors.registry import resolve

    return resolve(name)


def build_spec(name: str, items: list[str]):
    """Parse ``-p`` items and instantiate the compressor, requiring every parameter without
    a default (``d`` optional)."""
    cls = resolve_spec_class(name)
    values = parse_params(items)
    d = values.pop("d", None)
    missing = [p.name for p in cls.params if p.required and p.name not in values]
    if missing:
        hint = " ".join(f"-p {m}=VALUE" for m in missing)
        raise InputError(f"{cls.name}: missing parameter(s) {missing} (give {hint})")
    return cls(**values, d=d)


def _number(expr: Any, subs: dict) -> float | None:
    e = sp.sympify(expr).subs(subs)
    if e.free_symbols:
        return None
    try:
        return float(sp.N(e))
    except (TypeError, ValueError):
        return None


def constants_table(spec, d: int | None) -> list[dict[str, Any]]:
    """Rows (class, constant, formula, value at the parameters and d) of a spec."""
    subs = spec.substitutions(d)
    rows = []
    numeric = {c.name: c for c in spec.numeric_classes(d)} if d is not None else {}
    for c in spec.classes():
        consts = c.constants()
        if not consts:
            rows.append({"class": c.name, "constant": "-", "formula": c.pretty(),
                         "value": None})
        for k, v in consts.items():
            val = _number(v, subs)
            if val is None and c.name in numeric:
                val = _number(numeric[c.name].constants().get(k), {})
            rows.append({"class": c.name, "constant": k, "formula": sp.sstr(v), "value": val})
    # memberships valid only at these numbers (conditional derivations of derived specs)
    shown = {c.name for c in spec.classes()}
    for name, c in numeric.items():
        if name not in shown:
            for k, v in c.constants().items():
                rows.append({"class": name, "constant": k, "formula": "(conditional)",
                             "value": _number(v, {})})
    return rows


def _fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def _symbolic_face(spec) -> tuple[list[str], list[dict[str, Any]], str]:
    """Classes (text and JSON) and the bit formula of a spec without parameter values; a
    face that needs values (e.g. a bit count computed from a level grid) says so."""
    try:
        classes = [c.pretty() for c in spec.classes()]
        cls_json = [{"class": c.name,
                     "constants": {k: sp.sstr(v) for k, v in c.constants().items()}}
                    for c in spec.classes()]
    except Exception as exc:  # listing must not fail on one entry
        classes, cls_json = [f"(needs parameter values: {type(exc).__name__})"], []
    if not classes:
        classes = ["none claimed"]
    try:
        bits = sp.sstr(spec.bits())
    except Exception as exc:  # e.g. bits computed from validated values
        bits = f"(needs parameter values: {type(exc).__name__})"
    return classes, cls_json, bits


# --------------------------------------------------------------------------- commands
def run_catalog(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from theorykit.compressors.algebra import symbolic_spec
    from theorykit.compressors.registry import catalog

    entries = []
    for name, cls in catalog().items():
        spec = None
        try:
            spec = symbolic_spec(cls)
        except InputError as exc:
            err = str(exc)
        classes, cls_json, bits = _symbolic_face(spec) if spec is not None else (
            [f"({err})"], [], "-")
        entries.append({"name": name, "title": cls.title, "reference": cls.reference,
                        "randomized": cls.randomized,
                        "parameters": [param_json(p) for p in cls.params],
                        "classes": cls_json, "classes_text": classes, "bits": bits})
    if args.json:
        print_json({"compressors": entries})
        return 0
    table = Table(title=f"theorykit compressor catalog ({len(entries)} compressors)",
                  show_lines=True)
    for col in ("name", "parameters", "classes (constants)", "bits per vector"):
        table.add_column(col, overflow="fold")
    for e in entries:
        params = "\n".join(param_text(p) for p in catalog()[e["name"]].params) or "-"
        table.add_row(e["name"], params, "\n".join(e["classes_text"]), e["bits"])
    Console().print(table)
    return 0


def run_one(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from theorykit.compressors.certify import certify

    if args.samples < 2:
        raise InputError(f"--samples must be >= 2, got {args.samples}")
    check_count("--samples", args.samples, MAX_SAMPLES)
    spec = build_spec(args.name, args.param)
    d = spec.d
    if args.verify and d is None:
        d = VERIFY_DEFAULT_D
        try:
            spec.check_dim(d)
        except InputError as exc:
            raise InputError(f"{exc} (--verify uses d={VERIFY_DEFAULT_D} by default; "
                             "give -p d=VALUE)") from None
    rows = constants_table(spec, d)
    bits_num = spec.numeric_bits(d) if d is not None else None
    report = None
    if args.verify:
        # one batch of `samples` draws of a d-vector, float64, with ~4 temporaries
        check_memory(f"--verify with {args.samples} samples at d={d}", 4 * 8 * args.samples * d)
        report = certify(spec, d=d, n_samples=args.samples, seed=args.seed,
                         device=args.device)

    if args.json:
        out: dict[str, Any] = {"compressor": spec.describe(), "d": d, "constants": rows,
                               "bits": sp.sstr(spec.bits()), "numeric_bits": bits_num}
        if report is not None:
            out["verification"] = report.to_json(rows=False)
        print_json(out)
        return 1 if report is not None and report.contradicted else 0

    console = Console()
    vals = ", ".join(f"{k}={v}" for k, v in spec.values.items())
    head = f"{spec.name}" + (f" ({vals})" if vals else "") + (f", d={d}" if d else "")
    console.print(f"[bold]{head}[/bold] — {spec.title}")
    if spec.reference:
        console.print(f"[dim]{spec.reference}[/dim]")
    table = Table(title="class constants")
    for col in ("class", "constant", "formula", "value"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["class"], r["constant"], r["formula"],
                      _fmt(r["value"]) if r["value"] is not None else "(needs d)"
                      if r["constant"] != "-" else "-")
    console.print(table)
    console.print(f"bits per vector: {sp.sstr(spec.bits())}"
                  + (f" = {bits_num} at d={d}" if bits_num is not None else ""))
    if report is None:
        return 0
    if not report.constants:
        console.print(f"{spec.name} claims no class constants: nothing to certify "
                      "(verdict: inconclusive)")
        return 0
    vt = Table(title=f"Monte Carlo certification (d={d}, n={report.n_samples} per input, "
               f"{len(report.inputs)} inputs, seed {report.seed})")
    for col in ("constant", "claimed", "verdict", "worst input", "implied ± SE", "tightness",
                "n"):
        vt.add_column(col, overflow="fold")
    for c in report.constants:
        if c.constant == "unbiased":
            claimed = "E C(x) = x"
            est = ("-" if c.estimate is None else
                   f"bias {c.estimate:.3g} ± {c.se or 0:.2g}")
        else:
            claimed = c.formula if c.claimed is None else f"{c.formula} = {_fmt(c.claimed)}"
            est = "-" if c.estimate is None else f"{c.estimate:.4g} ± {c.se or 0:.2g}"
        color = _COLORS.get(c.status, "white")
        vt.add_row(c.key, claimed, f"[{color}]{c.status}[/]", c.worst_input or "-", est,
                   _fmt(c.tightness, ".3g"), str(c.n))
    console.print(vt)
    console.print(f"[dim]rule: {report.rule()}[/dim]")
    for c in report.constants:
        if c.status != "holds" and c.note:
            console.print(f"[dim]{c.key}: {c.note}[/dim]")
    st = report.status.value
    console.print(f"verdict: [{_COLORS[st]}]{st}[/] ({report.elapsed_s:.2f} s)")
    return 1 if report.contradicted else 0
