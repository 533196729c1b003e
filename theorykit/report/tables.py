"""Tables generated from theorykit objects: the Table type and the verdict tables.

A :class:`Table` holds Markdown cells (math as ``$...$``). It displays as Markdown in
Jupyter and in the book (``_repr_markdown_``), prints as plain text and converts to a
``rich`` table for the CLI. Nothing in a table is typed by hand: the catalog table is
rendered from :func:`theorykit.compressors.catalog` (symbolic face of every spec) and the
verdict table from :class:`~theorykit.check.claim.Verdict` objects.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from theorykit.check.claim import PROVENANCE_TEXT, Claim, RunContext, Status, Verdict
from theorykit.check.ledger import mutant_summary
from theorykit.errors import InputError

STATUS_MARK: dict[str, str] = {
    "holds": "✅ holds",
    "contradicted": "❌ contradicted",
    "inconclusive": "❔ inconclusive",
    "error": "⚠️ error",
}
"""How a verdict status is shown in a Markdown table."""

VERDICT_COLUMNS: tuple[str, ...] = (
    "claim", "source (provenance)", "predicted", "measured", "interval", "tolerance", "n",
    "seed", "mutants killed", "verdict",
)

MUTANT_COLUMNS: tuple[str, ...] = (
    "claim", "mutant", "wrong theory", "predicted", "measured", "status",
)
MUTANT_MARK: dict[str, str] = {
    "killed": "✅ killed",
    "survived": "❌ survived",
    "inconclusive": "❔ inconclusive",
    "error": "⚠️ error",
}


# ----------------------------------------------------------------------------- Table
@dataclass
class Table:
    """A table of Markdown cells. ``str(table)`` is plain text; in Jupyter/the book it
    renders as a Markdown table (math in ``$...$`` is typeset)."""

    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for r in self.rows:
            if len(r) != len(self.headers):
                raise ValueError(f"row has {len(r)} cells, table has {len(self.headers)} columns")

    def to_markdown(self) -> str:
        """GitHub/MyST pipe table; ``|`` inside cells is escaped."""
        lines = []
        if self.caption:
            lines += [f"**{self.caption}**", ""]
        lines.append("| " + " | ".join(_pipe(h) for h in self.headers) + " |")
        lines.append("|" + "|".join(" --- " for _ in self.headers) + "|")
        for r in self.rows:
            lines.append("| " + " | ".join(_pipe(c) for c in r) + " |")
        if self.notes:
            lines.append("")
            lines += [f"{n}  " for n in self.notes]
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_text(self) -> str:
        """Plain text (Markdown/LaTeX markers stripped), columns aligned."""
        cells = [[_plain(h) for h in self.headers]] + [[_plain(c) for c in r] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]
        out = []
        if self.caption:
            out.append(_plain(self.caption))
        for j, row in enumerate(cells):
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if j == 0:
                out.append("  ".join("-" * w for w in widths))
        out += [_plain(n) for n in self.notes]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def to_rich(self) -> Any:
        """A :class:`rich.table.Table` (for the CLI)."""
        from rich.table import Table as RichTable

        t = RichTable(title=_plain(self.caption) or None)
        for h in self.headers:
            t.add_column(_plain(h), overflow="fold")
        for r in self.rows:
            t.add_row(*(_plain(c) for c in r))
        return t


def _pipe(cell: str) -> str:
    """Make a cell safe for a pipe table: one line, ``|`` escaped (``\\vert`` in math)."""
    cell = str(cell).replace("\n", " ")
    parts = cell.split("$")
    for i in range(len(parts)):
        if i % 2 == 1:  # inside $...$
            parts[i] = parts[i].replace("|", r"\vert ")
        else:
            parts[i] = re.sub(r"(?<!\\)\|", r"\\|", parts[i])
    return "$".join(parts)


def _plain(cell: str) -> str:
    s = str(cell).replace("\n", " ")
    s = s.replace("\\|", "|").replace("`", "").replace("**", "")
    s = s.replace("\\$", "\x00")
    s = re.sub(r"\$([^$]*)\$", lambda m: m.group(1), s)
    return s.replace("\x00", "$")


def md_text(s: Any) -> str:
    """Escape free text for a Markdown/MyST cell (``$`` would start math, ``*`` emphasis,
    ``|`` a new cell)."""
    s = str(s).replace("\n", " ")
    for ch in ("\\", "$", "*", "|", "`"):
        s = s.replace(ch, "\\" + ch)
    return s


def md_code(s: Any) -> str:
    """A code span (for ids and names)."""
    s = str(s).replace("`", "'")
    return f"`{s}`"


# ----------------------------------------------------------------------------- verdicts
def md_value(v: Any) -> str:
    """A number, flag or text as a Markdown cell (floats to 4 significant digits)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return str(v)
    return md_text(v)


