"""Tables of the compressor catalog and of certification reports.

:func:`catalog_table` renders every registered spec's symbolic face (parameters with their
domains, classes with their constants in LaTeX, bits per message) from
:func:`theorykit.compressors.catalog`; :func:`certification_table` renders a
:class:`~theorykit.compressors.certify.CertificationReport`, one row per claimed constant.
Nothing is typed by hand.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from theorykit.report.tables import STATUS_MARK, Table, md_code, md_text, md_value


# ----------------------------------------------------------------------------- catalog
def _interval_latex(p: Any) -> str:
    lo = "-\\infty" if p.minimum is None else sp.latex(sp.nsimplify(p.minimum))
    hi = "\\infty" if p.maximum is None else sp.latex(sp.nsimplify(p.maximum))
    left = "[" if p.minimum is not None and p.minimum_inclusive else "("
    right = "]" if p.maximum is not None and p.maximum_inclusive else ")"
    return f"{left}{lo}, {hi}{right}"


def param_cell(p: Any) -> str:
    """One parameter as Markdown: symbol, domain, type and default."""
    kind = getattr(p.kind, "__name__", str(p.kind))
    if p.kind not in (int, float):  # e.g. a level grid: not a scalar symbol
        dom = f"{md_code(p.name)} ({md_text(kind)})"
        if p.default is not None:
            dom += f", default {md_text(p.default)}"
        return dom
    sym = sp.latex(p.symbol())
    if p.minimum is None and p.maximum is None:
        dom = f"${sym}$ ({md_text(kind)})"
    elif p.kind is int:
        dom = f"${sym} \\in \\mathbb{{Z}} \\cap {_interval_latex(p)}$"
    else:
        dom = f"${sym} \\in {_interval_latex(p)}$"
    if p.default is not None:
        dom += f", default {md_text(p.default)}"
    return dom


def class_cell(c: Any) -> str:
    """One class membership in LaTeX (sign-type with its reason)."""
    from theorykit.compressors.classes import SignType

    if isinstance(c, SignType):
        return f"sign-type ({md_text(c.reason)})"
    return f"${c.latex()}$"


def symbolic_instance(cls: type) -> Any:
    """An instance of a spec class for reading its symbolic face (no parameter values, no
    ``d``): :func:`theorykit.compressors.algebra.symbolic_spec` with nothing given."""
    from theorykit.compressors.algebra import symbolic_spec

    return symbolic_spec(cls)


def catalog_rows() -> list[dict[str, Any]]:
    """The catalog as data: one dict per compressor with ``name``, ``title``,
    ``reference``, ``randomized``, ``params`` (Markdown cells), ``classes`` (LaTeX),
    ``bits`` (LaTeX) and ``error`` (why the symbolic face could not be read, else None)."""
    from theorykit.compressors import catalog

    rows = []
    for name, cls in catalog().items():
        row: dict[str, Any] = {
            "name": name, "title": getattr(cls, "title", ""),
            "reference": getattr(cls, "reference", ""),
            "randomized": getattr(cls, "randomized", True),
            "params": [param_cell(p) for p in getattr(cls, "params", ())],
            "classes": [], "bits": None, "error": None,
        }
        try:
            spec = symbolic_instance(cls)
            row["classes"] = [class_cell(c) for c in spec.classes()]
            row["bits"] = sp.latex(sp.sympify(spec.bits()))
        except Exception as exc:  # shown in the table, not hidden
            try:
                cls()
                row["error"] = f"{type(exc).__name__}: {exc}"
            except Exception as first:  # the constructor names what is missing
                row["error"] = f"needs parameter values: {first}"
        rows.append(row)
    return rows


def catalog_table(*, caption: str = "") -> Table:
    """The compressor catalog as a :class:`Table`: name, parameters, class memberships
    with their constants (LaTeX, as SymPy expressions of the parameters and $d$) and bits
    per message as a formula of $d$. Generated from the registered specs."""
    rows = []
    for r in catalog_rows():
        name = md_code(r["name"]) + (f" {md_text(r['title'])}" if r["title"] else "")
        params = "; ".join(r["params"]) if r["params"] else "–"
        if r["error"]:
            classes = "symbolic face unavailable — " + md_text(r["error"])
            bits = "–"
        else:
            classes = ", ".join(r["classes"]) if r["classes"] else \
                "none claimed (no class holds for every $x$)"
            bits = f"${r['bits']}$"
        rows.append([name, params, classes, bits])
    return Table(["compressor", "parameters", "classes (constants)", "bits per message"],
                 rows, caption=caption)


# ----------------------------------------------------------------------------- certification
def certification_table(report: Any, *, caption: str | None = None) -> Table:
    """A :class:`~theorykit.compressors.certify.CertificationReport` as a table: one row
    per claimed constant with its formula, claimed value, the worst (d, input), the implied
    constant there ± SE, the tightness, the sample size and the verdict; the decision rule
    (``report.rule()``) is the table's note."""
    rows = []
    for c in report.constants:
        est = "–" if c.estimate is None else f"{c.estimate:.4g} ± {(c.se or 0):.2g}"
        where = "–" if c.worst_input is None else f"{md_code(c.worst_input)}, d={c.worst_d}"
        rows.append([
            md_code(c.key), md_code(c.formula) if c.formula else "–", md_value(c.claimed), where,
            est, md_value(c.tightness), md_value(c.n),
            STATUS_MARK.get(c.status, c.status) + (f" ({md_text(c.note)})" if c.note else ""),
        ])
    vals = ", ".join(f"{k}={v}" for k, v in report.values.items()) or "no parameters"
    cap = caption if caption is not None else (
        f"Certification of {report.compressor} ({vals}; d in {report.dims}; "
        f"{report.n_samples} samples; seed {report.seed}): {report.status.value}")
    return Table(["constant", "formula", "claimed", "worst input", "implied ± SE",
                  "tightness", "n", "verdict"], rows, caption=md_text(cap),
                 notes=["Rule: " + md_text(report.rule()) + "."])
