"""The DDP communication hook (:func:`theorykit.distributed.ddp_hook`) on 2 real gloo ranks.

One spawn runs every scenario through ``DistributedDataParallel`` (the user script
``examples/ddp_train.py``, digits MLP, several gradient buckets) and checks, exactly:

* QSGD (s = 4) trains, both ranks end with identical parameters, and the bits per step equal
  the codec's bit formula summed over DDP's buckets; sent and dense bytes are accounted;
* the identity codec through the byte wire reproduces DDP's default all-reduce bit for bit;
* error feedback: with top-k it trains, with the identity codec its residual stays zero
  (the run equals the one without feedback);
* the ranks' compressors draw independently (identical gradients on both ranks: the averaged
  rand-k message has more than k non-zeros) and the draws change from step to step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from theorykit.compressors.registry import make
from theorykit.distributed import CommStats, ddp_hook
from theorykit.distributed.launch import run_local
from theorykit.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples.ddp_train import train  # the user script, from the repo root

STEPS = 40
CAP_MB = 0.002  # ~500 float32 per bucket: the 64-64-10 MLP goes into two buckets
K_RAND = 200


def _independence() -> dict[str, Any]:
    """Identical gradients on both ranks through a rand-k hook: the grad after the hook is
    the mean of the ranks' decoded messages; its support is larger than k only if the
    ranks drew different coordinates."""
    torch.manual_seed(0)
    net = torch.nn.Linear(100, 10, bias=False)
    model = DDP(net)
    model.register_comm_hook(*ddp_hook("randk", k=K_RAND, seed=5))
    x = torch.linspace(0.5, 1.5, 100).repeat(3, 1)  # the same batch on every rank
    supports = []
    for _ in range(2):
        net.zero_grad()
        model(x).sum().backward()
        supports.append(net.weight.grad.reshape(-1) != 0)
    return {"supports": supports}


def _scenarios() -> dict[str, Any]:
    kw: dict[str, Any] = {"steps": STEPS, "bucket_cap_mb": CAP_MB, "seed": 1}
    return {
        "qsgd": train("qsgd", {"s": 4}, **kw),
        "dense": train(None, **kw),
        "identity": train("identity", **kw),
        "identity_ef": train("identity", error_feedback=True, **kw),
        "topk_ef": train("topk", {"k": 0.05}, error_feedback=True, **kw),
        "independence": _independence(),
        "world": dist.get_world_size(),
    }


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return run_local(_scenarios, world_size=2, timeout_s=120)


pytestmark = pytest.mark.distributed


def test_qsgd_trains_and_ranks_agree(ranks):
    r0, r1 = ranks[0]["qsgd"], ranks[1]["qsgd"]
    assert torch.equal(r0["params"], r1["params"])
    assert r0["final"]["loss"] < 0.5 * r0["history"]["loss"][0]
    assert r0["final"]["accuracy"] > 0.8
    assert r0["hook"]["steps"] == STEPS


def test_bits_match_the_codec_formula(ranks):
    res = ranks[0]["qsgd"]
    dims = res["hook"]["step_dims"]
    n_params = res["params"].numel()
    assert len(dims) > 1 and sum(dims) == n_params  # several buckets, every gradient sent
    spec = make("qsgd", s=4)
    per_step = sum(spec.numeric_bits(d) for d in dims)
    bits = res["hook"]["bits_per_step"]
    assert bits[1:] == [per_step] * (STEPS - 1)  # after DDP's bucket rebuild at step 0
    comm = res["hook"]["comm"]
    assert comm["payload_bits"] == sum(bits)
    assert comm["dense_bytes"] == 4 * n_params * STEPS
    # sent per bucket = packed buffers + header (2 int64 per field) + one int64 size word
    per_round = []
    for d in dims:
        p = spec.encode(torch.randn(1, d), torch.Generator().manual_seed(0))
        per_round.append(p.nbytes + 16 * len(p.fields) + 8)
    assert res["hook"]["sent_per_step"][1:] == [sum(per_round)] * (STEPS - 1)
    assert comm["sent_bytes"] == sum(res["hook"]["sent_per_step"])
    # DDP sends step 0 in its initial bucket layout, then rebuilds the buckets
    assert len(dims) * (STEPS - 1) < comm["rounds"] <= len(dims) * STEPS
    assert comm["compression_ratio"] > 6  # 32 bits vs ~4 bits per coordinate


def test_identity_codec_reproduces_ddp_allreduce(ranks):
    for r in ranks:
        assert torch.equal(r["identity"]["params"], r["dense"]["params"])
        assert r["dense"]["hook"] is None


def test_error_feedback(ranks):
    r0 = ranks[0]
    # identity: C(e + g) = e + g, so the residual is exactly zero and nothing changes
    assert torch.equal(r0["identity_ef"]["params"], r0["identity"]["params"])
    top = r0["topk_ef"]
    assert torch.equal(top["params"], ranks[1]["topk_ef"]["params"])
    assert top["final"]["loss"] < 0.6 * top["history"]["loss"][0]
    assert top["hook"]["comm"]["compression_ratio"] > 8
    # one residual per parameter, kept across DDP's bucket rebuild (stable keys), non-zero
    assert top["hook"]["residual_tensors"] == 4 and top["hook"]["residual_norm"] > 0
    assert r0["identity_ef"]["hook"]["residual_norm"] == 0


def test_ranks_draw_independently(ranks):
    s = ranks[0]["independence"]["supports"]
    assert torch.equal(s[0], ranks[1]["independence"]["supports"][0])  # same averaged grad
    # two independent rand-k draws of k = 200 of 1000 cover ~360 coordinates; equal
    # draws would cover exactly 200
    for sup in s:
        assert 300 <= int(sup.sum()) <= 2 * K_RAND
    assert not torch.equal(s[0], s[1])  # a fresh draw each step


def test_bad_input_is_refused_at_registration():
    with pytest.raises(InputError, match="unknown compressor"):
        ddp_hook("qsgdd", s=4)
    with pytest.raises(InputError):
        ddp_hook("qsgd", s=0)
    with pytest.raises(InputError, match="unknown parameter"):
        ddp_hook("qsgd", s=4, levels=3)
    with pytest.raises(InputError, match="instance"):
        ddp_hook(make("qsgd", s=4), s=8)
    with pytest.raises(InputError, match="fraction"):
        ddp_hook("topk", k=1.5)
    with pytest.raises(InputError, match="error_feedback"):
        ddp_hook("topk", k=3, error_feedback="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="seed"):
        ddp_hook("qsgd", s=4, seed=-1)
    with pytest.raises(InputError, match="not the class"):
        ddp_hook(type(make("sign")))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="cannot load"):
        ddp_hook("no_such_module:Thing")


def test_state_forms_and_bucket_errors():
    state, hook = ddp_hook("topk", k=0.1)
    assert isinstance(state.stats, CommStats) and callable(hook)
    assert state.spec_for(1000)["k"] == 100 and state.spec_for(3)["k"] == 1
    fixed, _ = ddp_hook("topk", k=10)
    with pytest.raises(InputError, match="bucket of 5 coordinates"):
        fixed.spec_for(5)
    inst, _ = ddp_hook(make("sign"))
    assert inst.spec_for(7).name == "sign" and inst.as_dict()["compressor"] == "sign"
    user, _ = ddp_hook("examples.my_compressor:MyCompressor")
    assert user.compressor == "examples.my_compressor:MyCompressor"