def _source_cell(v: Verdict, claims: Mapping[str, Claim]) -> str:
    c = claims.get(v.claim_id)
    if c is not None:
        return f"{md_text(c.source.paper)}, {md_text(c.source.locator)} *[{c.source.provenance}]*"
    text = str(v.provenance.get("source", ""))
    m = re.match(r"^(.*) \[([a-z-]+)\]$", text)
    if m:
        return f"{md_text(m.group(1))} *[{m.group(2)}]*"
    return md_text(text) if text else "–"


def verdict_cells(v: Verdict, claims: Mapping[str, Claim] | None = None) -> list[str]:
    """The Markdown cells of one verdict, in the order of :data:`VERDICT_COLUMNS`."""
    claims = claims or {}
    interval = (f"[{v.interval[0]:.4g}, {v.interval[1]:.4g}]" if v.interval is not None
                else "–")
    measured = md_value(v.measured)
    if v.status == Status.ERROR:
        measured = "error: " + md_text(str(v.details.get("error", "error"))[:100])
    seed = v.seed if v.seed is not None else v.provenance.get("seed")
    return [
        md_code(v.claim_id),
        _source_cell(v, claims),
        md_value(v.predicted),
        measured,
        md_text(interval),
        md_text(v.tolerance) if v.tolerance else "–",
        md_value(v.sample_size),
        md_value(seed),
        mutant_summary(v),
        status_text(v),
    ]


def status_text(v: Verdict) -> str:
    """The verdict's status as shown in a table; a contradiction says what it contradicts
    (the source's statement or theorykit's derived hypothesis)."""
    text = STATUS_MARK.get(v.status.value, v.status.value)
    if v.status == Status.CONTRADICTED and v.against:
        text += " (source)" if v.against == "source" else " (derived hypothesis)"
    return text


def mutant_table(verdicts: Iterable[Verdict], *, caption: str = "") -> Table:
    """One row per mutant of each verdict that ran its mutants (``verify --mutants``)."""
    rows = []
    for v in verdicts:
        for m in v.mutants or []:
            rows.append([md_code(v.claim_id), md_code(m["name"]), md_text(m["description"]),
                         md_value(m.get("predicted")), md_value(m.get("measured")),
                         MUTANT_MARK.get(m["status"], m["status"])])
    killed = sum(r[-1] == MUTANT_MARK["killed"] for r in rows)
    notes = [f"{killed} of {len(rows)} mutants killed (the same check said *contradicted*)."]
    return Table(list(MUTANT_COLUMNS), rows, caption=caption, notes=notes)


