"""The ``theorykit`` command line.

Each subcommand lives in its own module of :mod:`theorykit.cli.commands` and exposes
``register(subparsers)``; modules are discovered, so adding a command never edits this
file. Every failure the user can cause prints one line ``theorykit: error: ...`` and exits
with status 2; a contradicted claim in ``verify`` exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from theorykit.errors import TheorykitError


def build_parser() -> argparse.ArgumentParser:
    import theorykit.cli.commands as pkg

    parser = argparse.ArgumentParser(
        prog="theorykit",
        description="Derive, simulate and falsify the theory of compressed distributed "
        "optimization.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{pkg.__name__}.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TheorykitError as exc:
        print(f"theorykit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("theorykit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly, like coreutils
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
