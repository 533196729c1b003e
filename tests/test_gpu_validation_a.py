"""gpu_validation infrastructure (common, data, models, workers, run_all) and the tiny runs
of vit_heavy_tails, lm_scaling and svag (slow: each writes a verdict with mutants)."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

pytest.importorskip("sklearn")

from gpu_validation import common, data, models, run_all
from gpu_validation.workers import (
    SimulatedWorkers,
    WorkerSetup,
    svag_weights,
    train,
)
from theorykit.check.claim import Status, Verdict
from theorykit.errors import InputError


def _args(*argv: str) -> argparse.Namespace:
    return common.add_mode_args(argparse.ArgumentParser()).parse_args(list(argv))


def test_modes_and_full_without_cuda() -> None:
    m = common.resolve_mode(_args("--tiny"))
    assert m.name == "tiny" and m.device.type == "cpu" and m.pick(1, 2, 3) == 1
    assert common.resolve_mode(_args()).name == "cpu"
    m = common.resolve_mode(_args("--full", "--device", "cpu"))
    assert m.name == "full" and m.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="--device cpu"):
            common.resolve_mode(_args("--full"))


def test_full_without_cuda_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from gpu_validation import svag

    assert svag.main(["--full"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("svag: error:")


def test_provenance_names_the_device_really_used() -> None:
    m = common.resolve_mode(_args("--tiny"), "cmd")
    p = common.provenance(m, torch.zeros(1))
    assert p["device"].startswith("cpu") and p["device_type"] == "cpu"
    assert p["command"] == "cmd" and p["seed"] == 0 and "torch" in p["versions"]
    assert p["date"].endswith("+00:00")


def test_experiment_verdict_json() -> None:
    v1 = Verdict("a", Status.HOLDS, 1.0, 1.1, (0.9, 1.3), "tol", 4, 0)
    v2 = Verdict("b", Status.CONTRADICTED, 2.0, 5.0, None, "tol", 4, 0)
    mut = common.mutant_result("m", "wrong", v2)
    assert mut.status == "killed"
    ev = common.experiment_verdict("c", "t", [v1, v2], source="derived", seed=0,
                                   mutants=[mut])
    js = ev.to_json()
    assert js["status"] == "contradicted" and js["against"] == "derived"
    assert js["mutants"][0]["status"] == "killed" and len(js["details"]["parts"]) == 2
    ok = common.experiment_verdict("c", "t", [v1], source="source", seed=0)
    assert ok.status == "holds" and ok.against is None
    json.dumps(common.jsonable({"x": math.inf, "y": torch.tensor(1.5)}))


def test_data_fixed_selection_and_split() -> None:
    ds = data.digits()
    assert ds.x_train.shape[1:] == (8, 8) and len(ds.y_train) + len(ds.y_test) == 1797
    t = data.stdlib_bytes(max_files=2)
    assert t.files == data.STDLIB_FILES[:2] and len(t.sha256) == 64
    n = t.train.numel() + t.val.numel()
    assert 0.08 < t.val.numel() / n < 0.12
    x, y = data.windows(t.train, (2, 3), 8, torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 8) and torch.equal(x[..., 1:], y[..., :-1])


def test_models_forward() -> None:
    vit = models.make_model("vit", dim=16, depth=1, heads=2, mlp=16)
    assert vit(torch.zeros(3, 8, 8)).shape == (3, 10)
    lm = models.make_model("byte_lm", ctx=8, dim=16, depth=1, heads=2)
    x = torch.randint(0, 256, (2, 8))
    out = lm(x)
    assert out.shape == (2, 8, 256)
    x2 = x.clone()
    x2[:, -1] = (x2[:, -1] + 1) % 256   # causal: changing the last byte keeps earlier logits
    assert torch.allclose(lm(x2)[:, :-1], out[:, :-1], atol=1e-5)


@pytest.mark.parametrize("method,comp,params", [
    ("dsgd", None, {}), ("dcsgd", "randk", {"k": 50}), ("dsignsgd", None, {}),
    ("ef", "topk", {"k": 50}), ("ef21", "topk", {"k": 50}), ("dcgd", "topk", {"k": 50})])
def test_workers_methods_step(method: str, comp: str | None, params: dict) -> None:
    torch.manual_seed(0)
    model = models.make_model("vit", dim=8, depth=1, heads=2, mlp=8)
    ds = data.digits()
    w = SimulatedWorkers(model, torch.nn.functional.cross_entropy,
                         WorkerSetup(2, 4, method, comp, params, noise="student-t", nu=3,
                                     noise_scale=0.01, codec="encode"), seed=1)
    th0 = w.theta.clone()
    info = w.step(ds.x_train[:8].reshape(2, 4, 8, 8), ds.y_train[:8].reshape(2, 4), 0.01)
    assert w.finite() and not torch.equal(th0, w.theta)
    assert info.dense_bits == 32 * 2 * w.d
    if comp is not None and method != "ef21":
        assert 0 < info.bits < info.dense_bits


def test_per_worker_grads_loop_equals_vmap() -> None:
    model = models.make_model("vit", dim=8, depth=1, heads=2, mlp=8)
    ds = data.digits()
    x, y = ds.x_train[:6].reshape(2, 3, 8, 8), ds.y_train[:6].reshape(2, 3)
    a = SimulatedWorkers(model, torch.nn.functional.cross_entropy, WorkerSetup(2, 3),
                         use_vmap=False).grads(x, y)[0]
    b = SimulatedWorkers(model, torch.nn.functional.cross_entropy, WorkerSetup(2, 3),
                         use_vmap=True).grads(x, y)[0]
    assert torch.allclose(a, b, atol=1e-5)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x[1]), y[1]).backward()
    ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert torch.allclose(a[1], ref, atol=1e-5)


def test_svag_weights_mean_and_covariance() -> None:
    for ell in (1, 2, 8, 32.5):
        w1, w2 = svag_weights(ell)
        assert math.isclose(w1 + w2, 1) and math.isclose(w1**2 + w2**2, ell)
    with pytest.raises(InputError):
        svag_weights(0.5)
    with pytest.raises(InputError, match="SVAG"):
        WorkerSetup(2, 2, "ef", "topk", {"k": 1}, svag_l=2)


def test_train_records_divergence() -> None:
    model = models.make_model("vit", dim=8, depth=1, heads=2, mlp=8)
    ds = data.digits()
    w = SimulatedWorkers(model, torch.nn.functional.cross_entropy, WorkerSetup(1, 4))
    g = torch.Generator().manual_seed(0)

    def sample() -> tuple[torch.Tensor, torch.Tensor]:
        i = torch.randint(0, 100, (1, 4), generator=g)
        return ds.x_train[i], ds.y_train[i]

    c = train(w, sample, 4, 1e6, checkpoints=[0, 2, 4],
              evaluate=lambda ww: ww.evaluate(ds.x_test, ds.y_test), blowup=1e3)
    assert c.at == [0, 2, 4] and c.diverged and math.isinf(c.loss[-1])


def test_run_all_budget_skips(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_all.main(["--tiny", "--budget", "1", "--only", "svag", "lm_scaling"]) == 0
    out = capsys.readouterr().out
    assert "[skipped] svag" in out and "[skipped] lm_scaling" in out
    order = [n for n, *_ in run_all.plan(list(run_all.EXPERIMENTS), "tiny", None)]
    assert order.index("vit_heavy_tails") < order.index("topk_energy")
    if not torch.cuda.is_available():
        assert run_all.main(["--full", "--budget", "1"]) == 2


def _check_doc(path: str, name: str) -> dict:
    with open(path) as fh:
        doc = json.load(fh)
    assert doc["experiment"] == name and doc["provenance"]["mode"] == "tiny"
    assert doc["provenance"]["device"].startswith("cpu")
    v = doc["verdict"]
    assert v["status"] in ("holds", "contradicted", "inconclusive")
    assert len(v["mutants"]) >= 2 and doc["explanation"]
    if v["status"] == "contradicted":
        assert v["against"] in ("source", "derived")
    return doc


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vit_heavy_tails", "lm_scaling", "svag"])
def test_tiny_runs_write_verdicts(name: str, tmp_path) -> None:
    import importlib

    mod = importlib.import_module(f"gpu_validation.{name}")
    out = tmp_path / f"{name}.json"
    assert mod.main(["--tiny", "--out", str(out)]) == 0
    doc = _check_doc(str(out), name)
    if name == "svag":  # the tiny configuration has the power to kill every mutant
        assert {m["status"] for m in doc["verdict"]["mutants"]} == {"killed"}
    if name == "vit_heavy_tails":
        # Three outcomes per nu (trains / fails / undecided): at tiny size DCSGD at nu = 1
        # blows up but its loss stays finite and too spread over 8 seeds to be called a
        # failure at z*SE, so that part is undecided, never counted as confirming "fails".
        parts = {p["claim"]: p for p in doc["verdict"]["details"]["parts"]}
        rows = {r["nu"]: r for r in parts["dcsgd_failure"]["details"]["per_nu"]}
        assert rows[1.0]["outcome"] in ("fails", "undecided")
        assert rows[1.0]["outcome"] != "undecided" or parts["dcsgd_failure"]["status"] != "holds"
        mutants = {m["name"]: m["status"] for m in doc["verdict"]["mutants"]}
        assert mutants["sign_like_dcsgd"] == "killed"
