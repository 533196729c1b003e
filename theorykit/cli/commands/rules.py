"""``theorykit rules``: scaling rules (learning rate vs workers, batch, compression), derived.

Derive the hyperparameter scaling rules eta -> kappa*eta, B -> delta*B, N -> alpha*N,
omega -> omega' that keep a method's SDE unchanged per sample seen (or, where that is
impossible, named quantities such as the stationary loss or the time scale), by solving the
invariance conditions with SymPy.

Examples::

    theorykit rules --method dsgd
    theorykit rules --method dcsgd --compressor bernoulli -p p=0.5
    theorykit rules --method dcsgd --compressor randk -p k=1 -p d=4 --alpha 4
    theorykit rules --method dcsgd --compressor examples.my_compressor:MyCompressor -p d=8
    theorykit rules --method dsgd --to-compressor bernoulli --to-param p=0.25
    theorykit rules --method dsignsgd --noise student-t --nu 3 --alpha 8 --delta 8
    theorykit rules --method dsignsgd --noise student-t -p noise.nu=3
    theorykit rules --method dsignsgd --json

Each rule is printed as an equation (kappa = learning-rate factor, alpha = worker-count
factor, delta = per-worker batch factor, omega' = the new compression constant) and in
words, with what it preserves and breaks (see :mod:`theorykit.rules.scaling`).
"""

from __future__ import annotations

import argparse
from typing import Any

from theorykit.cli import common
from theorykit.cli.common import print_json, to_number
from theorykit.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "rules", __doc__)
    common.add_method_options(p, vote=False, generic_omega=True)
    p.add_argument("--to-compressor", metavar="NAME",
                   help="the compressor after the change (omega -> omega'); with --method "
                   "dsgd: move from uncompressed DSGD to DCSGD")
    p.add_argument("--to-param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of --to-compressor (repeatable)")
    common.add_noise_options(p, ("gaussian", "student-t"), symbolic=True, sigma=False)
    p.add_argument("--alpha", help="worker-count factor: also print kappa as a number")
    p.add_argument("--delta", help="per-worker batch-size factor (default 1 with --alpha)")
    p.add_argument("--omega-new", metavar="W",
                   help="the new compression constant omega' for the numbers")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--latex", action="store_true", help="LaTeX equations only")
    p.set_defaults(func=run)


def _factor(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    v = to_number(name, value)
    if not v > 0 or v != v or v == float("inf"):
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _nu(args: argparse.Namespace) -> float | None:
    """Student-t nu (``--nu`` or ``-p noise.nu``); ``None``: symbolic. The rules do not
    depend on the noise scale, so ``-p noise.scale`` is refused."""
    choice = common.noise_choice(args)
    extra = sorted(set(choice.given) - {"nu"})
    if extra:
        raise InputError(f"the scaling rules do not depend on the noise {extra[0]}; drop "
                         f"{choice.flags[extra[0]]}")
    if "nu" not in choice.given:
        return None
    nu = to_number("nu", choice.given["nu"])
    if not nu > 0:
        raise InputError(f"nu must be > 0, got {choice.given['nu']!r}")
    return nu


def run(args: argparse.Namespace) -> int:
    from theorykit.methods.registry import resolve
    from theorykit.rules.scaling import derive_rules

    method = resolve(args.method).name  # a registered name or module:Object
    if method not in ("dsgd", "dcsgd", "dsignsgd"):
        raise InputError(f"no scaling rules are derived for {method}; rules know dsgd, "
                         "dcsgd, dsignsgd")
    comp = common.build_compressor(args.compressor, args.param)
    target = common.build_compressor(args.to_compressor, args.to_param, "--to-param")
    rules = derive_rules(method, comp, args.noise, to_compressor=target, nu=_nu(args))

    alpha = _factor("--alpha", args.alpha)
    delta = _factor("--delta", args.delta)
    omega_new = None if args.omega_new is None else to_number("--omega-new", args.omega_new)
    if omega_new is not None and omega_new < 0:
        raise InputError(f"--omega-new must be >= 0, got {args.omega_new!r}")
    numbers = alpha is not None or delta is not None or omega_new is not None

    def number(r: Any) -> dict[str, Any]:
        try:
            return {"kappa": r.kappa_value(alpha or 1.0, delta or 1.0, omega_new)}
        except InputError as exc:
            return {"not_applicable": str(exc)}

    if args.json:
        out = []
        for r in rules:
            d = r.to_json()
            if numbers:
                d["at"] = {"alpha": alpha or 1.0, "delta": delta or 1.0, "omega'": omega_new,
                           **number(r)}
            out.append(d)
        print_json(out)
        return 0
    if args.latex:
        for r in rules:
            print(f"% [{r.kind}] {r.name}")
            print(r.latex())
        return 0
    print(f"Scaling rules for {method} (eta -> kappa*eta, B -> delta*B, N -> alpha*N, "
          "omega -> omega')")
    print(f"time variable: {rules[0].time_variable}")
    for r in rules:
        print()
        print(r.pretty())
        if numbers:
            n = number(r)
            at = f"alpha = {alpha or 1.0:g}, delta = {delta or 1.0:g}" + (
                f", omega' = {omega_new:g}" if omega_new is not None else "")
            if "kappa" in n:
                print(f"  at {at}: kappa = {n['kappa']:.6g}")
            else:
                print(f"  at {at}: not applicable ({n['not_applicable']})")
    return 0
