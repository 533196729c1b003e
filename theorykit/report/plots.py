"""Generic plots of :attr:`theorykit.check.claim.Verdict.series`.

Convention for ``verdict.series`` (plain JSON-able values, so the same data plots from a
live run and from ``results/verify.json``):

* ``"x"`` — the abscissa (a list of numbers); another key can be named with ``x=...``;
  without one, points are plotted against their index;
* any other key holding a list of numbers of the same length — one curve each;
* ``"<name>_se"`` — the standard errors of curve ``<name>``, drawn as error bars of
  ±``z``·SE (``z = 1`` by default; stated in the legend);
* string values under ``"xlabel"``, ``"ylabel"``, ``"title"``, ``"xscale"``, ``"yscale"``
  (``"linear"`` / ``"log"``) — labels and axis scales;
* a key holding a dict — a separate panel with the same convention inside.

Scalars and lists of other lengths are not drawn (pass ``hlines=`` to draw scalars as
horizontal reference lines).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from theorykit.check.claim import Verdict
from theorykit.errors import InputError

_META = {"xlabel", "ylabel", "title", "xscale", "yscale"}


def _numeric_list(v: Any) -> list[float] | None:
    if isinstance(v, str | bytes) or not isinstance(v, Sequence):
        if hasattr(v, "tolist") and not isinstance(v, str | bytes):
            return _numeric_list(v.tolist())
        return None
    out = []
    for e in v:
        if e is None:
            out.append(math.nan)
        elif isinstance(e, bool) or not isinstance(e, numbers.Real):
            return None
        else:
            out.append(float(e))
    return out


def series_curves(series: Mapping[str, Any], x: str | None = None
                  ) -> tuple[list[float] | None, dict[str, tuple[list[float], list[float] | None]]]:
    """Split a series dict into its abscissa and ``{name: (values, se or None)}`` curves."""
    xkey = x if x is not None else ("x" if "x" in series else None)
    if x is not None and x not in series:
        raise InputError(f"series has no key {x!r}; keys: {sorted(series)}")
    xs = _numeric_list(series[xkey]) if xkey is not None else None
    if xkey is not None and xs is None:
        raise InputError(f"series[{xkey!r}] is not a list of numbers")
    curves: dict[str, tuple[list[float], list[float] | None]] = {}
    for k, v in series.items():
        if k == xkey or k in _META or k.endswith("_se"):
            continue
        ys = _numeric_list(v)
        if ys is None or not ys or (xs is not None and len(ys) != len(xs)):
            continue
        se = _numeric_list(series.get(f"{k}_se"))
        if se is not None and len(se) != len(ys):
            se = None
        curves[k] = (ys, se)
    return xs, curves


def plot_series(
    verdict: Verdict | Mapping[str, Any],
    *,
    x: str | None = None,
    y: Sequence[str] | None = None,
    ax: Any = None,
    z: float = 1.0,
    loglog: bool = False,
    hlines: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Any:
    """Plot a verdict's ``series`` (or a series dict) with matplotlib; returns the Axes
    (or the array of Axes when the series has panels).

    ``y`` restricts the curves drawn; ``loglog`` forces log scales on both axes;
    ``hlines`` draws labelled horizontal reference lines (e.g. a predicted value).
    """
    import matplotlib.pyplot as plt

    series = verdict.series if isinstance(verdict, Verdict) else verdict
    if not isinstance(series, Mapping) or not series:
        raise InputError("nothing to plot: the series is empty")
    name = verdict.claim_id if isinstance(verdict, Verdict) else ""
    panels = {k: v for k, v in series.items() if isinstance(v, Mapping)}
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5),
                                 squeeze=False)
        for a, (pname, sub) in zip(axes[0], panels.items(), strict=True):
            _draw(a, sub, x=x, y=y, z=z, loglog=loglog, hlines=hlines,
                  title=sub.get("title", pname))
        if title or name:
            fig.suptitle(title or name)
        fig.tight_layout()
        return axes[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    _draw(ax, series, x=x, y=y, z=z, loglog=loglog, hlines=hlines,
          title=title or series.get("title") or name)
    return ax


def _draw(ax: Any, series: Mapping[str, Any], *, x: str | None, y: Sequence[str] | None,
          z: float, loglog: bool, hlines: Mapping[str, float] | None, title: str) -> None:
    xs, curves = series_curves(series, x)
    if y is not None:
        missing = [k for k in y if k not in curves]
        if missing:
            raise InputError(f"no plottable curve {missing}; curves: {sorted(curves)}")
        curves = {k: curves[k] for k in y}
    if not curves:
        raise InputError(f"no plottable curve in series with keys {sorted(series)}")
    for k, (ys, se) in curves.items():
        xx = xs if xs is not None else list(range(len(ys)))
        if se is not None:
            ax.errorbar(xx, ys, yerr=[z * s for s in se], marker="o", ms=3, capsize=2,
                        label=f"{k} (±{z:g} SE)")
        else:
            ax.plot(xx, ys, marker="o", ms=3, label=k)
    for k, v in (hlines or {}).items():
        ax.axhline(float(v), ls="--", lw=1, color="k", alpha=0.6, label=k)
    ax.set_xlabel(series.get("xlabel", x or ("x" if xs is not None else "index")))
    if "ylabel" in series:
        ax.set_ylabel(series["ylabel"])
    ax.set_xscale("log" if loglog else series.get("xscale", "linear"))
    ax.set_yscale("log" if loglog else series.get("yscale", "linear"))
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")


# ----------------------------------------------------------------------------- catalog trade-off
STATUS_COLORS: dict[str, str] = {
    "holds": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:olive",
    "error": "tab:purple", "killed": "tab:green", "survived": "tab:red",
}
"""Colour of each verdict / mutant status in the figures."""

SWEEP_FRACTIONS: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
"""Fractions of ``d`` kept by the sparsifiers (``k = fraction * d``) in :func:`catalog_sweep`."""

SWEEP_VALUES: dict[str, tuple[Any, ...]] = {
    "p": (1e-3, 1e-2, 1e-1, 0.5),
    "s": (1, 2, 4, 16, 64, 256),
    "base": (2.0, 4.0),
}
"""Values tried for the other required parameters in :func:`catalog_sweep` (clipped to each
parameter's domain)."""


def catalog_sweep(d: int) -> dict[str, list[dict[str, Any]]]:
    """Parameter settings for every catalog compressor at dimension ``d``: ``k`` over
    :data:`SWEEP_FRACTIONS` of ``d``, the other required parameters over
    :data:`SWEEP_VALUES` (within their domains), optional ones at their defaults. A compressor
    with a required parameter that has no sweep values (e.g. a level grid) gets no setting."""
    from theorykit.compressors import catalog

    grid = dict(SWEEP_VALUES)
    grid["k"] = tuple(sorted({max(1, round(d * f)) for f in SWEEP_FRACTIONS}))
    out: dict[str, list[dict[str, Any]]] = {}
    for name, cls in catalog().items():
        required = [p for p in getattr(cls, "params", ()) if p.required]
        if any(p.name not in grid for p in required):
            out[name] = []
            continue
        settings: list[dict[str, Any]] = [{}]
        for p in required:
            values = [v for v in grid[p.name] if _in_domain(p, v)]
            settings = [dict(s, **{p.name: v}) for s in settings for v in values]
        out[name] = settings
    return out


def _in_domain(p: Any, v: float) -> bool:
    if p.minimum is not None and (v < p.minimum or (v == p.minimum and not p.minimum_inclusive)):
        return False
    return not (p.maximum is not None
                and (v > p.maximum or (v == p.maximum and not p.maximum_inclusive)))


def variance_tradeoff(d: int, settings: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
                      ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The variance constant against bits per coordinate at dimension ``d``.

    For each compressor and parameter setting (default :func:`catalog_sweep`) one point per
    variance constant it claims: ``omega`` of :math:`\\mathcal U(\\omega)` and ``delta`` of
    :math:`\\mathcal B^3(\\delta)`, with ``bits`` per message and ``bits_per_coord``
    (= bits / d), all from the spec's symbolic face. Returns ``(points, skipped)``;
    ``skipped`` maps each compressor with no point to the reason."""
    from theorykit.compressors import make

    settings = catalog_sweep(d) if settings is None else settings
    points: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for name, grid in settings.items():
        if not grid:
            skipped[name] = "needs a parameter that is not swept (e.g. a level grid)"
            continue
        found = False
        for params in grid:
            try:
                spec = make(name, d=d, **params)
                classes = spec.numeric_classes(d)
                bits = spec.numeric_bits(d)
            except Exception as exc:  # reported in `skipped`, never hidden
                skipped[name] = f"{type(exc).__name__}: {exc}"
                continue
            for c in classes:
                consts = c.constants()
                kind = "omega" if "omega" in consts and type(c).__name__ == "Unbiased" else \
                    "delta" if "delta" in consts and type(c).__name__ == "B3" else None
                if kind is None:
                    continue
                found = True
                points.append({"name": name, "params": dict(params), "kind": kind,
                               "value": float(consts[kind]), "bits": bits,
                               "bits_per_coord": bits / d})
            if not found:  # the classes' kinds do not depend on the parameter values
                break
        if not found and name not in skipped:
            skipped[name] = "claims neither U(omega) nor B3(delta)"
    return points, skipped


def pareto_front(points: Sequence[Mapping[str, Any]], x: str = "bits_per_coord",
                 y: str = "value") -> list[Mapping[str, Any]]:
    """The points not dominated by another (another with ``x`` and ``y`` both no larger and
    one smaller), sorted by ``x``: the best constant for each budget of bits."""
    front = []
    for p in points:
        if not any(q[x] <= p[x] and q[y] <= p[y] and (q[x] < p[x] or q[y] < p[y])
                   for q in points):
            front.append(p)
    uniq = {(p[x], p[y]): p for p in front}
    return sorted(uniq.values(), key=lambda p: (p[x], p[y]))


def setting_label(p: Mapping[str, Any]) -> str:
    """``name(k=1000, s=4)`` for a point of :func:`variance_tradeoff`."""
    args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in p["params"].items())
    return f"{p['name']}({args})" if args else p["name"]


def plot_variance_tradeoff(points: Sequence[Mapping[str, Any]], d: int, *, axes: Any = None
                           ) -> tuple[Any, dict[str, list[Mapping[str, Any]]]]:
    """Two panels — :math:`\\omega` of the unbiased compressors and :math:`\\delta` of the
    contractive ones against bits per coordinate (log-log; ``omega = 0`` is drawn on a
    linear stretch near 0) — one marker per compressor family, the Pareto front of each
    panel as a step line with its points labelled. Returns ``(axes, fronts)`` where
    ``fronts`` maps ``"omega"`` / ``"delta"`` to the front's points."""
    import matplotlib.pyplot as plt

    kinds = [("omega", r"variance constant $\omega$ of $\mathcal{U}(\omega)$"),
             ("delta", r"contraction constant $\delta$ of $\mathcal{B}^3(\delta)$")]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 5))
    names = sorted({p["name"] for p in points})
    markers = "osD^v<>pP*Xh"
    style = {n: (f"C{i % 10}", markers[i % len(markers)]) for i, n in enumerate(names)}
    fronts: dict[str, list[Mapping[str, Any]]] = {}
    for ax, (kind, ylabel) in zip(axes, kinds, strict=True):
        pts = [p for p in points if p["kind"] == kind]
        fronts[kind] = pareto_front(pts)
        for n in names:
            mine = [p for p in pts if p["name"] == n]
            if mine:
                color, marker = style[n]
                ax.scatter([p["bits_per_coord"] for p in mine], [p["value"] for p in mine],
                           color=color, marker=marker, s=36, alpha=0.85, label=n, zorder=3)
        if fronts[kind]:
            fx = [p["bits_per_coord"] for p in fronts[kind]]
            fy = [p["value"] for p in fronts[kind]]
            ax.step(fx, fy, where="post", color="k", lw=1.2, ls="--", zorder=2,
                    label="Pareto front")
            for i, p in enumerate(fronts[kind]):  # alternate sides so neighbours don't collide
                ax.annotate(setting_label(p), (p["bits_per_coord"], p["value"]),
                            textcoords="offset points", xytext=(6, 5 if i % 2 else -11),
                            fontsize=7)
        ax.set_xscale("log")
        values = [p["value"] for p in pts]
        symlog = any(v <= 0 for v in values)  # omega = 0 (no compression) on a log axis
        if symlog:
            pos = [v for v in values if v > 0]
            ax.set_yscale("symlog", linthresh=min(pos) if pos else 1.0)
        else:
            ax.set_yscale("log")
        if values:  # headroom for the labels
            ax.set_ylim(0 if symlog else min(values) / 2, max(values) * 8)
        ax.set_xlabel(f"bits per coordinate (message bits / d, d = {d:,})")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(f"{len(pts)} settings of {len({p['name'] for p in pts})} compressors",
                     fontsize="medium")
    handles, labels = {}, []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if handles:
        axes[0].figure.legend([handles[lab] for lab in labels], labels, fontsize="small",
                              loc="upper center", bbox_to_anchor=(0.5, 0.0),
                              ncol=min(len(labels), 6), frameon=False)
    return axes, fronts


