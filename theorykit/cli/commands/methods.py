"""``theorykit methods``: the method registry (name, title, paper, stateful, has SDE).

Examples::

    theorykit methods
    theorykit methods --json

Any listed name (or a user's ``module.path:Object``) works as ``--method`` in ``theorykit
derive`` (methods with an SDE) and in the simulator and trainer.
"""

from __future__ import annotations

import argparse

from theorykit.cli.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("methods", help="list the registered distributed methods",
                       description="List the registered methods: name, title, paper, whether "
                       "they keep state between steps and whether an SDE is known.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from theorykit.methods.registry import describe_all

    rows = describe_all()
    if args.json:
        print_json(rows)
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="theorykit methods")
    for col in ("name", "title", "paper", "stateful", "SDE"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], escape(r["title"]), escape(r["paper"]),
                      "yes" if r["stateful"] else "no", "yes" if r["has_sde"] else "no")
    Console().print(table)
    return 0