def verdict_table(verdicts: Iterable[Verdict], claims: Iterable[Claim] | Mapping[str, Claim]
                  | None = None, *, caption: str = "") -> Table:
    """Verdicts as a :class:`Table` (columns :data:`VERDICT_COLUMNS`).

    ``claims`` (optional) supplies source and provenance; without it they are read from
    ``verdict.provenance["source"]`` (filled by :func:`theorykit.check.ledger.run_claim`).
    """
    by_id = _claims_by_id(claims)
    vs = list(verdicts)
    counts = status_counts(vs)
    notes = ["Verdicts: " + ", ".join(f"{k} {n}" for k, n in counts.items() if n) + "."]
    used = sorted({by_id[v.claim_id].source.provenance for v in vs if v.claim_id in by_id})
    if used:
        notes.append("Provenance: " + "; ".join(
            f"*{p}* = {PROVENANCE_TEXT.get(p, p)}" for p in used) + ".")
    return Table(list(VERDICT_COLUMNS), [verdict_cells(v, by_id) for v in vs],
                 caption=caption, notes=notes)


def verdict_table_markdown(verdicts: Iterable[Verdict],
                           claims: Iterable[Claim] | Mapping[str, Claim] | None = None) -> str:
    """The verdict table as a Markdown string (see :func:`verdict_table`)."""
    return verdict_table(verdicts, claims).to_markdown()


def _claims_by_id(claims: Iterable[Claim] | Mapping[str, Claim] | None) -> dict[str, Claim]:
    if claims is None:
        return {}
    if isinstance(claims, Mapping):
        return dict(claims)
    return {c.id: c for c in claims}


