"""The method registry: names, module:Object resolution, the CLI listing, and the SDE
derivation / simulator reading methods only through the abstraction."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from theorykit.compressors.registry import make
from theorykit.errors import AssumptionError, InputError
from theorykit.methods import DCSGD, DSGD, EF, EF21, Method, catalog, make_method, resolve


def test_catalog_lists_the_six_builtins():
    assert {"dsgd", "dcsgd", "dsignsgd", "ef", "ef21", "diana"} <= set(catalog())


def test_resolve_by_name_and_module_object():
    assert resolve("DCSGD") is DCSGD
    mine = resolve("examples.my_method:MyMethod")
    assert issubclass(mine, Method) and mine.has_sde()
    with pytest.raises(InputError, match="unknown method"):
        resolve("adam")
    with pytest.raises(InputError, match="not a Method"):
        resolve("theorykit.methods.registry:catalog")


def test_make_method_compressor_rules():
    assert isinstance(make_method("ef", make("topk", k=1)), EF)
    with pytest.raises(InputError, match="needs a compressor"):
        make_method("ef21")
    with pytest.raises(InputError, match="takes no compressor"):
        make_method("dsgd", make("topk", k=1))


def test_stateless_direction_equals_worker_and_server_steps():
    g = torch.Generator().manual_seed(0)
    grads = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    m = DCSGD(make("randk", k=2))
    d1 = m.direction(grads, torch.Generator().manual_seed(1))
    msg, _ = m.worker_step(None, grads, torch.Generator().manual_seed(1))
    d2, _ = m.server_step(msg)
    assert torch.equal(d1, d2)
    assert torch.equal(DSGD().direction(grads), grads.mean(1))


def test_stateful_method_refuses_one_shot_direction_and_sde():
    m = EF21(make("topk", k=1))
    with pytest.raises(InputError, match="keeps state"):
        m.direction(torch.zeros(1, 2, 3))
    from theorykit.sde.derive import derive

    with pytest.raises(AssumptionError, match="no SDE is known"):
        derive(m, None, None, 2)


def test_user_method_derives_and_simulates():
    from examples.my_method import MyMethod
    from theorykit.problems import Quadratic
    from theorykit.sde.derive import derive
    from theorykit.simulate import run_discrete

    sde = derive("examples.my_method:MyMethod", None, "gaussian", 2, n_workers=4)
    assert sde.meta["method"] == "gaussian_dsgd"
    r = run_discrete(MyMethod(tau=0.5), Quadratic(eigs=[1.0, 2.0]), "gaussian", eta=0.05,
                     steps=50, replicas=8, n_workers=4, x0=1.0, seed=0)
    assert r.mean["loss"].shape == (51,) and not r.diverged


def test_stateful_methods_run_in_the_simulator():
    from theorykit.problems import Quadratic
    from theorykit.simulate import run_discrete

    for m in (EF(make("topk", k=1)), EF21(make("topk", k=1)),
              make_method("diana", make("randk", k=1))):
        r = run_discrete(m, Quadratic(eigs=[1.0, 2.0]), "gaussian", eta=0.05, steps=200,
                         replicas=4, n_workers=2, x0=1.0, seed=0)
        assert r.mean["loss"][-1] < r.mean["loss"][0]


def test_cli_methods_json():
    out = subprocess.run([sys.executable, "-m", "theorykit", "methods", "--json"],
                         capture_output=True, text=True, check=True).stdout
    rows = {r["label"]: r for r in json.loads(out)}
    assert {"DSGD", "DCSGD", "DSignSGD", "EF", "EF21", "DIANA"} <= set(rows)
    assert rows["DIANA"]["stateful"] and not rows["DIANA"]["has_sde"]
    assert rows["DCSGD"]["has_sde"] and not rows["DCSGD"]["stateful"]
