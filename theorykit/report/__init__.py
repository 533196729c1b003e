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
* :func:`plot_variance_tradeoff` (data: :func:`variance_tradeoff`, :func:`pareto_front`) —
  the catalog's variance constant against bits per coordinate, Pareto front marked.
* :func:`plot_tightness` — certification tightness of every claimed constant.
* :func:`plot_verdict_ratios` (data: :func:`verdict_ratios`) — measured/predicted per claim
  with its interval and its mutants.
* :func:`claims_overview` — the short table of claims and verdicts that opens a chapter;
  :func:`verdict_filter_html` — the verdicts as an HTML table filterable by paper and status.

Tables are :class:`Table` objects: they display as Markdown (with ``$...$`` math) in
Jupyter and in the book (MyST-NB renders Markdown outputs as MyST, see
``book/_config.yml``), print as plain text, and convert to a ``rich`` table for the CLI.
"""

from theorykit.report.catalog_tables import catalog_rows, catalog_table, certification_table
from theorykit.report.plots import (
    pareto_front,
    plot_series,
    plot_tightness,
    plot_variance_tradeoff,
    plot_verdict_ratios,
    tightness_rows,
    tightness_rows_from_verdicts,
    variance_tradeoff,
    verdict_ratios,
)
from theorykit.report.tables import (
    Table,
    claims_overview,
    find_results,
    load_verdicts,
    mutant_table,
    show_verdicts,
    status_counts,
    verdict_filter_html,
    verdict_table,
    verdict_table_markdown,
)

__all__ = [
    "Table",
    "catalog_rows",
    "catalog_table",
    "certification_table",
    "claims_overview",
    "find_results",
    "load_verdicts",
    "mutant_table",
    "pareto_front",
    "plot_series",
    "plot_tightness",
    "plot_variance_tradeoff",
    "plot_verdict_ratios",
    "show_verdicts",
    "status_counts",
    "tightness_rows",
    "tightness_rows_from_verdicts",
    "variance_tradeoff",
    "verdict_filter_html",
    "verdict_ratios",
    "verdict_table",
    "verdict_table_markdown",
]