# ----------------------------------------------------------------------------- certification
def tightness_rows(reports: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per claimed constant of each certification report (``compressor``, ``key``,
    ``tightness``, ``status``, ``worst_input``, ``worst_d``): the tightness is the
    certifier's implied/claimed (claimed/implied for a lower-bound constant such as alpha),
    1 when the bound is attained; None where it is undefined (unbiasedness, sign-type)."""
    rows = []
    for rep in reports:
        for c in rep.constants:
            rows.append({"compressor": rep.compressor, "key": c.key, "tightness": c.tightness,
                         "status": c.status, "worst_input": c.worst_input,
                         "worst_d": c.worst_d})
    return rows


def tightness_rows_from_verdicts(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """Tightness rows from the catalog certification claims (``compressors.<name>``): their
    ``series`` lists per (setting, constant) the tightness and the status. Same keys as
    :func:`tightness_rows`, with ``worst_input`` replaced by ``setting``."""
    rows = []
    for v in verdicts:
        s = v.series or {}
        if not all(k in s for k in ("constant", "tightness", "status")):
            continue
        name = v.claim_id.split(".", 1)[-1]
        settings = s.get("setting") or [""] * len(s["constant"])
        for setting, key, tight, status in zip(settings, s["constant"], s["tightness"],
                                               s["status"], strict=True):
            rows.append({"compressor": name, "key": key, "tightness": tight,
                         "status": status, "setting": setting})
    return rows


def plot_tightness(rows: Sequence[Mapping[str, Any]], *, ax: Any = None) -> tuple[Any, list]:
    """One line per compressor, one marker per certified constant at its tightness
    (implied/claimed at the worst input; claimed/implied for the lower-bound constants
    alpha and gamma): filled markers for the claimed bound, open ones for the reverse test
    where the constant is claimed attained (``KEY.attained``); a red ring marks a constant
    that is not *holds*. A dashed line at 1 = attained. Rows without a tightness
    (unbiasedness, sign-type tests) are not drawn. Returns ``(ax, rows drawn)``."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    drawn = [r for r in rows if _number(r.get("tightness")) is not None]
    names = list(dict.fromkeys(r["compressor"] for r in drawn))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.0 + 0.32 * max(len(names), 1)))
    ypos = {n: len(names) - 1 - i for i, n in enumerate(names)}
    consts = sorted({r["key"].split(".")[1] if "." in r["key"] else r["key"] for r in drawn})
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan",
               "tab:olive", "tab:pink", "tab:gray")  # no red: red rings mark failures
    color = {c: palette[i % len(palette)] for i, c in enumerate(consts)}
    for r in drawn:
        parts = r["key"].split(".")
        const = parts[1] if len(parts) > 1 else r["key"]
        attained = r["key"].endswith(".attained")
        y = ypos[r["compressor"]] + (0.18 if attained else -0.0)
        ax.plot([r["tightness"]], [y], "o", ms=6, alpha=0.8,
                markerfacecolor="none" if attained else color[const],
                markeredgecolor=color[const], zorder=3)
        if r["status"] != "holds":
            ax.plot([r["tightness"]], [y], "o", ms=11, markerfacecolor="none",
                    markeredgecolor="tab:red", zorder=4)
    ax.set_yticks([ypos[n] for n in names], names, fontsize=8)
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_xlabel("tightness: implied constant at the worst input / claimed constant "
                  "(1 = attained)")
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", ls="", color=color[c], label=c) for c in consts]
    handles += [Line2D([], [], marker="o", ls="", markerfacecolor="none", color="0.3",
                       label="reverse test where claimed attained"),
                Line2D([], [], marker="o", ls="", markerfacecolor="none", ms=10,
                       color="tab:red", label="not holds")]
    ax.legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax, drawn


