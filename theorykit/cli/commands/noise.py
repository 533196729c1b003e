"""``theorykit noise``: the noise laws (name, aliases, title, reference, parameters).

List every noise law that ``--noise`` takes -- the models of :mod:`theorykit.noise`
(gaussian, student-t, laplace, lomax) and the other symmetric laws of
:mod:`theorykit.distributions` -- with the parameters each declares (name, type, domain,
default, meaning). Each parameter is set as ``-p noise.KEY=VALUE`` in ``derive``, ``rules``,
``check rule`` and ``check bound``.

Examples::

    theorykit noise
    theorykit noise --json
    theorykit derive --method dsgd --noise student-t -p noise.nu=5 -p noise.scale=0.5 -d 1
"""

from __future__ import annotations

import argparse
from typing import Any

from theorykit.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "noise", __doc__)
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def noise_laws() -> list[dict[str, Any]]:
    """Every noise law ``--noise`` takes, with its aliases and declared parameters
    (:func:`theorykit.cli.common.noise_law`). ``pareto`` (type I) is not a noise law (see
    :data:`theorykit.noise.registry.PARETO_REFUSED`) and is left out."""
    from theorykit.distributions import catalog, resolve
    from theorykit.distributions.registry import ALIASES
    from theorykit.noise import NOISE_MODELS, NOISE_REGISTRY

    model_laws = {resolve(name) for name in NOISE_MODELS}  # their base laws
    rows = []
    for name, model in NOISE_MODELS.items():
        rows.append(_row(name, model.title, model.reference,
                         [a for a, k in NOISE_REGISTRY.aliases.items() if k == name]))
    for name, law in catalog().items():
        if name == "pareto" or law in model_laws:
            continue
        rows.append(_row(name, law.title, law.reference,
                         [a for a, k in ALIASES.items() if k == name]))
    return rows


def _row(name: str, title: str, reference: str, aliases: list[str]) -> dict[str, Any]:
    _, params, scale = common.noise_law(name)
    return {"name": name, "aliases": aliases, "title": title, "reference": reference,
            "scale": scale,
            "presets": {a: common.NOISE_PRESETS[a] for a in aliases
                        if a in common.NOISE_PRESETS},
            "parameters": [common.param_json(p) for p in params]}


def run(args: argparse.Namespace) -> int:
    rows = noise_laws()
    if args.json:
        common.print_json(rows)
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="theorykit noise laws (set a parameter with -p noise.KEY=VALUE)",
                  show_lines=True)
    for col in ("name", "aliases", "title", "reference", "parameters"):
        table.add_column(col, overflow="fold")
    for r in rows:
        params = "\n".join(f"{common.param_text(p)} -- {p.description}"
                           for p in common.noise_law(r["name"])[1])
        aliases = [a + "".join(f" ({k} = {v})" for k, v in r["presets"].get(a, {}).items())
                   for a in r["aliases"]]
        table.add_row(r["name"], ", ".join(aliases) or "-", escape(r["title"]),
                      escape(r["reference"]), escape(params) or "-")
    Console().print(table)
    return 0
