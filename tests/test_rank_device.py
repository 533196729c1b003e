"""The trainer's rank -> device mapping: gloo on the CPU; NCCL one GPU per local rank, and
a rank without a GPU is a clear error naming the simulated-workers mode (tested with the
NCCL group and CUDA mocked, as far as a CPU machine allows)."""

from __future__ import annotations

import pytest
import torch

from theorykit.distributed import train as tr
from theorykit.errors import InputError


def test_gloo_or_no_group_is_cpu(monkeypatch) -> None:
    monkeypatch.setattr(tr.dist, "is_initialized", lambda: False)
    assert tr.rank_device(3) == torch.device("cpu")
    monkeypatch.setattr(tr.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(tr.dist, "get_backend", lambda: "gloo")
    assert tr.rank_device(3) == torch.device("cpu")


def test_nccl_one_gpu_per_local_rank(monkeypatch) -> None:
    monkeypatch.setattr(tr.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(tr.dist, "get_backend", lambda: "nccl")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: chosen.append(d))
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert tr.rank_device(5) == torch.device("cuda", 1) and chosen == [torch.device("cuda", 1)]
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(InputError, match=r"one GPU per rank.*simulated"):
        tr.rank_device(2)
