"""Tables and figures for the CLI and the book.

Everything here *renders* objects that are defined elsewhere (the compressor catalog, the
claim registry, verdicts); nothing is computed twice and no number is typed in.

* :func:`catalog_table` — the compressor catalog (parameters, classes with their constants
  in LaTeX, bits per message) generated from :func:`theorykit.compressors.catalog`.
* :func:`verdict_table_markdown` / :func:`verdict_table` — verdicts as a table with source
  and provenance, predicted, measured, interval, tolerance, sample size, seed and verdict.
* :func:`show_verdicts` — run the claims matching a pattern (quick mode) and display them.
* :func:`load_verdicts` / :func:`find_results` — read ``results/verify.json`` written by
  ``theorykit verify --json``.
* :func:`certification_table` — a certifier report, one row per claimed constant.
* :func:`plot_series` — generic plot of ``Verdict.series``.

Tables are :class:`Table` objects: they display as Markdown (with ``$...$`` math) in
Jupyter and in the book (MyST-NB renders Markdown outputs as MyST, see
``book/_config.yml``), print as plain text, and convert to a ``rich`` table for the CLI.
"""

from theorykit.report.plots import plot_series
from theorykit.report.tables import (
    Table,
    catalog_rows,
    catalog_table,
    certification_table,
    find_results,
    load_verdicts,
    mutant_table,
    show_verdicts,
    status_counts,
    verdict_table,
    verdict_table_markdown,
)

__all__ = [
    "Table",
    "catalog_rows",
    "catalog_table",
    "certification_table",
    "find_results",
    "load_verdicts",
    "mutant_table",
    "plot_series",
    "show_verdicts",
    "status_counts",
    "verdict_table",
    "verdict_table_markdown",
]
