"""Tests of theorykit.report: tables generated from the catalog and from verdicts, the
verdict-file reader and the generic series plot.

The verdicts used here are computed (seeded samples through theorykit.check.stats), not
typed; the claim registry is replaced by a private one for each test so the real claims
of derivations/ are neither run nor polluted.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import sympy as sp

matplotlib.use("Agg")  # tests only; book pages never set a backend

from theorykit.check import registry
from theorykit.check.claim import Claim, RunContext, Source, Status, Verdict
from theorykit.check.stats import agree, at_most, mean_se
from theorykit.cli import main
from theorykit.compressors import Param, catalog
from theorykit.errors import InputError
from theorykit.report import (
    Table,
    catalog_rows,
    catalog_table,
    find_results,
    load_verdicts,
    plot_series,
    show_verdicts,
    status_counts,
    verdict_table,
    verdict_table_markdown,
)
from theorykit.report.catalog_tables import param_cell, symbolic_instance
from theorykit.report.tables import STATUS_MARK

SRC = Source(paper="Test et al. 2024", locator="Thm 1", provenance="derived")


def _mean_claim(ctx: RunContext) -> Verdict:
    """E[U(0,1)] = 1/2 measured from n seeded samples."""
    rng = np.random.default_rng(ctx.seed)
    n = ctx.pick(2000, 20000)
    v = agree("report.mean", 0.5, mean_se(rng.random(n)), seed=ctx.seed)
    v.series = {"x": [1.0, 2.0, 3.0], "gap": [0.3, 0.2, 0.1], "gap_se": [0.01, 0.01, 0.01],
                "xlabel": "eta"}
    return v


def _wrong_claim(ctx: RunContext) -> Verdict:
    """A deliberately wrong bound: E[U(0,1)] <= 0.4 must be contradicted."""
    rng = np.random.default_rng(ctx.seed)
    return at_most("report.wrong", 0.4, mean_se(rng.random(2000)), seed=ctx.seed)


def _broken_claim(ctx: RunContext) -> Verdict:
    raise RuntimeError("boom | with a pipe")


@pytest.fixture
def private_registry(monkeypatch):
    """Replace the claim registry by three test claims (restored after the test)."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_LOADED", True)
    registry.claim("report.mean", "mean of U(0,1)", SRC, tags=("report",))(_mean_claim)
    registry.claim("report.wrong", "wrong bound", SRC, tags=("report",))(_wrong_claim)
    registry.claim("report.broken", "raises", SRC, tags=("report",))(_broken_claim)
    return registry


# ----------------------------------------------------------------------------- Table
def test_table_markdown_escapes_pipes_and_math():
    t = Table(["a", "b"], [["x | y", "$|x|^2$"]], caption="cap")
    md = t.to_markdown()
    row = md.splitlines()[-1]
    assert r"x \| y" in row
    assert r"$\vert x\vert ^2$" in row  # pipes inside math become \vert, not cell breaks
    assert row.count(" | ") == 1  # exactly two cells
    assert md.startswith("**cap**")
    assert t._repr_markdown_() == md
    text = str(t)
    assert "x | y" in text and "$" not in text


def test_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match="2 columns"):
        Table(["a", "b"], [["only one"]])


def test_table_to_rich():
    rt = Table(["a"], [["`x`"]]).to_rich()
    assert rt.columns[0].header == "a"
    assert rt.row_count == 1


# ----------------------------------------------------------------------------- verdicts
def test_verdict_table_columns_and_content():
    rng = np.random.default_rng(7)
    est = mean_se(rng.normal(1.0, 1.0, size=400))
    v = agree("x.mean", 1.0, est, seed=7)
    v.tolerance = "|meas - pred| <= 3·SE"  # contains pipes: must stay in its cell
    claim = Claim(id="x.mean", title="t", source=SRC, run=_mean_claim)
    t = verdict_table([v], [claim])
    assert t.headers[0] == "claim" and t.headers[-1] == "verdict"
    (row,) = t.rows
    assert row[0] == "`x.mean`"
    assert "Test et al. 2024, Thm 1" in row[1] and "[derived]" in row[1]
    assert row[2] == "1"
    assert row[3] == f"{est.mean:.4g}"
    lo, hi = est.interval()
    assert row[4] == f"[{lo:.4g}, {hi:.4g}]"
    assert row[6] == "400" and row[7] == "7"
    assert row[9].endswith(v.status.value)
    md = verdict_table_markdown([v], [claim])
    body = md.splitlines()[2]
    # 10 cells -> 11 unescaped pipes
    assert len([i for i, ch in enumerate(body) if ch == "|" and body[i - 1] != "\\"]) == 11
    assert "derived by theorykit" in md  # provenance legend