# ----------------------------------------------------------------------------- verdicts
def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def verdict_ratios(verdicts: Iterable[Verdict]) -> tuple[list[dict[str, Any]], list[str]]:
    """measured / predicted per verdict with the interval divided by the prediction, and
    for each mutant measured / (the mutant's prediction). Verdicts whose prediction or
    measurement is not a non-zero finite number are returned by id in the second list."""
    rows, left_out = [], []
    for v in verdicts:
        pred, meas = _number(v.predicted), _number(v.measured)
        if pred is None or meas is None or pred == 0:
            left_out.append(v.claim_id)
            continue
        lo = hi = None
        iv = v.interval
        if isinstance(iv, Sequence) and len(iv) == 2 and all(_number(e) is not None for e in iv):
            lo, hi = sorted((float(iv[0]) / pred, float(iv[1]) / pred))
        muts = []
        for m in v.mutants or []:
            get = m.get if isinstance(m, Mapping) else functools.partial(getattr, m)
            mp, st = _number(get("predicted", None)), get("status", None)
            muts.append({"ratio": meas / mp if mp else None, "status": str(st)})
        rows.append({"claim": v.claim_id, "status": v.status.value, "ratio": meas / pred,
                     "lo": lo, "hi": hi, "mutants": muts})
    return rows, left_out


