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

import math
import numbers
from collections.abc import Mapping, Sequence
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
