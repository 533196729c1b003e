"""``theorykit check rule``: check a learning-rate scaling rule against simulation.

Simulate the base configuration (eta, N, B) and the scaled one (kappa*eta, alpha*N, delta*B)
with the real discrete optimizer and say whether their loss curves against samples seen
coincide (holds, exit 0), differ (contradicted, exit 1) or cannot be told apart at this
sample size (inconclusive, exit 1): does YOUR rule keep training unchanged?

Examples::

    theorykit check rule --method dsgd --kappa 'alpha*delta' --alpha 2 --delta 2
    theorykit check rule --method dcsgd --compressor bernoulli -p p=0.125 --kappa alpha --alpha 4
    theorykit check rule --method dsignsgd --kappa 'alpha*sqrt(delta)' --delta 4
    theorykit check rule --method dsignsgd --noise student-t --nu 3 --kappa 'alpha*sqrt(delta)' \\
        --delta 4 --json

The base configuration (η, N workers, per-worker batch B) and the scaled one (κη, αN, δB)
are run with the real discrete optimizer on a quadratic, and their loss curves against
samples seen are compared with the statistic of the ``scaling.*`` claims
(:mod:`theorykit.check.rule_check`): the excess of |Δ E f| over both runs' own
discretisation errors, in standard errors, against a Bonferroni z. Exit status: 0 *holds*,
1 *contradicted* or *inconclusive*, 2 bad input. ``--kappa`` is parsed by
:func:`theorykit.expr.parse_expr` with the symbols alpha, delta (and, for dcsgd, omega and
omega_new = omega); nothing typed is executed.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import sympy as sp

from theorykit.cli import common, values
from theorykit.cli.common import print_json
from theorykit.errors import InputError
from theorykit.symbols import BATCH_FACTOR, OMEGA, OMEGA_NEW, WORKER_FACTOR

METHODS = ("dsgd", "dcsgd", "dsignsgd")
"""Registered methods with derived scaling rules (:mod:`theorykit.rules.scaling`)."""
MAX_REPLICAS = 200_000
MAX_STEPS = 100_000
MAX_WORKERS = 4096
KAPPA_SYMBOLS: dict[str, sp.Symbol] = {"alpha": WORKER_FACTOR, "delta": BATCH_FACTOR,
                                       "omega": OMEGA, "omega_new": OMEGA_NEW}
"""The names ``--kappa`` may use and the shared symbols they stand for
(:mod:`theorykit.symbols`; ``omega_new`` is omega' = omega, the compressor is unchanged)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "rule", __doc__)
    common.add_method_options(p, vote=False)
    common.add_noise_options(p, ("gaussian", "student-t"), per_worker=False)
    p.add_argument("--kappa", required=True, metavar="EXPR",
                   help="the learning-rate factor, e.g. 'alpha*delta', 'alpha*sqrt(delta)', "
                   "'alpha' (symbols: alpha, delta; dcsgd also omega, omega_new)")
    p.add_argument("--alpha", default="1", help="worker-count factor (default 1)")
    p.add_argument("--delta", default="1", help="per-worker batch factor (default 1)")
    p.add_argument("--problem", default="quadratic", choices=["quadratic"],
                   help="the problem: f = 1/2 sum_j lambda_j x_j^2 (the only one for now)")
    p.add_argument("--eigs", help="curvatures lambda_j, comma-separated (default 1,0.5; "
                   "with a compressor of dimension d: d values from 1 down to 0.5)")
    p.add_argument("--x0", help="start, comma-separated (default all ones; dsignsgd: the "
                   "minimum, where its Phase-3 rule applies)")
    p.add_argument("--eta", default="0.02", help="base learning rate (default 0.02)")
    p.add_argument("--workers", default=None,
                   help="base number of workers N (default 1; dsignsgd 2)")
    p.add_argument("--batch", default="1", help="base per-worker batch B (default 1)")
    p.add_argument("--steps", default="256",
                   help="base steps; samples seen = steps*N*B (default 256)")
    p.add_argument("--checkpoints", default="16", help="checkpoints (default 16)")
    p.add_argument("--replicas", default="4000",
                   help="independent runs per configuration (default 4000)")
    p.add_argument("--seed", default="20251", help="seed (default 20251)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def kappa_value(text: str, values: dict[str, float]) -> tuple[sp.Expr, float]:
    """Parse ``--kappa`` (safe parser, the names in ``values`` only) and evaluate it."""
    from theorykit.expr import parse_expr

    syms = {k: KAPPA_SYMBOLS[k] for k in values}
    expr = parse_expr(text, syms, what="--kappa")
    try:
        val = expr.xreplace({syms[k]: sp.Float(v) for k, v in values.items()})
        num = complex(sp.N(val, 30))
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        raise InputError(f"--kappa {text!r} does not evaluate to a number ({exc})") from None
    if num.imag != 0 or not math.isfinite(num.real) or num.real <= 0:
        raise InputError(f"--kappa {text!r} = {num:g} here; it must be a positive finite "
                         "real number")
    return expr, num.real


def _as_typed(expr: sp.Expr) -> str:
    """``expr`` printed with the names ``--kappa`` accepts (``omega_new``, not omega')."""
    return sp.sstr(expr.xreplace({s: sp.Symbol(name) for name, s in KAPPA_SYMBOLS.items()
                                  if s.name != name}))


def _noise(args: argparse.Namespace) -> Any:
    """Gaussian or Student-t noise with numeric parameters, one positive scale (``--alpha``
    here is the worker-count factor, never a noise parameter)."""
    from theorykit.noise import NOISE_REGISTRY

    if NOISE_REGISTRY.key(args.noise) not in ("gaussian", "student-t") \
            or args.noise.lower() == "cauchy":
        raise InputError(f"--noise must be gaussian or student-t, got {args.noise!r}")
    choice = common.noise_choice(args)
    if choice.scale in choice.given:
        values.positive(choice.flags[choice.scale], choice.given[choice.scale])
    if "nu" in choice.given:
        values.positive(choice.flags["nu"], choice.given["nu"])
    return common.build_noise(args, symbolic=False)


def run(args: argparse.Namespace) -> int:
    from theorykit.check.rule_check import Config, Setup, check_rule, plan, scaled_config
    from theorykit.methods import make_method
    from theorykit.methods.registry import resolve

    method = resolve(args.method).name  # a registered name or module:Object
    if method not in METHODS:
        raise InputError(f"check rule needs a method with derived scaling rules "
                         f"({', '.join(METHODS)}), not {method}")
    comp = common.build_compressor(args.compressor, args.param)
    if method == "dcsgd" and comp is None:
        raise InputError("--method dcsgd needs --compressor")
    if method != "dcsgd" and comp is not None:
        raise InputError(f"--compressor applies to dcsgd only, not {method}")
    if isinstance(comp, str):
        raise InputError("check rule simulates: give a concrete compressor, not a generic "
                         "U(omega)")
    noise = _noise(args)
    factors = {"alpha": values.positive("--alpha", args.alpha),
               "delta": values.positive("--delta", args.delta)}
    omega = None
    if comp is not None:
        try:
            omega = float(sp.sympify(comp.omega()).subs(comp.substitutions()))
        except (TypeError, ValueError) as exc:
            raise InputError(f"the compressor's omega is not a number: {exc}") from None
        factors.update(omega=omega, omega_new=omega)
    expr, kappa = kappa_value(args.kappa, factors)

    d = getattr(comp, "d", None) if comp is not None else None
    if args.eigs is not None:
        eigs = values.floats("--eigs", args.eigs, length=d, most=64)
        if not all(e > 0 for e in eigs):
            raise InputError("--eigs must be positive")
    else:
        n = d or 2
        eigs = tuple(1.0 - 0.5 * j / (n - 1) for j in range(n)) if n > 1 else (1.0,)
    if args.x0 is not None:
        x0 = values.floats("--x0", args.x0, length=len(eigs), most=64)
    else:
        x0 = tuple(0.0 if method == "dsignsgd" else 1.0 for _ in eigs)
    workers = values.count("--workers",
                           args.workers or ("2" if method == "dsignsgd" else "1"), MAX_WORKERS)
    base = Config(values.positive("--eta", args.eta), workers,
                  values.count("--batch", args.batch, MAX_WORKERS))
    scaled = scaled_config(base, kappa, factors["alpha"], factors["delta"])
    if scaled.n_workers > MAX_WORKERS or scaled.batch > MAX_WORKERS:
        raise InputError(f"the scaled configuration has N = {scaled.n_workers}, "
                         f"B = {scaled.batch} (at most {MAX_WORKERS} each)")
    steps = values.count("--steps", args.steps, MAX_STEPS)
    samples, n_ckpt = plan(steps * base.per_step,
                           values.count("--checkpoints", args.checkpoints, 200), [base, scaled])
    replicas = values.count("--replicas", args.replicas, MAX_REPLICAS)
    seed = values.seed("--seed", args.seed)
    setup = Setup(f"cli:{method}", make_method(method, comp), noise, eigs,
                  x0, base, samples, n_ckpt, linearize=method == "dsignsgd")
    rc = check_rule(setup, kappa, factors["alpha"], factors["delta"], replicas=replicas,
                    seed=seed, device=args.device)
    code = 0 if rc.status == "holds" else 1
    if args.json:
        out = rc.to_json()
        out.update({"method": method, "kappa_expr": _as_typed(expr), "noise": repr(noise),
                    "compressor": repr(comp) if comp is not None else None,
                    "omega": omega, "eigs": list(eigs), "x0": list(x0)})
        print_json(out)
        return code
    at = ", ".join(f"{k} = {v:g}" for k, v in factors.items())
    print(f"rule: kappa = {_as_typed(expr)} at {at} -> kappa = {kappa:.6g}")
    print(f"method {method}" + (f" with {comp!r}" if comp is not None else "")
          + f", noise {noise!r}, quadratic eigs {list(eigs)}, x0 {list(x0)}")
    print(f"base:   eta = {base.eta:g}, N = {base.n_workers}, B = {base.batch}")
    print(f"scaled: eta = {scaled.eta:.6g}, N = {scaled.n_workers}, B = {scaled.batch}")
    print(f"sample: {replicas} replicas per configuration, {n_ckpt} checkpoints over "
          f"{samples} samples, seeds {rc.seeds[0]} (base) and {rc.seeds[1]} (scaled)")
    if rc.d is not None:
        dd = rc.distance
        print(f"predicted: D <= z = {rc.z:.2f} (curves coincide; Bonferroni over {n_ckpt} "
              "checkpoints, family-wise 0.27%)")
        print(f"measured:  D = {rc.d:.2f}  (worst checkpoint {dd['at_checkpoint']}: "
              f"|delta f| = {abs(dd['diff_at']):.4g}, allowance = {dd['allowance_at']:.3g}, "
              f"SE = {dd['se_at']:.3g})")
        if rc.resolution and rc.status != "contradicted":
            print("resolution: a factor-2 error in kappa would give D = "
                  + ", ".join(f"{v:.1f} ({k})" for k, v in rc.resolution.items()))
    print(f"{rc.status}: {rc.reason}")
    return code
