"""``theorykit derive``: derive the SDE (drift, diffusion, assumptions) of a method.

Derive the order-1 weak-approximation SDE dX = b dt + sqrt(eta) Sigma^(1/2) dW (t = k*eta)
of a method (DSGD, DCSGD, DSignSGD, a user's module:Object, ...) from its one-step moments
under a noise model, for a generic gradient in R^d.

Examples::

    theorykit derive --method dsgd --dim 2
    theorykit derive --method dcsgd --compressor bernoulli -p p=0.5 --dim 2 --workers 4
    theorykit derive --method dcsgd --compressor randk -p k=1 --dim 3 --format latex
    theorykit derive --method dsignsgd --noise student-t --nu 3 --dim 2 --sigma 1,2
    theorykit derive --method dsgd --noise lomax --alpha 3 --dim 1
    theorykit derive --method dcsgd --compressor qsgd -p s=4 --noise student-t -p noise.nu=5 -d 1
    theorykit derive --method dcsgd --compressor my_pkg.my_mod:MyCompressor --dim 2
    theorykit derive --method examples.my_method:MyMethod --dim 2 --workers 4
"""

from __future__ import annotations

import argparse

from theorykit.cli import common, values
from theorykit.cli.common import print_json, to_number
from theorykit.limits import MAX_WORKERS


def register(sub: argparse._SubParsersAction) -> None:
    p = common.add_command(sub, "derive", __doc__)
    common.add_method_options(p, generic_omega=True)
    common.add_noise_options(p, symbolic=True)
    p.add_argument("--workers", "-N", metavar="N", help="number of workers (default: symbol N)")
    p.add_argument("--batch", "-B", metavar="B", help="batch size (default: symbol B)")
    p.add_argument("--dim", "-d", default="2", metavar="d", help="dimension (default 2)")
    p.add_argument("--lr", metavar="ETA", help="learning rate (default: symbol eta)")
    p.add_argument("--format", choices=("pretty", "latex", "json"), default="pretty")
    p.set_defaults(func=run)


def _count(name: str, value: str | None, maximum: int | None = None) -> int | None:
    """A positive integer option, at most ``maximum``; omitted stays ``None`` (a symbol)."""
    return None if value is None else values.count(name, value, maximum)


def run(args: argparse.Namespace) -> int:
    from theorykit.methods import make_method
    from theorykit.sde.derive import derive

    d = values.count("--dim", args.dim)  # its cost limit is checked by derive(), which knows why
    comp = common.build_compressor(args.compressor, args.param, d=d)
    options = {"vote": args.vote} if args.vote != "mean" else {}
    method = make_method(args.method, comp, **options)
    noise = common.build_noise(args)
    lr = None if args.lr is None else to_number("lr", args.lr)
    workers = _count("--workers", args.workers, MAX_WORKERS)
    sde = derive(method, None, noise, d, n_workers=workers,
                 batch=_count("--batch", args.batch), lr_symbol=lr)
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