def test_status_counts_lists_every_status():
    v = Verdict("a", Status.HOLDS, 1.0, 1.0)
    counts = status_counts([v, v])
    assert counts == {"holds": 2, "contradicted": 0, "inconclusive": 0, "error": 0}


def test_show_verdicts_runs_matching_claims(private_registry, capsys):
    vs = show_verdicts("report.*", RunContext(seed=3), display=True)
    by_id = {v.claim_id: v for v in vs}
    assert set(by_id) == {"report.mean", "report.wrong", "report.broken"}
    assert by_id["report.mean"].status == Status.HOLDS
    assert by_id["report.mean"].sample_size == 2000  # quick mode size
    assert by_id["report.wrong"].status == Status.CONTRADICTED
    assert by_id["report.broken"].status == Status.ERROR
    out = capsys.readouterr().out  # no IPython kernel here: printed as text
    assert "report.wrong" in out and "contradicted" in out and "boom" in out
    assert by_id["report.mean"].provenance["source"] == SRC.text()


def test_show_verdicts_no_match(private_registry):
    with pytest.raises(InputError, match="no claim matches"):
        show_verdicts("nothing-like-this", display=False)
    with pytest.raises(InputError, match="unknown claim id"):
        show_verdicts(["report.mean", "report.nope"], display=False)


def test_show_verdicts_exact_ids(private_registry):
    vs = show_verdicts(["report.wrong", "report.mean"], display=False)
    assert [v.claim_id for v in vs] == ["report.wrong", "report.mean"]


def test_verify_json_roundtrip(private_registry, tmp_path, monkeypatch):
    path = tmp_path / "results" / "verify.json"
    rc = main(["verify", "--only", "report.mean", "--json", str(path), "--no-progress",
               "--seed", "11"])
    assert rc == 0
    meta, verdicts = load_verdicts(path)
    assert meta["mode"] == "quick" and meta["seed"] == 11
    assert "torch" in meta["versions"] and meta["first_date"]
    (v,) = verdicts
    assert v.status == Status.HOLDS and v.seed == 11
    md = verdict_table_markdown(verdicts)  # source from the stored provenance
    assert "Test et al. 2024, Thm 1 *[derived]*" in md
    monkeypatch.setenv("THEORYKIT_RESULTS", str(path.parent))
    assert find_results("verify.json") == path
    assert find_results("no-such-file.json") is None


def test_load_verdicts_bad_input(tmp_path):
    with pytest.raises(InputError, match="no verdict file"):
        load_verdicts(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_verdicts(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"x": 1}))
    with pytest.raises(InputError, match="no 'verdicts'"):
        load_verdicts(other)


# ----------------------------------------------------------------------------- catalog
def test_catalog_table_is_generated_from_the_catalog():
    cat = catalog()
    rows = {r["name"]: r for r in catalog_rows()}
    assert set(rows) == set(cat)
    for name, cls in cat.items():
        r = rows[name]
        if r["error"]:
            continue  # reported in the table; that spec's tests own the failure
        spec = symbolic_instance(cls)
        assert len(r["classes"]) == len(spec.classes())
        assert r["bits"] == sp.latex(sp.sympify(spec.bits()))
    ident = rows["identity"]
    assert ident["classes"][0] == r"$\mathcal{U}(\omega=0)$"
    assert ident["bits"] == "32 d"
    t = catalog_table()
    assert len(t.rows) == len(cat)
    assert t.headers == ["compressor", "parameters", "classes (constants)", "bits per message"]