def status_counts(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Number of verdicts per status (every status listed, in a fixed order)."""
    vs = list(verdicts)
    return {s.value: sum(v.status == s for v in vs) for s in Status}


def show_verdicts(pattern: str | Sequence[str], ctx: RunContext | None = None, *,
                  quick_only: bool = True, display: bool = True,
                  caption: str | None = None, mutants: bool = False) -> list[Verdict]:
    """Run the claims whose id or tag matches ``pattern`` (glob, or substring without
    wildcards; :func:`theorykit.check.registry.select`) and display their verdict table.
    A list or tuple of strings selects those exact claim ids instead (in that order).

    ``ctx`` defaults to ``RunContext()`` (quick mode, seed 20251, CPU); ``mutants`` also
    runs each claim's mutants (wrong theories) through the same check. Each claim runs
    through :func:`theorykit.check.ledger.run_claim`, so a failing check becomes an
    ``error`` verdict, never an exception. Returns the verdicts (assign the result, e.g.
    ``vs = show_verdicts("compressors.*")``, to plot ``vs[0].series``).
    """
    from theorykit.check.ledger import run_claim
    from theorykit.check.registry import select

    ctx = ctx or RunContext()
    if isinstance(pattern, str):
        claims = select(pattern, quick_only=quick_only and ctx.quick)
    else:
        by_id = {c.id: c for c in select(None)}
        missing = [p for p in pattern if p not in by_id]
        if missing:
            raise InputError(f"unknown claim id(s) {missing}")
        claims = [by_id[p] for p in pattern]
    if not claims:
        raise InputError(f"no claim matches {pattern!r}")
    verdicts = [run_claim(c, ctx, mutants=mutants) for c in claims]
    table = verdict_table(verdicts, claims, caption=caption if caption is not None else
                          f"Claims matching {pattern!r} ({ctx.mode} mode, seed {ctx.seed})")
    if display:
        _display(table)
    return verdicts


def _display(obj: Any) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown
        from IPython.display import display as ipy_display
    except ImportError:  # pragma: no cover - IPython ships with the book extra
        print(obj)
        return
    if get_ipython() is None:
        print(obj)
    else:
        ipy_display(Markdown(obj.to_markdown()))


# ----------------------------------------------------------------------------- results
def find_results(name: str = "verify.json") -> Path | None:
    """Locate ``results/<name>``: ``$THEORYKIT_RESULTS`` first, then a ``results/`` folder
    in the current directory or any parent, then the repository that holds the package."""
    candidates: list[Path] = []
    env = os.environ.get("THEORYKIT_RESULTS")
    if env:
        candidates.append(Path(env) / name)
    cwd = Path.cwd().resolve()
    candidates += [p / "results" / name for p in (cwd, *cwd.parents)]
    import theorykit

    candidates.append(Path(theorykit.__file__).resolve().parents[1] / "results" / name)
    for c in candidates:
        if c.is_file():
            return c
    return None


def load_verdicts(path: str | Path) -> tuple[dict[str, Any], list[Verdict]]:
    """Read a ``theorykit verify --json`` file. Returns ``(meta, verdicts)``: ``meta`` has
    ``mode``, ``seed`` and, gathered from the verdicts' provenance, ``versions``,
    ``devices``, ``first_date``, ``last_date`` and ``path``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"no verdict file at {str(p)!r}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{str(p)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "verdicts" not in data:
        raise InputError(f"{str(p)!r} has no 'verdicts' list (write it with "
                         "`theorykit verify --json PATH`)")
    verdicts = [Verdict.from_json(d) for d in data["verdicts"]]
    dates = sorted(str(v.provenance["date"]) for v in verdicts if v.provenance.get("date"))
    versions: dict[str, str] = {}
    for v in verdicts:
        versions.update(v.provenance.get("versions") or {})
    meta = {
        "path": str(p),
        "mode": data.get("mode"),
        "seed": data.get("seed"),
        "versions": versions,
        "devices": sorted({str(v.provenance["device"]) for v in verdicts
                           if v.provenance.get("device")}),
        "first_date": dates[0] if dates else None,
        "last_date": dates[-1] if dates else None,
    }
    return meta, verdicts


# ----------------------------------------------------------------------------- chapter overview
def verdict_paper(v: Verdict, claims: Mapping[str, Claim] | None = None) -> str:
    """The paper a verdict's claim comes from: the claim's ``source.paper`` when the claim
    is known, else the first comma-separated part of ``provenance["source"]``."""
    c = (claims or {}).get(v.claim_id)
    text = str(c.source.paper) if c is not None else str(v.provenance.get("source", ""))
    return paper_key(text)


def paper_key(text: str) -> str:
    """A short key for a source: the first author's surname and the year (``"Compagnoni
    2025"``; an arXiv id ``YYMM.NNNNN`` gives the year ``20YY``), else the text before its
    first comma."""
    head = text.split(",")[0].strip()
    if ";" in head:  # "Baseline; Beznosikov et al. ...": the paper follows the label
        head = head.split(";", 1)[1].strip()
    year = re.search(r"(?<![\d.])(?:19|20)\d\d(?![\d.])", text)  # not inside an arXiv id
    arxiv = re.search(r"\b(\d\d)(?:0[1-9]|1[0-2])\.\d{4,5}\b", text)
    yy = year.group(0) if year else f"20{arxiv.group(1)}" if arxiv else None
    if yy is None or not head or "/" in head:
        return head or "?"
    return f"{head.split()[0].rstrip(';:.')} {yy}"


def _short(value: Any, n: int = 70) -> Any:
    """A text value cut to about ``n`` characters (the full text is in the chapter's
    verdict table); other values unchanged."""
    if not isinstance(value, str) or len(value) <= n:
        return value
    return value[:n].rsplit(" ", 1)[0] + " …"


def _registered_claims() -> dict[str, Claim]:
    try:
        from theorykit.check.registry import select

        return {c.id: c for c in select(None)}
    except Exception:  # an overview never fails on a broken claim module
        return {}


def claims_overview(verdicts: Iterable[Verdict],
                    claims: Iterable[Claim] | Mapping[str, Claim] | None = None, *,
                    caption: str | None = None) -> Table:
    """The short table that opens a chapter: one row per claim with what it states (the
    claim's title), predicted, measured, mutants killed (when they ran) and the verdict.
    The caption counts the verdicts by status. Claims are looked up in the registry when
    ``claims`` is not given."""
    vs = list(verdicts)
    by_id = _claims_by_id(claims) or _registered_claims()
    with_mutants = any(v.mutants is not None for v in vs)
    rows = []
    for v in vs:
        c = by_id.get(v.claim_id)
        row = [md_code(v.claim_id), md_text(c.title) if c is not None else "–",
               md_value(_short(v.predicted)), md_value(_short(v.measured))]
        if with_mutants:
            row.append(mutant_summary(v))
        rows.append([*row, status_text(v)])
    counts = status_counts(vs)
    cap = caption if caption is not None else (
        f"The claims this chapter checks: {len(vs)} — "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    headers = ["claim", "states", "predicted", "measured"]
    return Table(headers + (["mutants killed"] if with_mutants else []) + ["verdict"], rows,
                 caption=cap)


# ----------------------------------------------------------------------------- filterable HTML
_FILTER_IDS = iter(range(1, 10**9))


class HTMLBlock:
    """Raw HTML that displays as such in Jupyter and in the book (``_repr_html_``)."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def verdict_filter_html(verdicts: Iterable[Verdict],
                        claims: Iterable[Claim] | Mapping[str, Claim] | None = None
                        ) -> HTMLBlock:
    """The verdicts as a static HTML table with two drop-downs, paper and status, that
    filter its rows (a few lines of inline JavaScript: works offline, no library). Columns:
    claim, paper, measured/predicted, mutants killed, verdict. Plain text only, so nothing
    in it needs MathJax."""
    import html as _html

    vs = list(verdicts)
    by_id = _claims_by_id(claims) or _registered_claims()
    uid = f"tk-filter-{next(_FILTER_IDS)}"
    papers = sorted({verdict_paper(v, by_id) for v in vs})
    statuses = [s.value for s in Status if any(v.status == s for v in vs)]

    def options(values: list[str], every: str) -> str:
        return f'<option value="">{every}</option>' + "".join(
            f'<option value="{_html.escape(x)}">{_html.escape(x)}</option>' for x in values)

    body = []
    for v in vs:
        ratio = "–"
        if (isinstance(v.predicted, int | float) and isinstance(v.measured, int | float)
                and not isinstance(v.predicted, bool) and v.predicted):
            ratio = f"{v.measured / v.predicted:.4g}"
        paper = verdict_paper(v, by_id)
        body.append(
            f'<tr data-paper="{_html.escape(paper)}" data-status="{v.status.value}">'
            f"<td><code>{_html.escape(v.claim_id)}</code></td><td>{_html.escape(paper)}</td>"
            f"<td>{ratio}</td><td>{_html.escape(mutant_summary(v))}</td>"
            f"<td>{_html.escape(STATUS_MARK.get(v.status.value, v.status.value))}</td></tr>")
    script = (
        "(function(){var r=document.getElementById('UID');"
        "var p=r.querySelector('.tk-paper'),s=r.querySelector('.tk-status'),"
        "n=r.querySelector('.tk-count');function f(){var k=0,rows=r.querySelectorAll('tbody tr');"
        "rows.forEach(function(t){var ok=(!p.value||t.dataset.paper===p.value)&&"
        "(!s.value||t.dataset.status===s.value);t.style.display=ok?'':'none';if(ok)k++;});"
        "n.textContent=k+' of '+rows.length+' claims shown';}"
        "p.addEventListener('change',f);s.addEventListener('change',f);f();})();"
    ).replace("UID", uid)
    return HTMLBlock(
        f'<div id="{uid}" class="tk-verdict-filter">'
        f'<p><label>paper <select class="tk-paper">{options(papers, "every paper")}</select>'
        f'</label> <label>verdict <select class="tk-status">'
        f'{options(statuses, "every verdict")}</select></label> '
        f'<span class="tk-count">{len(vs)} of {len(vs)} claims shown</span></p>'
        "<table class=\"table\"><thead><tr><th>claim</th><th>paper</th>"
        "<th>measured / predicted</th><th>mutants killed</th><th>verdict</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table><script>{script}</script></div>")
