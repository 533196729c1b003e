r"""A claim module of your own, with mutants, run like the built-in claims::

    theorykit verify --claims examples.my_claims --mutants

The claim: rand-k on :math:`\mathbb R^d` keeps k coordinates scaled by d/k, so
:math:`E\|C(x)\|^2 = (d/k)\,\|x\|^2` (derived here: each coordinate survives with probability
k/d and is then multiplied by d/k). The check is two-sided, so it can fail in both
directions, and two mutants — the factor doubled and halved — must come out *contradicted*
through the same check with the same samples (the measurement is shared through
``ctx.memo``, so the mutants cost nothing extra).
"""

from __future__ import annotations

import torch

from theorykit.check import RunContext, Source, Verdict, claim, mean_se
from theorykit.check.mutants import factor_mutants
from theorykit.check.stats import agree
from theorykit.compressors.registry import make

SRC = Source("examples/my_claims.py", "rand-k second moment (derived in the docstring)",
             "derived")


@claim("example.randk_second_moment", "rand-k: E||C(x)||^2 = (d/k)||x||^2", SRC,
       tags=("example",), mutants=factor_mutants("factor", "the second-moment factor d/k"))
def randk_second_moment(ctx: RunContext) -> Verdict:
    d, k = 20, 5
    n = ctx.pick(4000, 40000)

    def measure():
        gen = torch.Generator().manual_seed(ctx.seed)
        x = torch.linspace(-1.0, 1.0, d, dtype=torch.float64)
        spec = make("randk", k=k, d=d)
        c = spec.apply(x.expand(n, d).clone(), generator=gen)
        return mean_se((c.pow(2).sum(-1) / x.pow(2).sum()).numpy())

    est = ctx.memo(("randk", d, k, n), measure)
    predicted = ctx.theory.factor("factor") * d / k
    return agree("example.randk_second_moment", predicted, est, seed=ctx.seed,
                 details={"d": d, "k": k})
