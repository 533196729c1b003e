"""``theorykit check bound``: check E f(x_t) - f* <= bound(t) against simulation (two-sided report).

Run a method on a problem with replicas, estimate E f(x_t) - f* with its standard error at
checkpoints and judge your bound: violated (beyond the Bonferroni z·SE) -> contradicted
(exit 1); tightness measured/bound reported ('loose' if more than 2x loose everywhere). The
bound is parsed safely, never executed.

Example::

    theorykit check bound --method dcsgd --compressor bernoulli -p p=0.5 -N 4 \\
        --problem quadratic --eigs 1,1 --x0 3,3 --lr 0.1 --steps 40 \\
        --bound 'exp(-2*mu*t)*Delta_0 + eta*L*(1+omega)*d*sigma^2/(4*mu*N*B)'

The bound is parsed by :func:`theorykit.expr.parse_expr` (never evaluated as code) in the
symbols ``t`` (SDE time k*eta) or ``k`` (step), ``eta``, ``N``, ``B``, ``omega`` (the
compressor's variance constant, dcsgd), ``sigma`` (noise scale), ``nu`` (Student-t), ``L``,
``mu``, ``d`` and ``Delta_0`` (f(x_0) - f*). The check is the one of the claim
``resilience.bound.dcsgd_pl`` (:mod:`theorykit.check.bound_check`): upper side at every
checkpoint within the Bonferroni z·SE (exit 1, "contradicted", if violated); tightness
measured/bound per checkpoint, reported as "loose" when the bound is more than 2x loose at
every checkpoint after t = 0 (not a contradiction unless ``--tight`` claims the bound is
attained). Bad input: a one-line error and exit 2.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from theorykit.cli import common, values
from theorykit.cli.common import print_json
from theorykit.errors import InputError

SYMBOLS = ("t", "k", "eta", "N", "B", "omega", "sigma", "nu", "L", "mu", "d", "Delta_0")


def register(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "bound", __doc__)
    common.add_method_options(p)
    common.add_noise_options(p)
    p.add_argument("--problem", default="quadratic", choices=("quadratic",),
                   help="the problem (quadratic: f = (x - c)' diag(eigs) (x - c) / 2)")
    p.add_argument("--eigs", default="1,1", metavar="L1,L2,...",
                   help="quadratic eigenvalues (default 1,1); the dimension d is their count")
    p.add_argument("--x0", metavar="X1,X2,...",
                   help="start (default: 3 in every coordinate), one number or d numbers")
    p.add_argument("--workers", "-N", default="1", metavar="N", help="workers (default 1)")
    p.add_argument("--batch", "-B", default="1", metavar="B", help="batch size (default 1)")
    p.add_argument("--lr", required=True, metavar="ETA", help="learning rate")
    p.add_argument("--bound", required=True, metavar="EXPR",
                   help="the bound on E f(x_t) - f*, in t or k, eta, N, B, omega, sigma, nu, "
                   "L, mu, d, Delta_0")
    p.add_argument("--steps", default="100", help="steps (default 100)")
    p.add_argument("--replicas", default="2000", help="independent runs (default 2000)")
    p.add_argument("--checkpoints", default="20", help="checkpoints (default 20)")
    p.add_argument("--seed", default="0", help="random seed (default 0)")
    p.add_argument("--tight", action="store_true",
                   help="the bound is claimed attained: also judge the lower side")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _setup(args: argparse.Namespace) -> dict[str, Any]:
    from theorykit.methods import make_method
    from theorykit.methods.registry import resolve
    from theorykit.problems import Quadratic

    eigs = values.floats("--eigs", args.eigs)
    if min(eigs) <= 0:
        raise InputError("--eigs must be > 0 (mu = the smallest eigenvalue)")
    d = len(eigs)
    prob = Quadratic(eigs=eigs)
    x0 = [3.0] * d if args.x0 is None else list(values.floats("--x0", args.x0))
    if len(x0) == 1:
        x0 = x0 * d
    if len(x0) != d:
        raise InputError(f"--x0 has {len(x0)} numbers, the problem has d = {d}")
    method_name = resolve(args.method).name  # a registered name or module:Object
    comp = common.build_compressor(args.compressor, args.param, d=d)
    omega = None
    if method_name == "dcsgd":
        if comp is None or isinstance(comp, str):
            raise InputError("dcsgd needs --compressor NAME (a concrete compressor)")
        method: Any = make_method(method_name, comp)
        om = comp.omega()
        om = om.subs(comp.substitutions(d))
        if om.free_symbols:
            raise InputError(f"omega of {args.compressor} is not numeric: {om}")
        omega = float(om)
    elif method_name in ("dsgd", "dsignsgd"):
        if comp is not None:
            raise InputError(f"{method_name} takes no compressor (use --method dcsgd)")
        method = make_method("dsignsgd", vote=args.vote) if method_name == "dsignsgd" \
            else make_method("dsgd")
    else:
        raise InputError(f"check bound needs a method with a known SDE bound (dsgd, dcsgd, "
                         f"dsignsgd), not {method_name}")
    noise = common.build_noise(args, symbolic=False)
    choice = common.noise_choice(args)
    sig = values.floats(choice.flags.get(choice.scale, "--sigma"),
                        choice.given.get(choice.scale, "1"))
    eta = values.positive("--lr", args.lr)
    f0 = 0.5 * sum(lam * x * x for lam, x in zip(eigs, x0, strict=True))
    setting: dict[str, Any] = {"eta": eta, "N": values.count("--workers", args.workers, 4096),
               "B": values.count("--batch", args.batch, 10**6),
               "sigma": sig[0] if len(sig) == 1 else float("nan"), "L": max(eigs),
               "mu": min(eigs), "d": d, "Delta_0": f0}
    if omega is not None:
        setting["omega"] = omega
    if "nu" in choice.given:
        setting["nu"] = choice.value("nu")
    return {"method": method, "noise": noise, "problem": prob, "x0": x0, "values": setting}


def _bound_fn(text: str, setting: dict[str, Any]) -> Any:
    """The parsed bound as a function of (t, k), with the other symbols fixed."""
    import sympy as sp

    from theorykit.expr import parse_expr

    syms = {n: sp.Symbol(n, real=True) for n in SYMBOLS}
    e = parse_expr(text, syms, what="--bound")
    names = {s.name for s in e.free_symbols}
    missing = sorted(n for n in names - {"t", "k"} if n not in setting
                     or not math.isfinite(float(setting[n])))
    if missing:
        raise InputError(f"--bound uses {', '.join(missing)}, which has no value in this "
                         "setting (omega needs --method dcsgd, nu needs --noise student-t, "
                         "sigma needs one noise scale)")
    fixed = e.xreplace({syms[n]: sp.Float(setting[n]) for n in names - {"t", "k"}})

    def at(t: float, k: int) -> float:
        v = fixed.xreplace({syms["t"]: sp.Float(t), syms["k"]: sp.Integer(k)})
        try:
            out = complex(sp.N(v))
        except (TypeError, ValueError):
            raise InputError(f"--bound is not a number at t = {t:g}: {v}") from None
        if abs(out.imag) > 1e-12 * max(1.0, abs(out.real)) or math.isnan(out.real):
            raise InputError(f"--bound is not a real number at t = {t:g}")
        return out.real

    return at


def run(args: argparse.Namespace) -> int:
    from theorykit.check.bound_check import judge_bound, run_trajectory

    s = _setup(args)
    at = _bound_fn(args.bound, s["values"])
    steps = values.count("--steps", args.steps, 10**6)
    R = values.count("--replicas", args.replicas, 10**6)
    if R < 2:
        raise InputError(f"--replicas must be at least 2 (a standard error needs two runs), "
                         f"got {args.replicas!r}")
    cps = values.count("--checkpoints", args.checkpoints, 10**4)
    seed = values.seed("--seed", args.seed)
    vals = s["values"]
    traj = run_trajectory(s["method"], s["problem"], s["noise"], eta=vals["eta"], steps=steps,
                          replicas=R, x0=s["x0"], seed=seed, n_workers=vals["N"],
                          batch=vals["B"], checkpoints=cps)
    bound = [at(float(t), int(k)) for t, k in zip(traj.t, traj.k, strict=True)]
    j = judge_bound(traj, bound, tight=args.tight)
    if args.json:
        print_json({"status": j.status.value, "tightness": j.tightness, "reason": j.reason,
                    "z": j.z, "n_tests": j.n_tests, "tight_claimed": j.tight_claimed,
                    "replicas": R, "seed": seed, "bound": args.bound,
                    "values": {k: v for k, v in vals.items() if not (isinstance(v, float)
                                                                      and math.isnan(v))},
                    "checkpoints": j.rows})
    else:
        print(f"bound: E f(x_t) - f* <= {args.bound}")
        print(f"{args.method} on quadratic d = {vals['d']} (L = {vals['L']:g}, mu = "
              f"{vals['mu']:g}), eta = {vals['eta']:g}, N = {vals['N']}, B = {vals['B']}"
              + (f", omega = {vals['omega']:g}" if "omega" in vals else "")
              + f"; {R} replicas, seed {seed}; z = {j.z:.2f} (Bonferroni over {j.n_tests})")
        print(f"{'k':>6} {'t':>8} {'measured':>12} {'SE':>10} {'bound':>12} "
              f"{'meas/bound':>10}  ok")
        for r in j.rows:
            ok = "yes" if r["upper_ok"] and (r["lower_ok"] or not args.tight) else "NO"
            print(f"{r['k']:>6} {r['t']:>8.4g} {r['measured']:>12.5g} {r['se']:>10.2g} "
                  f"{r['bound']:>12.5g} {r['ratio']:>10.3g}  {ok}")
        print(f"tightness: {j.tightness}")
        print(f"{j.status.value}: {j.reason}")
    return 0 if j.status.value == "holds" else 1
