"""Real multi-process runs (gloo, world size 2, one spawn for all configs).

Checks, each exact (no statistics involved):
* DCSGD with the identity codec sent through the byte wire gives bit-identical parameters
  to DSGD's dense all-reduce (the wire format loses nothing);
* the bits on the wire equal the codec's bit formula times the number of rounds;
* all ranks hold identical models (the decoded mean is the same everywhere);
* an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted one;
* error feedback with the identity codec reproduces DSGD (to float32 rounding, since it
  sends eta*g instead of g) and with top-k it trains.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from theorykit.compressors.registry import make
from theorykit.distributed.train import TrainConfig, make_model, spawn

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = TrainConfig(steps=12, log_every=4, batch=16, hidden=16, n_samples=512, seed=3)
    ck = tmp_path_factory.mktemp("ckpt")
    cfgs = [
        dataclasses.replace(base, method="dsgd"),
        dataclasses.replace(base, method="dcsgd", compressor="identity", params={}),
        dataclasses.replace(base, method="dcsgd", compressor="randk", params={"k": 40}),
        dataclasses.replace(base, method="dsignsgd"),
        # interrupted at step 6 (checkpoint), then resumed to 12
        dataclasses.replace(base, method="dcsgd", compressor="randk", params={"k": 40},
                            steps=6, checkpoint_every=6, out_dir=str(ck)),
        dataclasses.replace(base, method="dcsgd", compressor="randk", params={"k": 40},
                            checkpoint_every=6, out_dir=str(ck)),
        dataclasses.replace(base, method="ef", compressor="identity", params={}),
        dataclasses.replace(base, method="ef", compressor="topk", params={"k": 40}),
    ]
    return base, spawn(cfgs, world_size=2)


def test_identity_codec_matches_dense_allreduce(runs):
    _, res = runs
    assert torch.equal(res[0][0]["params"], res[1][0]["params"])


def test_ranks_hold_identical_models(runs):
    _, res = runs
    for per_rank in res:
        assert torch.equal(per_rank[0]["params"], per_rank[1]["params"])


def test_wire_bits_equal_formula(runs):
    base, res = runs
    d = sum(p.numel() for p in make_model(base).parameters())
    rk = make("randk", k=40)
    assert res[2][0]["comm"]["payload_bits"] == base.steps * rk.numeric_bits(d)
    assert res[3][0]["comm"]["payload_bits"] == base.steps * make("sign").numeric_bits(d)
    assert res[3][0]["comm"]["compression_ratio"] > 8  # 1 bit/coord + headers vs float32


def test_resume_after_interruption_is_exact(runs):
    _, res = runs
    assert torch.equal(res[5][0]["params"], res[2][0]["params"])
    assert res[5][0]["history"]["loss"] == res[2][0]["history"]["loss"]


def test_compression_changes_the_trajectory(runs):
    _, res = runs
    assert not torch.equal(res[2][0]["params"], res[0][0]["params"])


def test_error_feedback_with_identity_is_dsgd(runs):
    _, res = runs
    assert torch.allclose(res[6][0]["params"], res[0][0]["params"], rtol=0, atol=1e-6)


def test_error_feedback_topk_decreases_loss(runs):
    _, res = runs
    hist = res[7][0]["history"]["loss"]
    assert res[7][0]["final_loss"] < hist[0]


def test_exact_mse_formulas_match_in_process_monte_carlo():
    """The predictions of ``distributed.wire-variance`` against the codec run in-process
    (n = 20000 draws, seed 0, tolerance 4 SE)."""
    import numpy as np

    from derivations.distributed_wire import DIM, _exact_mse
    from theorykit.distributed.probe import probe_vectors

    v = probe_vectors(1, DIM, 0)[0]
    for name, params in (("randk", {"k": 10}), ("qsgd", {"s": 4})):
        spec = make(name, d=DIM, **params)
        g = torch.Generator().manual_seed(0)
        draws = spec.apply(v.expand(20000, DIM).contiguous(), g)
        err = ((draws - v) ** 2).sum(dim=1).numpy()
        pred = _exact_mse(name, params, v.numpy())
        assert abs(err.mean() - pred) <= 4 * err.std(ddof=1) / np.sqrt(err.size), name


# ---- gpu_validation.distributed_compression: simulated workers and the CUDA path (12B) ----
def test_simulated_workers_reproduce_the_real_ranks(runs):
    """One process simulating 2 workers draws what the 2 gloo ranks draw (same shards,
    minibatch and compressor generators): bit-identical models, bits and bytes."""
    from gpu_validation.distributed_compression import simulated_train

    base, res = runs
    cases = {0: dataclasses.replace(base, method="dsgd"),
             2: dataclasses.replace(base, method="dcsgd", compressor="randk", params={"k": 40}),
             3: dataclasses.replace(base, method="dsignsgd"),
             7: dataclasses.replace(base, method="ef", compressor="topk", params={"k": 40})}
    for i, cfg in cases.items():
        sim, real = simulated_train(cfg, 2, torch.device("cpu")), res[i][0]
        assert torch.equal(sim["params"], real["params"]), cfg.method
        for key in ("payload_bits", "sent_bytes", "dense_bytes"):
            assert sim["comm"][key] == real["comm"][key], (cfg.method, key)
        assert sim["history"]["loss"] == pytest.approx(real["history"]["loss"], rel=1e-5)


def test_cuda_ranks_need_one_gpu_each(monkeypatch, capsys, tmp_path):
    """``--device cuda --workers ranks`` with more ranks than GPUs: one line naming the
    simulated-workers mode, exit 2, before anything touches a GPU (CUDA mocked)."""
    import gpu_validation.distributed_compression as dc

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    threads = torch.get_num_threads()
    rc = dc.main(["--tiny", "--device", "cuda", "--workers", "ranks", "--world", "2",
                  "--out", str(tmp_path / "x.json")])
    torch.set_num_threads(threads)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "one rank per GPU" in err[0] and "--workers simulated" in err[0]
    assert not (tmp_path / "x.json").exists()
    cuda = torch.device("cuda")
    assert dc.choose_workers("auto", cuda, 2) == "simulated"  # 1 GPU, 2 workers
    assert dc.choose_workers("simulated", cuda, 8) == "simulated"
    assert dc.choose_workers("ranks", cuda, 1) == "ranks"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert dc.choose_workers("auto", cuda, 4) == "ranks"  # NCCL, one rank per GPU
    assert dc.choose_workers("auto", torch.device("cpu"), 8) == "ranks"  # gloo


def test_cuda_without_gpu_is_one_line(monkeypatch, capsys):
    import gpu_validation.distributed_compression as dc

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for argv in (["--full"], ["--tiny", "--device", "cuda"]):
        assert dc.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "CUDA is not available" in err[0]


def test_registered_stateful_methods_train_on_two_ranks():
    """EF21 and DIANA through the method's worker/server steps on the real wire."""
    base = TrainConfig(steps=8, log_every=4, batch=16, hidden=16, n_samples=512, seed=3)
    cfgs = [dataclasses.replace(base, method="ef21", compressor="topk", params={"k": 40}),
            dataclasses.replace(base, method="diana", compressor="randk", params={"k": 40})]
    res = spawn(cfgs, world_size=2)
    for per_rank in res:
        assert torch.equal(per_rank[0]["params"], per_rank[1]["params"])
        assert per_rank[0]["final_loss"] < per_rank[0]["history"]["loss"][0]
