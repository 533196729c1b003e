"""gpu_validation experiments of issue 12 part C: error feedback on a small ResNet
(ef_cnn), quantization at a fixed bit budget (quant_budget), top-k energy with a verdict
(topk_energy). Small configurations only (CPU, seconds); the modes' own runs are
``python -m gpu_validation.NAME --tiny``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def test_models_shapes_and_vmap():
    from torch.func import functional_call, grad, vmap

    from gpu_validation.models.mlp import MLP
    from gpu_validation.models.resnet import SmallResNet

    for m in (SmallResNet(4, 1), MLP(64, 8, 1)):
        x = torch.randn(2, 3, 8, 8)
        assert m(x[0]).shape == (3, 10)
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, xb, m=m):
            return functional_call(m, p, (xb,)).square().mean()

        g = vmap(grad(loss), in_dims=(None, 0))(params, x)   # per-worker gradients
        assert all(v.shape[0] == 2 for v in g.values())
    with pytest.raises(ValueError):
        SmallResNet(0, 1)


def test_tail_moment_closed_form_and_codec_mse():
    """NoiseLaw.tail2 (derived closed form) against quadrature; expected_error at shift 0
    is theorykit's codec_mse."""
    from scipy.integrate import quad

    from gpu_validation.quant_budget import NoiseLaw, expected_error
    from theorykit.rules.quantization import codec_mse, density, optimize

    for law in (NoiseLaw("student-t", 0.3, 5.0), NoiseLaw("student-t", 0.3, 2.5),
                NoiseLaw("gaussian", 0.3)):
        for k in (-0.4, 0.0, 0.2, 1.5):
            num = quad(lambda u, law=law, k=k: (u - k) ** 2 * law.pdf(u), k, np.inf,
                       epsrel=1e-12)[0]
            assert law.tail2(np.array([k]))[0] == pytest.approx(num, rel=1e-7, abs=1e-14)
    d = density("student_t", nu=5.0, scale=0.3)
    for scheme in ("nonuniform", "uniform"):
        opt = optimize(d, bits=2, scheme=scheme)
        e0 = expected_error(opt.levels, NoiseLaw("student-t", 0.3, 5.0), np.array([0.0]))
        assert e0[0] == pytest.approx(codec_mse(d, opt.levels), rel=1e-9)
    # the c_Q = 1/4 cell model is an upper bound of the exact cell variance
    opt = optimize(d, bits=3, scheme="uniform")
    lw = NoiseLaw("student-t", 0.3, 5.0)
    sh = np.array([0.0, 0.1, 0.5])
    assert np.all(expected_error(opt.levels, lw, sh, cell="quarter")
                  > expected_error(opt.levels, lw, sh))


def test_quant_design_equal_bits():
    """TNQ/TUQ at b bits and QSGD at 2^(b-1)-1 levels send b bits per coordinate (QSGD
    plus one float32 norm): counted from real payloads."""
    from gpu_validation.quant_budget import design
    from gpu_validation.workers import make_compressor

    des = design({"bits": 3, "noise_scale": 0.2, "batch": 16, "nu": 5.0})
    x = torch.randn(1, 1000)
    g = torch.Generator().manual_seed(0)
    nb = {c: make_compressor(*des["specs"][c]).encode(x, g).nbits for c in des["specs"]}
    assert nb["tnq"] == nb["tuq"] == 3000
    assert nb["qsgd"] == 3000 + 32


def test_lomax_fit_recovers_index_and_judge():
    """On curves drawn from the Lomax closed form the held-out fit holds and the three
    mutants are contradicted; the pure Pareto fit is contradicted."""
    from gpu_validation.topk_energy import RHOS, family, fit_index, judge

    f = family("lomax")
    rh = np.array(RHOS)
    assert fit_index("lomax", rh[:10], f(rh[:10], 4.0)) == pytest.approx(4.0, rel=1e-4)
    rng = np.random.default_rng(0)
    F = np.clip(f(rh, 4.0)[None] * (1 + 0.01 * rng.standard_normal((16, len(rh)))), 0, 1)
    out = judge(F, rh, seed=0)
    assert out["fits"]["lomax"]["verdict"].status.value == "holds"
    assert abs(out["fits"]["lomax"]["a"] - 4.0) < 0.3
    assert out["fits"]["pareto"]["verdict"].status.value == "contradicted"
    assert all(v.status.value == "contradicted" for v in out["mutants"].values())
    assert not set(out["fit_rhos"]) & set(out["test_rhos"])


