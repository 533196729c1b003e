"""The report helpers the book pages use: trade-off data, Pareto front, tightness rows,
verdict ratios, the chapter overview and the filterable verdict table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from theorykit.check.claim import Status, Verdict
from theorykit.report import (
    claims_overview,
    pareto_front,
    plot_tightness,
    plot_variance_tradeoff,
    plot_verdict_ratios,
    variance_tradeoff,
    verdict_filter_html,
    verdict_ratios,
)
from theorykit.report.tables import paper_key


def _verdict(cid: str, status: Status, predicted, measured, interval=None, mutants=None,
             source: str = "Someone et al., ICML 2021") -> Verdict:
    return Verdict(claim_id=cid, status=status, predicted=predicted, measured=measured,
                   interval=interval, mutants=mutants, provenance={"source": source})


def test_pareto_front_keeps_only_undominated_points() -> None:
    pts = [{"bits_per_coord": 1, "value": 10}, {"bits_per_coord": 2, "value": 5},
           {"bits_per_coord": 2, "value": 8}, {"bits_per_coord": 4, "value": 5},
           {"bits_per_coord": 8, "value": 1}]
    front = pareto_front(pts)
    assert [(p["bits_per_coord"], p["value"]) for p in front] == [(1, 10), (2, 5), (8, 1)]


def test_variance_tradeoff_small_sweep_and_plot() -> None:
    d = 1000
    pts, skipped = variance_tradeoff(d, {"randk": [{"k": 10}, {"k": 100}], "topk": [{"k": 10}],
                                         "sign": [{}]})
    by = {(p["name"], p["params"].get("k"), p["kind"]): p for p in pts}
    assert by[("randk", 10, "omega")]["value"] == d / 10 - 1
    assert by[("topk", 10, "delta")]["value"] == d / 10
    assert by[("randk", 10, "omega")]["bits_per_coord"] < by[("randk", 100, "omega")][
        "bits_per_coord"]
    assert "sign" in skipped
    axes, fronts = plot_variance_tradeoff(pts, d)
    assert axes[0].get_xlabel().startswith("bits per coordinate")
    assert len(fronts["omega"]) == 2 and len(fronts["delta"]) == 1


def test_verdict_ratios_and_plot() -> None:
    muts = [{"name": "x2", "status": "killed", "predicted": 8.0},
            {"name": "x1_2", "status": "survived", "predicted": 2.0}]
    vs = [_verdict("a.one", Status.HOLDS, 4.0, 3.9, [3.8, 4.2], muts),
          _verdict("a.text", Status.HOLDS, "a statement", "measured text")]
    rows, left = verdict_ratios(vs)
    assert left == ["a.text"]
    assert abs(rows[0]["ratio"] - 3.9 / 4) < 1e-12
    assert rows[0]["lo"] == 0.95 and rows[0]["hi"] == 1.05
    assert [m["ratio"] for m in rows[0]["mutants"]] == [3.9 / 8, 3.9 / 2]
    ax, drawn, left = plot_verdict_ratios(vs)
    assert len(drawn) == 1 and "measured / predicted" in ax.get_xlabel()


def test_plot_tightness_skips_undefined() -> None:
    rows = [{"compressor": "c", "key": "U.omega", "tightness": 1.0, "status": "holds"},
            {"compressor": "c", "key": "U.omega.attained", "tightness": 0.98, "status": "holds"},
            {"compressor": "c", "key": "U.unbiased", "tightness": None, "status": "holds"}]
    _, drawn = plot_tightness(rows)
    assert len(drawn) == 2


def test_overview_and_filter_html() -> None:
    vs = [_verdict("p.one", Status.HOLDS, 1.0, 1.01, [0.9, 1.1], []),
          _verdict("p.two", Status.CONTRADICTED, 2.0, 3.0, [2.9, 3.1], [],
                   source="Other, Li, arXiv 2402.01160")]
    t = claims_overview(vs)
    assert "1 holds" in t.caption and "1 contradicted" in t.caption
    html = verdict_filter_html(vs)._repr_html_()
    assert html.count("<tr data-paper=") == 2
    assert 'value="Someone 2021"' in html and 'value="Other 2024"' in html
    assert "\\(" not in html and "$" not in html


def test_paper_key() -> None:
    assert paper_key("Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025") == "Compagnoni 2025"
    assert paper_key("examples/my_claims.py") == "examples/my_claims.py"