def test_param_cell_domains():
    assert param_cell(Param("k", int, minimum=1)) == r"$k \in \mathbb{Z} \cap [1, \infty)$"
    p = Param("p", float, minimum=0, minimum_inclusive=False, maximum=1)
    assert param_cell(p) == r"$p \in (0, 1]$"
    assert param_cell(Param("tau", float, default=2.0)) == r"$\tau$ (float), default 2.0"


# ----------------------------------------------------------------------------- plots
def test_plot_series_curves_and_error_bars(private_registry):
    v = _mean_claim(RunContext())
    ax = plot_series(v, hlines={"predicted": 0.5})
    assert ax.get_xlabel() == "eta"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["gap (±1 SE)", "predicted"]
    assert ax.get_title() == "report.mean"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_series_panels_and_errors():
    import matplotlib.pyplot as plt

    series = {"left": {"x": [1, 2], "a": [1.0, 2.0]},
              "right": {"x": [1, 2, 4], "b": [3, 2, 1], "yscale": "log"}}
    axes = plot_series(series)
    assert len(axes) == 2 and axes[1].get_yscale() == "log"
    with pytest.raises(InputError, match="empty"):
        plot_series({})
    with pytest.raises(InputError, match="no key"):
        plot_series({"a": [1, 2]}, x="eta")
    with pytest.raises(InputError, match="no plottable curve"):
        plot_series({"x": [1, 2], "a": [1, 2, 3]})
    plt.close("all")


# ----------------------------------------------------------------------------- certification
def test_certification_table_one_row_per_constant():
    from theorykit.compressors import make
    from theorykit.compressors.certify import certify
    from theorykit.report import certification_table

    rep = certify(make("identity"), d=[8], n_samples=10, seed=0)
    t = certification_table(rep)
    assert [r[0] for r in t.rows] == [f"`{c.key}`" for c in rep.constants]
    assert all(r[-1].startswith(STATUS_MARK[c.status]) for r, c in zip(t.rows, rep.constants,
                                                                         strict=True))
    assert "identity" in t.caption and rep.status.value in t.caption
    assert t.notes and "Bonferroni" in t.notes[0]


def test_symbolic_instance_reads_specs_that_require_values():
    import torch

    from theorykit.compressors import CompressorSpec, D, Unbiased

    class NeedsS(CompressorSpec):
        name = "needs_s"
        params = (Param("s", int, minimum=1),)

        def _validate(self):
            self.require("s")

        def classes(self):
            return (Unbiased(D / self.sym("s") ** 2),)

        def bits(self):
            return 2 * D

        def encode(self, x, generator=None):  # pragma: no cover - not used
            raise NotImplementedError

        def decode(self, payload):  # pragma: no cover - not used
            return torch.zeros(payload.shape)

    with pytest.raises(InputError, match="missing"):
        NeedsS()
    spec = symbolic_instance(NeedsS)
    (u,) = spec.classes()
    s = sp.Symbol("s", integer=True, positive=True, real=True)
    assert sp.simplify(u.omega - D / s**2) == 0


def test_verify_exit_status_follows_fail_on(private_registry, capsys):
    """A contradicted claim fails `verify` by default, not with --fail-on error; an error
    verdict fails both."""
    args = ["verify", "--only", "report.wrong", "--no-progress"]
    assert main(args) == 1
    assert main([*args, "--fail-on", "error"]) == 0
    assert "contradicted (findings" in capsys.readouterr().out
    assert main(["verify", "--only", "report.broken", "--no-progress", "--fail-on",
                 "error"]) == 1


def test_joint_status_of_a_claim_made_of_several_checks():
    from theorykit.check.claim import joint_status

    H, C, I, E = Status.HOLDS, Status.CONTRADICTED, Status.INCONCLUSIVE, Status.ERROR
    assert joint_status([H, H]) == H
    assert joint_status([H, I, C]) == C
    assert joint_status([H, I]) == I
    assert joint_status([H, E]) == I  # an errored part never lets the whole hold
    assert joint_status([]) == I
