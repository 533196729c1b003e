"""Helpers shared by CLI commands: ``-p KEY=VALUE`` parsing and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from theorykit.errors import InputError


def add_params_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value (repeatable), e.g. -p k=10 -p d=100")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["k=10", "d=100"]`` -> ``{"k": "10", "d": "100"}`` (values validated by the
    receiving object, which knows their types)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"parameter {item!r} is not of the form KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def to_number(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"parameter {key!r} must be a number, got {value!r}") from None


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
