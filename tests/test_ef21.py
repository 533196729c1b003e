"""EF21 (theorykit/methods/ef21.py): the method equals the optax-style view used by the
claims bit for bit, and converges with a biased compressor."""

from __future__ import annotations

import torch

from theorykit.compressors.registry import make
from theorykit.methods import EF21
from theorykit.methods.biased import EF21 as EF21View
from theorykit.methods.biased import run
from theorykit.problems import LocalQuadratics


def test_first_step_sends_the_full_gradient_then_corrections():
    m = EF21(make("topk", k=1))
    g0 = torch.tensor([[[1.0, -2.0, 3.0]]], dtype=torch.float64)
    st = m.init_worker(g0)
    msg, st = m.worker_step(st, g0)
    D, mirrors = m.server_step(msg)
    assert torch.equal(D, g0.mean(1)) and not st["fresh"]
    g1 = torch.tensor([[[0.0, 0.0, 0.0]]], dtype=torch.float64)
    msg, st = m.worker_step(st, g1)
    assert torch.equal(msg, torch.tensor([[[0.0, 0.0, -3.0]]], dtype=torch.float64))
    D, mirrors = m.server_step(msg, mirrors)
    assert torch.equal(D, st["g"].mean(1))


def test_method_and_view_give_identical_runs():
    p = LocalQuadratics.random(3, 5, heterogeneity=0.5, seed=1)
    x0 = torch.ones(5, dtype=torch.float64)
    a = run(EF21(make("topk", k=2)), p, x0=x0, eta=0.02, steps=200, noise=0.1, replicas=4,
            generator=torch.Generator().manual_seed(0))
    b = run(EF21View(make("topk", k=2)), p, x0=x0, eta=0.02, steps=200, noise=0.1,
            replicas=4, generator=torch.Generator().manual_seed(0))
    assert (a.gap == b.gap).all()


def test_ef21_converges_exactly_with_top1():
    p = LocalQuadratics.random(4, 4, mu=1.0, L=4.0, heterogeneity=1.0, seed=0)
    r = run(EF21(make("topk", k=1)), p, x0=torch.ones(4, dtype=torch.float64), eta=0.02,
            steps=3000)
    assert r.gap[0, -1] < 1e-20
