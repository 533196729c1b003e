"""``theorykit derive``: derive and print the SDE of a distributed method.

Examples::

    theorykit derive --method dsgd --dim 2
    theorykit derive --method dcsgd --compressor bernoulli -p p=0.5 --dim 2 --workers 4
    theorykit derive --method dcsgd --compressor randk -p k=1 --dim 3 --format latex
    theorykit derive --method dsignsgd --noise student-t --nu 3 --dim 2 --sigma 1,2
    theorykit derive --method dcsgd --compressor my_pkg.my_mod:MyCompressor --dim 2
    theorykit derive --method examples.my_method:MyMethod --dim 2 --workers 4
"""

from __future__ import annotations

import argparse
from typing import Any

from theorykit.cli.common import add_params_option, parse_params, print_json, to_number
from theorykit.errors import InputError
from theorykit.limits import MAX_WORKERS, check_count


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive", help="derive the SDE (drift, diffusion, assumptions) of a method",
        description="Derive the order-1 weak-approximation SDE dX = b dt + sqrt(eta) "
        "Sigma^(1/2) dW (t = k*eta) of a method (DSGD, DCSGD, DSignSGD, a user's "
        "module:Object, ...) from its one-step "
        "moments under a noise model, for a generic gradient in R^d.")
    p.add_argument("--method", required=True, metavar="NAME",
                   help="the distributed method: a registered name (list them with "
                   "'theorykit methods') or module.path:Object")
    p.add_argument("--vote", choices=("mean", "majority"), default="mean",
                   help="DSignSGD aggregation (default: mean of signs)")
    p.add_argument("--compressor", metavar="NAME",
                   help="compressor for a method that takes one (dcsgd): a catalog name, "
                   "module.path:Object, or "
                   "'omega' for a generic unbiased U(omega)")
    add_params_option(p)
    p.add_argument("--noise", default="gaussian",
                   help="noise model: gaussian, student-t, laplace, pareto (default gaussian)")
    p.add_argument("--nu", help="Student-t degrees of freedom (default: symbolic nu)")
    p.add_argument("--alpha", help="Pareto tail index (default: symbolic alpha)")
    p.add_argument("--sigma", metavar="S[,S2,...]",
                   help="noise scale, or one per worker comma-separated (default: symbolic)")
    p.add_argument("--workers", "-N", metavar="N", help="number of workers (default: symbol N)")
    p.add_argument("--batch", "-B", metavar="B", help="batch size (default: symbol B)")
    p.add_argument("--dim", "-d", default="2", metavar="d", help="dimension (default 2)")
    p.add_argument("--lr", metavar="ETA", help="learning rate (default: symbol eta)")
    p.add_argument("--format", choices=("pretty", "latex", "json"), default="pretty")
    p.set_defaults(func=run)


def _int(name: str, value: str | None, maximum: int | None = None) -> Any:
    """A positive integer option (``None`` stays ``None``), at most ``maximum``."""
    if value is None:
        return None
    v = to_number(name, value)
    if not float(v).is_integer() or v < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    if maximum is not None:
        check_count(name, int(v), maximum)
    return int(v)


def _scales(value: str | None, default: str) -> Any:
    if value is None:
        return default
    parts = [s for s in value.split(",") if s.strip()]
    if not parts:
        raise InputError(f"--sigma must be a number or a comma-separated list, got {value!r}")
    check_count("number of --sigma values", len(parts), MAX_WORKERS, "one per worker")
    nums = [to_number("sigma", s) for s in parts]
    return nums[0] if len(nums) == 1 else nums


def build_noise(args: argparse.Namespace) -> Any:
    from theorykit.noise import make_noise

    name = args.noise.lower()
    if name in ("gaussian", "normal"):
        return make_noise(name, sigma=_scales(args.sigma, "sigma"))
    if name in ("student-t", "t", "studentt", "student_t", "cauchy"):
        nu = to_number("nu", args.nu) if args.nu is not None else (
            1 if name == "cauchy" else "nu")
        return make_noise("student-t", nu=nu, scale=_scales(args.sigma, "s"))
    if name in ("laplace",):
        return make_noise(name, scale=_scales(args.sigma, "s"))
    if name in ("pareto", "lomax"):
        alpha = to_number("alpha", args.alpha) if args.alpha is not None else "alpha"
        return make_noise("pareto", alpha=alpha, scale=_scales(args.sigma, "s"))
    return make_noise(name)  # raises InputError naming the known models


def build_compressor(args: argparse.Namespace, d: int) -> Any:
    from theorykit.compressors.registry import resolve

    params = parse_params(args.param)
    if args.compressor is None:
        if params:
            raise InputError("-p parameters given but no --compressor")
        return None
    if args.compressor.startswith("omega"):
        if params:
            raise InputError("a generic U(omega) compressor takes no -p parameters")
        return args.compressor
    cls = resolve(args.compressor)
    params.setdefault("d", d)
    return cls(**params)


def run(args: argparse.Namespace) -> int:
    from theorykit.methods import make_method
    from theorykit.sde.derive import derive

    d = _int("--dim", args.dim)  # its cost limit is checked by derive(), which knows why
    comp = build_compressor(args, d)
    options = {"vote": args.vote} if args.vote != "mean" else {}
    method = make_method(args.method, comp, **options)
    noise = build_noise(args)
    lr = None if args.lr is None else to_number("lr", args.lr)
    workers = _int("--workers", args.workers, MAX_WORKERS)
    sde = derive(method, None, noise, d, n_workers=workers,
                 batch=_int("--batch", args.batch), lr_symbol=lr)
    if args.format == "json":
        print_json(sde.to_json())
    elif args.format == "latex":
        print(f"% {sde.title}")
        print(sde.latex())
        for a in sde.assumptions:
            print(f"% assumption: {a}")
    else:
        print(sde.pretty())
    return 0