def plot_verdict_ratios(verdicts: Iterable[Verdict], *, ax: Any = None, title: str = ""
                        ) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """Predicted against measured per claim, normalised: a dot at measured/predicted with
    the claim's interval divided by the prediction, coloured by verdict, a line at 1; each
    mutant as a grey cross at measured/(its prediction) and "k/n killed" at the right.
    Log scale when every ratio is positive. Returns ``(ax, rows drawn, ids left out)``."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows, left_out = verdict_ratios(verdicts)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.9 + 0.3 * max(len(rows), 1)))
    ypos = list(range(len(rows)))[::-1]
    xs_all: list[float] = []
    for y, r in zip(ypos, rows, strict=True):
        color = STATUS_COLORS.get(r["status"], "grey")
        if r["lo"] is not None:
            ax.plot([r["lo"], r["hi"]], [y, y], color=color, lw=2.5, alpha=0.5)
            xs_all += [r["lo"], r["hi"]]
        ax.plot([r["ratio"]], [y], "o", color=color, ms=5, zorder=3)
        xs_all.append(r["ratio"])
        mx = [m["ratio"] for m in r["mutants"] if m["ratio"] is not None]
        ax.plot(mx, [y] * len(mx), "x", color="0.45", ms=5)
        xs_all += mx
        if r["mutants"]:
            killed = sum(m["status"] == "killed" for m in r["mutants"])
            ax.annotate(f"{killed}/{len(r['mutants'])} killed", (1.0, y),
                        xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7,
                        color="tab:green" if killed == len(r["mutants"]) else "tab:red")
    ax.set_yticks(ypos, [r["claim"] for r in rows], fontsize=8)
    ax.axvline(1.0, color="k", ls="--", lw=1)
    if xs_all and all(x > 0 for x in xs_all):
        ax.set_xscale("log")
    ax.set_xlabel("measured / predicted (bar: the claim's interval / predicted; "
                  "1 = the prediction)")
    statuses = sorted({r["status"] for r in rows})
    handles = [Line2D([], [], marker="o", ls="", color=STATUS_COLORS.get(s, "grey"), label=s)
               for s in statuses]
    if any(r["mutants"] for r in rows):
        handles.append(Line2D([], [], marker="x", ls="", color="0.45",
                              label="measured / a mutant's prediction"))
    ax.legend(handles=handles, fontsize="x-small", loc="best")
    if title:
        ax.set_title(title)
    return ax, rows, left_out