def test_ef_equal_bits_and_shards():
    from gpu_validation.data import digits
    from gpu_validation.ef_cnn import heterogeneous_shards, run_replica

    data = digits("cpu")
    shards = heterogeneous_shards(data.y_train, 4)
    assert sum(len(s) for s in shards) == len(data.y_train)
    assert len(set(data.y_train[shards[0]].tolist())) <= 4
    cfg = {"width": 4, "blocks": 1, "workers": 2, "batch": 4, "steps": 3, "lr": 0.05,
           "ratio": 0.01, "curve_every": 10}
    bits = {m: run_replica(cfg, data, m, 0, torch.device("cpu"))["bits_per_round"]
            for m in ("dcgd", "ef", "ef21")}
    assert bits["dcgd"] == bits["ef"] == bits["ef21"] and len(bits["dcgd"]) == 1


@pytest.mark.parametrize("name", ["ef_cnn", "quant_budget", "topk_energy"])
def test_full_without_cuda_is_one_line_error(name, capsys, tmp_path):
    import importlib

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    mod = importlib.import_module(f"gpu_validation.{name}")
    assert mod.main(["--full", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]
    assert not (tmp_path / "x.json").exists()


def _check_doc(path, name):
    doc = json.loads(path.read_text())
    assert doc["experiment"] == name
    prov = doc["provenance"]
    for key in ("device", "backend", "versions", "date", "command", "seed"):
        assert key in prov
    assert prov["device_type"] == "cpu" and prov["device"].startswith("cpu")
    v = doc["verdict"]
    assert v["status"] in ("holds", "contradicted", "inconclusive")
    assert len(v["mutants"]) >= 2
    assert v["tolerance"] and v["n"] is not None
    assert doc["explanation"]
    return doc


def test_ef_cnn_micro_run(tmp_path, monkeypatch):
    from gpu_validation import ef_cnn

    monkeypatch.setitem(ef_cnn.CONFIG, "tiny", {
        "width": 4, "blocks": 1, "workers": 2, "batch": 4, "steps": 4, "lr": 0.05,
        "ratio": 0.02, "replicas": 2, "curve_every": 2, "reference": False})
    assert ef_cnn.main(["--tiny", "--out", str(tmp_path / "ef.json")]) == 0
    doc = _check_doc(tmp_path / "ef.json", "ef_cnn")
    assert {m["name"] for m in doc["verdict"]["mutants"]} == {
        "ef_no_gain", "ef21_worse", "ef_same_accuracy"}


def test_quant_budget_micro_run(tmp_path, monkeypatch):
    from gpu_validation import quant_budget

    monkeypatch.setitem(quant_budget.CONFIG, "tiny", {
        "hidden": 8, "depth": 1, "workers": 2, "batch": 4, "steps": 4, "lr": 0.05,
        "bits": 2, "nu": 5.0, "noise_scale": 0.2, "replicas": 2, "checkpoints": 2,
        "reference": False})
    assert quant_budget.main(["--tiny", "--out", str(tmp_path / "q.json")]) == 0
    doc = _check_doc(tmp_path / "q.json", "quant_budget")
    det = doc["verdict"]["details"]
    assert set(det["derived_mse_at_input_law"]) == {"tnq", "tuq"}
    assert all(math.isfinite(x) for x in det["derived_mse_at_input_law"].values())


def test_topk_energy_micro_run(tmp_path):
    from gpu_validation import topk_energy

    out = tmp_path / "t.json"
    assert topk_energy.main(["--tiny", "--epochs", "1", "--captures", "8", "--out",
                             str(out)]) == 0
    doc = _check_doc(out, "topk_energy")
    assert doc["verdict"]["against"] in (None, "derived")
    assert len(doc["captures"]) == 8
    assert topk_energy.main(["--tiny", "--hidden", "0", "--out", str(out)]) == 2
