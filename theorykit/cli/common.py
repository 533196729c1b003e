"""What CLI commands share: a subcommand's help read from its module docstring
(:func:`add_command`), the option groups (method and compressor, noise law, ``-p
KEY=VALUE``), building a compressor and a noise model from them, and JSON output.

Each group is added by one function here, so ``derive``, ``rules``, ``check rule`` and
``check bound`` spell ``--method``/``--vote``/``--compressor``/``-p`` and
``--noise``/``--nu``/``--alpha``/``--sigma`` the same way. Methods are not listed as argparse
choices: ``--method`` takes any name of the method registry (``theorykit methods``) or a
user's ``module.path:Object``, resolved when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from theorykit.errors import InputError

NOISE_LAWS = ("gaussian", "student-t", "laplace", "lomax")
"""The noise laws the CLI names in its help (any other law of the distributions package is
accepted too, see :func:`theorykit.noise.make_noise`)."""
GAUSSIAN_NAMES = ("gaussian", "normal")
STUDENT_T_NAMES = ("student-t", "t", "studentt", "student_t")
"""Spellings of the Student-t law (``cauchy`` is Student-t with nu = 1)."""


def add_command(sub: argparse._SubParsersAction, name: str, doc: str | None
                ) -> argparse.ArgumentParser:
    """The subcommand ``name``, its help read from its module docstring ``doc``: the first
    paragraph ("theorykit NAME: what it does.") gives the one-line help, the second the
    description of ``--help``."""
    paras = [" ".join(par.split()) for par in (doc or name).split("\n\n")]
    return sub.add_parser(name, help=paras[0].split(": ", 1)[-1].rstrip("."),
                          description=paras[1] if len(paras) > 1 else None)


def add_params_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value (repeatable), e.g. -p k=10 -p d=100")


def add_method_options(p: argparse.ArgumentParser, *, vote: bool = True,
                       generic_omega: bool = False) -> None:
    """``--method`` (required), ``--vote`` (DSignSGD aggregation, if ``vote``),
    ``--compressor`` (``generic_omega``: also the symbolic ``omega``) and ``-p``."""
    p.add_argument("--method", required=True, metavar="NAME",
                   help="the distributed method: a registered name (list them with "
                   "'theorykit methods') or module.path:Object")
    if vote:
        p.add_argument("--vote", choices=("mean", "majority"), default="mean",
                       help="DSignSGD aggregation (default: mean of signs)")
    p.add_argument("--compressor", metavar="NAME",
                   help="compressor for a method that takes one (dcsgd): a catalog name"
                   + (", module.path:Object, or 'omega' for a generic unbiased U(omega)"
                      if generic_omega else " or module.path:Object"))
    add_params_option(p)


def add_noise_options(p: argparse.ArgumentParser, laws: tuple[str, ...] = NOISE_LAWS, *,
                      symbolic: bool = False, sigma: bool = True,
                      per_worker: bool = True) -> None:
    """``--noise`` (one of ``laws``, default gaussian), ``--nu`` (Student-t), ``--alpha``
    (Lomax tail index, if ``lomax`` is in ``laws``) and ``--sigma`` (if ``sigma``).

    ``symbolic``: an omitted parameter stays a SymPy symbol (``derive``, ``rules``);
    otherwise it must be a number and the scale defaults to 1. ``per_worker``: ``--sigma``
    takes one scale per worker, comma-separated."""
    default = " (default: symbolic {})" if symbolic else " (a number)"
    p.add_argument("--noise", default="gaussian",
                   help=f"noise law: {', '.join(laws)} (default gaussian)")
    p.add_argument("--nu", help="Student-t degrees of freedom" + default.format("nu"))
    if "lomax" in laws:
        p.add_argument("--alpha", help="Lomax (Pareto II) tail index"
                       + default.format("alpha"))
    if sigma:
        p.add_argument("--sigma", default=None if symbolic else "1",
                       metavar="S[,S2,...]" if per_worker else "S",
                       help="noise scale (Gaussian std, else the law's scale)"
                       + ("; one per worker, comma-separated" if per_worker else "")
                       + (" (default: symbolic)" if symbolic else " (default 1)"))


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


def build_compressor(name: str | None, items: list[str], flag: str = "-p",
                     d: int | None = None) -> Any:
    """The compressor of ``--compressor NAME`` with its ``flag`` parameters (``d`` is
    the default dimension): ``None`` if no name, the string itself for a generic
    ``omega`` (symbolic U(omega)), else an instance of the resolved class."""
    from theorykit.compressors.registry import resolve

    params = parse_params(items)
    if name is None:
        if params:
            raise InputError(f"{flag} parameters given but no compressor")
        return None
    if name.startswith("omega"):
        if params:
            raise InputError(f"a generic U(omega) compressor takes no {flag} parameters")
        return name
    cls = resolve(name)
    if d is not None:
        params.setdefault("d", d)
    try:
        return cls(**params)
    except TypeError as exc:  # a user class with an unusual constructor
        raise InputError(f"cannot build compressor {name!r}: {exc}") from None


def _scales(value: str | None, default: str) -> Any:
    """``--sigma``: one number, one per worker (comma-separated), or the symbol ``default``."""
    from theorykit.limits import MAX_WORKERS, check_count

    if value is None:
        return default
    parts = [s for s in value.split(",") if s.strip()]
    if not parts:
        raise InputError(f"--sigma must be a number or a comma-separated list, got {value!r}")
    check_count("number of --sigma values", len(parts), MAX_WORKERS, "one per worker")
    nums = [to_number("sigma", s) for s in parts]
    return nums[0] if len(nums) == 1 else nums


def build_noise(args: argparse.Namespace, *, symbolic: bool = True) -> Any:
    """The noise model of ``--noise``/``--nu``/``--alpha``/``--sigma``. With ``symbolic``
    an omitted nu or alpha stays a symbol; without, it is an error. ``--noise pareto`` is
    refused: the symmetric heavy-tailed law of the CLI is the Lomax (Pareto II) law."""
    from theorykit.noise import make_noise

    name = args.noise.lower()
    nu, alpha = args.nu, getattr(args, "alpha", None)
    if name == "pareto":
        raise InputError("--noise pareto is not a noise law here: the symmetric Pareto II "
                         "law is --noise lomax (with --alpha)")
    if not symbolic and nu is None and name in STUDENT_T_NAMES:
        raise InputError("--noise student-t needs --nu")
    if not symbolic and alpha is None and name == "lomax":
        raise InputError("--noise lomax needs --alpha")
    if name in GAUSSIAN_NAMES:
        return make_noise(name, sigma=_scales(args.sigma, "sigma"))
    if name in (*STUDENT_T_NAMES, "cauchy"):
        nu = to_number("nu", nu) if nu is not None else 1 if name == "cauchy" else "nu"
        return make_noise("student-t", nu=nu, scale=_scales(args.sigma, "s"))
    if name == "laplace":
        return make_noise(name, scale=_scales(args.sigma, "s"))
    if name == "lomax":
        alpha = to_number("alpha", alpha) if alpha is not None else "alpha"
        return make_noise("lomax", alpha=alpha, scale=_scales(args.sigma, "s"))
    return make_noise(name)  # raises InputError naming the known models


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
