"""What CLI commands share: a subcommand's help read from its module docstring
(:func:`add_command`), the option groups (method and compressor, noise law, ``-p
KEY=VALUE``), building a compressor and a noise model from them, a parameter's description
and JSON output.

Each group is added by one function here, so ``derive``, ``rules``, ``check rule`` and
``check bound`` spell ``--method``/``--vote``/``--compressor``/``-p`` and
``--noise``/``--nu``/``--alpha``/``--sigma`` the same way. Methods are not listed as argparse
choices: ``--method`` takes any name of the method registry (``theorykit methods``) or a
user's ``module.path:Object``, resolved when the command runs.

``-p KEY=VALUE`` sets a parameter of the compressor; ``-p noise.KEY=VALUE`` one of the noise
law, checked against the parameters the law declares (``theorykit noise`` lists them);
``--nu``, ``--alpha`` and ``--sigma`` are shorthands for ``-p noise.nu``, ``-p noise.alpha``
and the law's scale (``-p noise.sigma`` for the Gaussian, ``-p noise.scale`` otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from theorykit.errors import InputError

if TYPE_CHECKING:
    from theorykit.compressors.base import Param

NOISE_LAWS = ("gaussian", "student-t", "laplace", "lomax")
"""The noise laws the CLI names in its help (any other law of the distributions package is
accepted too, see :func:`theorykit.noise.make_noise`)."""
NOISE_PREFIX = "noise."
"""``-p noise.KEY=VALUE`` sets the noise law's parameter KEY; unprefixed keys belong to the
compressor."""
NOISE_PRESETS: dict[str, dict[str, Any]] = {"cauchy": {"nu": 1}}
"""Noise names that fix a parameter of their law: ``cauchy`` is Student-t with nu = 1."""
_SHORTHANDS = (("--nu", "nu"), ("--alpha", "noise_alpha"), ("--sigma", "sigma"))
"""The noise shorthand flags and their ``argparse`` destinations (``--sigma`` stands for the
law's scale parameter, whatever its name)."""


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
                   help="a parameter value (repeatable), e.g. -p k=10 -p d=100; "
                   f"{NOISE_PREFIX}KEY=VALUE sets a parameter of the noise law (if the "
                   "command takes --noise), e.g. -p noise.nu=3")


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
    """``--noise`` (one of ``laws``, default gaussian) and the shorthands of its parameters:
    ``--nu`` (Student-t), ``--alpha`` (Lomax tail index, if ``lomax`` is in ``laws``; stored
    as ``noise_alpha``) and ``--sigma`` (the scale, if ``sigma``). Every parameter the law
    declares is also taken as ``-p noise.KEY=VALUE`` (:func:`noise_choice`).

    ``symbolic``: an omitted parameter stays a SymPy symbol (``derive``, ``rules``);
    otherwise it must be a number and the scale defaults to 1. ``per_worker``: ``--sigma``
    takes one scale per worker, comma-separated."""
    default = " (default: symbolic {})" if symbolic else " (a number)"
    p.add_argument("--noise", default="gaussian",
                   help=f"noise law: {', '.join(laws)} (default gaussian; list them and "
                   "their parameters with 'theorykit noise')")
    p.add_argument("--nu", help="Student-t degrees of freedom" + default.format("nu")
                   + "; same as -p noise.nu=NU")
    if "lomax" in laws:
        p.add_argument("--alpha", dest="noise_alpha", help="Lomax (Pareto II) tail index"
                       + default.format("alpha") + "; same as -p noise.alpha=ALPHA")
    if sigma:
        p.add_argument("--sigma", metavar="S[,S2,...]" if per_worker else "S",
                       help="noise scale (Gaussian std, else the law's scale)"
                       + ("; one per worker, comma-separated" if per_worker else "")
                       + (" (default: symbolic)" if symbolic else " (default 1)")
                       + "; same as -p noise.sigma=S (Gaussian) or -p noise.scale=S")


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
    the default dimension; ``-p noise.KEY`` items are the noise law's and skipped):
    ``None`` if no name, the string itself for a generic ``omega`` (symbolic U(omega)),
    else an instance of the resolved class."""
    from theorykit.compressors.registry import resolve

    params = parse_params(items)
    if flag == "-p":  # -p noise.KEY=VALUE belongs to the noise law (noise_choice)
        params = {k: v for k, v in params.items() if not k.startswith(NOISE_PREFIX)}
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


@dataclass(frozen=True)
class NoiseChoice:
    """The noise law a command was given and its parameters as typed.

    ``name``: ``--noise`` as typed (lower case unless ``module:Object``); ``key``: the name
    :func:`~theorykit.noise.make_noise` takes; ``params``: the parameters the law declares
    (:func:`noise_law`); ``scale``: the name of its scale parameter; ``given``: the values
    typed, by parameter; ``flags``: how each was given (``--nu`` or ``-p noise.nu``)."""

    name: str
    key: str
    params: tuple[Param, ...]
    scale: str
    given: dict[str, str]
    flags: dict[str, str]

    @property
    def registered(self) -> bool:
        """Whether the law is one of :data:`theorykit.noise.NOISE_MODELS` (gaussian,
        student-t, laplace, lomax), whose omitted scale defaults to 1 (or a symbol)."""
        from theorykit.noise import NOISE_MODELS

        return self.key in NOISE_MODELS

    def value(self, name: str) -> Any:
        """The typed value of parameter ``name`` as the noise model takes it: the scale one
        number or one per worker (comma-separated), a float parameter a number, a text
        parameter (``custom``'s ``pdf``) as typed."""
        text = self.given[name]
        if name == self.scale:
            return _scales(self.flags[name], text)
        kind = next(p.kind for p in self.params if p.name == name)
        return to_number(name, text) if kind is float else text


def noise_law(name: str) -> tuple[str, tuple[Param, ...], str]:
    """A noise law as the CLI takes it: the name :func:`~theorykit.noise.make_noise` takes
    (the registry key, or ``module:Object``), the parameters it declares and the name of its
    scale parameter.

    The parameters are the :class:`~theorykit.compressors.base.Param` tuple of the law's
    :class:`~theorykit.distributions.SymmetricLaw` (``sigma`` for the Gaussian; shape
    parameters such as ``nu`` and ``alpha``, then ``scale``); a law without a scale of its own
    (``custom``) gets the noise scale ``scale`` of :class:`~theorykit.noise.LawNoise`. An
    unknown name is the one-line error of ``make_noise``; ``pareto`` is refused with a
    pointer to ``lomax``."""
    from theorykit.distributions import catalog, resolve, scale_parameter
    from theorykit.noise import NOISE_MODELS, NOISE_REGISTRY, make_noise

    key = NOISE_REGISTRY.key(name)
    if key == "pareto":
        raise InputError("--noise pareto is not a noise law here: the symmetric Pareto II "
                         "law is --noise lomax (with --alpha)")
    if ":" in name:
        key, law = name, resolve(name)
    elif key in NOISE_MODELS:
        law = resolve(key)
    elif key in catalog():
        law = catalog()[key]
    else:
        make_noise(name)  # raises the one-line error naming the known noise laws
        raise InputError(f"unknown noise law {name!r}")  # pragma: no cover
    params = tuple(law.params)
    if law.scale_param is None:
        params += (scale_parameter("noise scale (the law has unit scale)"),)
    return key, params, law.scale_param or "scale"


def noise_choice(args: argparse.Namespace) -> NoiseChoice:
    """The law of ``--noise`` and its parameters from the shorthands (``--nu``, ``--alpha``,
    ``--sigma``) and ``-p noise.KEY=VALUE``: a key the law does not declare is a one-line
    error naming its parameters, and so is one parameter given both ways. A shorthand the
    law does not take is ignored (``--nu`` with the Gaussian)."""
    name = args.noise if ":" in args.noise else args.noise.lower()
    key, params, scale = noise_law(name)
    declared = [p.name for p in params]
    given: dict[str, str] = {}
    flags: dict[str, str] = {}
    for k, v in parse_params(getattr(args, "param", [])).items():
        if not k.startswith(NOISE_PREFIX):
            continue
        k = k[len(NOISE_PREFIX):]
        if k not in declared:
            raise InputError(f"-p {NOISE_PREFIX}{k}: the noise law {key} has no parameter "
                             f"{k!r}; its parameters: {', '.join(declared)}")
        given[k], flags[k] = v, f"-p {NOISE_PREFIX}{k}"
    for flag, dest in _SHORTHANDS:
        k = scale if flag == "--sigma" else flag[2:]
        v = getattr(args, dest, None)
        if v is None or k not in declared:
            continue
        if k in given:
            raise InputError(f"{flag} and {flags[k]} both give the noise parameter {k}; "
                             "give one")
        given[k], flags[k] = v, flag
    return NoiseChoice(name, key, params, scale, given, flags)


def _scales(flag: str, value: str) -> Any:
    """A noise scale: one number, or one per worker (comma-separated)."""
    from theorykit.limits import MAX_WORKERS, check_count

    parts = [s for s in value.split(",") if s.strip()]
    if not parts:
        raise InputError(f"{flag} must be a number or a comma-separated list, got {value!r}")
    check_count(f"number of {flag} values", len(parts), MAX_WORKERS, "one per worker")
    nums = [to_number(flag.removeprefix("--").removeprefix(f"-p {NOISE_PREFIX}"), s)
            for s in parts]
    return nums[0] if len(nums) == 1 else nums


def build_noise(args: argparse.Namespace, *, symbolic: bool = True) -> Any:
    """The noise model of ``--noise`` and its parameters (:func:`noise_choice`).

    An omitted shape parameter (nu, alpha) stays a symbol with ``symbolic``, else it is an
    error; an omitted scale of gaussian, student-t, laplace or lomax is the symbol
    ``sigma`` (Gaussian) or ``s`` with ``symbolic``, else 1; a preset
    (:data:`NOISE_PRESETS`: ``cauchy`` is Student-t with nu = 1) applies unless the
    parameter is given."""
    from theorykit.noise import make_noise

    choice = noise_choice(args)
    values: dict[str, Any] = {}
    for p in choice.params:
        if p.name in choice.given:
            values[p.name] = choice.value(p.name)
        elif p.name == choice.scale and choice.registered:
            values[p.name] = ("sigma" if p.name == "sigma" else "s") if symbolic else 1.0
        elif p.name in NOISE_PRESETS.get(choice.name, {}):
            values[p.name] = NOISE_PRESETS[choice.name][p.name]
        elif p.required and symbolic and p.kind is float:
            values[p.name] = p.name
        elif p.required:
            flag = next((f for f, dest in _SHORTHANDS if f[2:] == p.name
                         and hasattr(args, dest)), None)
            how = f"{flag} (or -p {NOISE_PREFIX}{p.name}=VALUE)" if flag \
                else f"-p {NOISE_PREFIX}{p.name}=VALUE"
            raise InputError(f"--noise {choice.name} needs {how}")
    return make_noise(choice.key, **values)


def param_domain(p: Param) -> str:
    """A declared parameter's bounds, e.g. ``> 0`` or ``>= 1, <= 16`` (empty if none)."""
    parts = []
    if p.minimum is not None:
        parts.append(f"{'>=' if p.minimum_inclusive else '>'} {p.minimum:g}")
    if p.maximum is not None:
        parts.append(f"{'<=' if p.maximum_inclusive else '<'} {p.maximum:g}")
    return ", ".join(parts)


def param_text(p: Param) -> str:
    """A declared parameter in one line: ``name: type (domain) = default``."""
    domain = param_domain(p)
    out = f"{p.name}: {p.kind.__name__}" + (f" ({domain})" if domain else "")
    return out + (f" = {p.default}" if p.default is not None else "")


def param_json(p: Param) -> dict[str, Any]:
    """A declared parameter as JSON: name, type, meaning, default and domain."""
    return {"name": p.name, "type": p.kind.__name__, "description": p.description,
            "default": p.default, "domain": param_domain(p), "minimum": p.minimum,
            "minimum_inclusive": p.minimum_inclusive, "maximum": p.maximum,
            "maximum_inclusive": p.maximum_inclusive, "required": p.required}


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
