"""DIANA (theorykit/methods/diana.py): the update, its default shift step and its limit."""

from __future__ import annotations

import pytest
import torch

from theorykit.compressors.registry import make
from theorykit.errors import InputError
from theorykit.methods import DIANA
from theorykit.methods.biased import run
from theorykit.methods.diana import shift_contraction
from theorykit.problems import LocalQuadratics


def test_identity_compressor_learns_the_gradient_in_one_step():
    m = DIANA(make("identity"))
    g = torch.randn(2, 3, 4, dtype=torch.float64)
    st = m.init_worker(g)
    msg, st = m.worker_step(st, g)
    D, h = m.server_step(msg)
    assert m.step_size(4) == 1.0  # omega = 0
    assert torch.allclose(st["h"], g) and torch.allclose(D, g.mean(1))
    assert torch.allclose(h, g.mean(1))


def test_default_shift_step_and_biased_compressor():
    assert DIANA(make("randk", k=1)).step_size(4) == pytest.approx(0.25)
    with pytest.raises(InputError, match="unbiased"):
        DIANA(make("topk", k=1))
    assert DIANA(make("topk", k=1), shift_step=0.5).step_size(4) == 0.5
    assert shift_contraction(0.25, 3.0) == pytest.approx(0.75)
    assert shift_contraction(0.5, 3.0) == pytest.approx(1.0)  # the limit 2/(1 + omega)


def test_diana_reaches_the_optimum_where_dcsgd_stalls():
    from theorykit.methods import DCSGD

    p = LocalQuadratics.random(4, 4, mu=1.0, L=4.0, heterogeneity=1.0, seed=0)
    x0 = torch.zeros(4, dtype=torch.float64)
    kw = dict(x0=x0, eta=0.1, steps=300, replicas=16)
    di = run(DIANA(make("bernoulli", p=0.5)), p, generator=torch.Generator().manual_seed(0),
             **kw)
    dc = run(DCSGD(make("bernoulli", p=0.5)), p, generator=torch.Generator().manual_seed(0),
             **kw)
    assert di.gap[:, -1].max() < 1e-20
    assert dc.gap[:, -50:].mean() > 1e-3
