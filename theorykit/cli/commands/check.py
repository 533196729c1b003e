"""``theorykit check``: check a user's own scaling rule or bound against simulation.

Subcommands live in :mod:`theorykit.cli.check` (one module each, exposing
``register(subparsers)``), so adding one never edits this file::

    theorykit check rule  --method dcsgd --compressor randk -p k=2 -p d=8 --kappa alpha --alpha 2
    theorykit check bound --method dcsgd --compressor bernoulli -p p=0.5 --bound '...'

Formulas go through the safe parser (:mod:`theorykit.expr`); nothing typed is executed.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register(sub: argparse._SubParsersAction) -> None:
    import theorykit.cli.check as pkg

    p = sub.add_parser("check", help="check your own scaling rule or bound against simulation",
                       description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    inner = p.add_subparsers(dest="check_command", metavar="WHAT")
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}").register(inner)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
