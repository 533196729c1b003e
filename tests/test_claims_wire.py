"""The distributed wire claims (``derivations/distributed_wire.py``): their predictions
against the codecs run in-process (independent and shared randomness, correlated vectors),
and, on real gloo processes, the claims hold and their mutants are killed."""

from __future__ import annotations

import math

import pytest
import torch

from derivations.distributed_wire import COMMON, DIM, _predicted_mse
from theorykit.check.claim import RunContext, Status
from theorykit.check.mutants import Theory
from theorykit.compressors.registry import make
from theorykit.distributed.probe import probe_vectors


@pytest.mark.parametrize("name, params", [("randk", {"k": 10}), ("qsgd", {"s": 4})])
@pytest.mark.parametrize("shared", [False, True])
def test_mean_error_prediction_in_process(name, params, shared):
    """n = 20000 draws, seed 0; tolerance 4 SE. Shared: both 'ranks' seed one generator
    alike (the shared_seed mutant's prediction); independent: different seeds."""
    V = probe_vectors(2, DIM, 0, COMMON)
    spec = make(name, d=DIM, **params)
    n = 20000
    outs = []
    for i in range(2):
        g = torch.Generator().manual_seed(7 if shared else 7 + i)
        outs.append(spec.apply(V[i].expand(n, DIM).contiguous(), g))
    err = (((outs[0] + outs[1]) / 2 - V.mean(0)) ** 2).sum(1).numpy()
    ctx = RunContext(theory=Theory({"shared_seed": True}) if shared else Theory())
    pred = _predicted_mse(ctx, name, params, V.numpy())
    se = err.std(ddof=1) / math.sqrt(n)
    assert abs(err.mean() - pred) <= 4 * se, (err.mean(), pred, se)
    # the setting makes the ingredient matter: shared and independent differ by > 20%
    other = _predicted_mse(RunContext(theory=Theory() if shared else
                                      Theory({"shared_seed": True})), name, params, V.numpy())
    assert abs(other - pred) > 0.2 * min(other, pred)


@pytest.mark.distributed
@pytest.mark.slow
def test_wire_claims_hold_and_mutants_killed():
    import derivations.distributed_wire  # noqa: F401 - registers the claims
    from theorykit.check.ledger import run_claim
    from theorykit.check.registry import get

    ctx = RunContext()
    for cid in ("distributed.wire-bits", "distributed.wire-variance"):
        v = run_claim(get(cid), ctx, mutants=True)
        assert v.status == Status.HOLDS, (v.predicted, v.measured)
        assert len(v.mutants) >= 2
        assert {m["status"] for m in v.mutants} == {"killed"}, v.mutants
    rows = run_claim(get("distributed.wire-bits"), ctx).details["rows"]
    assert all(r["messages_received"] > 0 for r in rows)
