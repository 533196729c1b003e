"""Distributed and interrupted-run faults (issue 14, item 5).

* a rank killed mid-run (SIGKILL) makes the survivor fail by itself, with a clear error,
  well within the collective timeout -- no hang;
* a rank that hangs (SIGSTOP) makes the survivor fail at the gloo timeout;
* a run killed mid-way and restarted on the same checkpoint directory ends bit-identical
  to the uninterrupted run (same seeds);
* ``theorykit verify --journal J`` killed by a signal in the middle of a claim keeps every
  finished verdict, and ``--resume`` reuses them and runs only the rest.

Two gloo ranks on CPU, as in CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from theorykit.distributed.launch import GRACE_S, RankFailure, run_local
from theorykit.distributed.train import TrainConfig, spawn, train

pytestmark = pytest.mark.distributed

KILL_STEP = 25
TIMEOUT_S = 30.0


def _small(**kw) -> TrainConfig:
    base = dict(method="dcsgd", compressor="randk", params={"k": 16}, steps=30, batch=16,
                hidden=16, n_samples=512, seed=3, log_every=5, checkpoint_every=10)
    return TrainConfig(**(base | kw))


def _fault_at(rank: int, step: int, sig: int, stamp: str | None = None):
    me = dist.get_rank()

    def on_step(s: int) -> None:
        if me == rank and s == step:
            if stamp:
                Path(stamp).write_text(repr(time.time()))
            os.kill(os.getpid(), sig)

    return on_step


def _reference_then_killed(ref: TrainConfig, victim: TrainConfig, ref_out: str,
                           stamp: str) -> None:
    """Rank-level body: the uninterrupted reference run (saved by rank 0), then the victim
    run, in which rank 1 kills itself with SIGKILL after step KILL_STEP."""
    res = train(ref)
    if dist.get_rank() == 0:
        torch.save(res, ref_out)
    train(victim, _fault_at(1, KILL_STEP, signal.SIGKILL, stamp))


def _hang(cfg: TrainConfig, stamp: str) -> None:
    train(cfg, _fault_at(1, 3, signal.SIGSTOP, stamp))


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    ckpt = root / "ckpt"
    with pytest.raises(RankFailure) as info:
        run_local(_reference_then_killed, _small(), _small(out_dir=str(ckpt)),
                  str(root / "reference.pt"), str(root / "killed_at"), world_size=2,
                  timeout_s=TIMEOUT_S, workdir=str(root))
    elapsed = time.time() - float((root / "killed_at").read_text())  # kill -> failure
    return info.value, elapsed, torch.load(root / "reference.pt", weights_only=False), ckpt


def test_killed_rank_fails_the_run_fast_with_a_clear_error(killed):
    exc, elapsed, _, _ = killed
    assert elapsed < TIMEOUT_S / 2, f"took {elapsed:.1f} s (timeout {TIMEOUT_S} s): {exc}"
    assert exc.outcomes[1] == "killed by SIGKILL"
    # the survivor failed by itself (its collective saw the dead peer), not killed by us
    assert exc.outcomes[0] != "ok" and "still running" not in exc.outcomes[0]
    assert "\n" not in str(exc) and "rank 1: killed by SIGKILL" in str(exc)


def test_resume_after_kill_reproduces_the_uninterrupted_run(killed):
    _, _, ref, ckpt = killed
    assert (ckpt / "ckpt_rank0.pt").exists() and (ckpt / "ckpt_rank1.pt").exists()
    for r in (0, 1):
        assert torch.load(ckpt / f"ckpt_rank{r}.pt", weights_only=False)["step"] == 20
    resumed = spawn(_small(out_dir=str(ckpt)), world_size=2, timeout_s=TIMEOUT_S)[0]
    for res in resumed:
        assert torch.equal(res["params"], ref["params"])
        assert res["history"] == ref["history"]
        assert res["comm"] == ref["comm"]
        assert res["final_loss"] == ref["final_loss"]


@pytest.mark.slow
def test_hung_rank_fails_the_survivor_at_the_timeout(tmp_path):
    timeout = 4.0
    with pytest.raises(RankFailure) as info:
        run_local(_hang, _small(steps=10), str(tmp_path / "stopped_at"), world_size=2,
                  timeout_s=timeout, workdir=str(tmp_path))
    elapsed = time.time() - float((tmp_path / "stopped_at").read_text())
    out = info.value.outcomes
    assert out[0] != "ok" and "still running" not in out[0]  # gloo timed out on rank 0
    assert "still running" in out[1] and "killed" in out[1]  # the stopped rank is reaped
    # rank 0 times out after `timeout`; the stopped rank is killed after timeout + grace
    assert timeout <= elapsed < 2 * timeout + GRACE_S + 10, f"took {elapsed:.1f} s"


# --------------------------------------------------------------------------- verify journal
CLAIMS = "compressors.t*"  # six quick claims of a few seconds each


def _verify(journal: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "theorykit", "verify", "--quick", "--only", CLAIMS,
           "--journal", str(journal), "--no-progress", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])


def _lines(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    text = journal.read_text()
    return [json.loads(s) for s in text.splitlines() if s.strip()] if text.endswith("\n") \
        else [json.loads(s) for s in text.splitlines()[:-1] if s.strip()]


@pytest.mark.slow
def test_verify_killed_mid_claim_keeps_finished_verdicts(tmp_path):
    journal = tmp_path / "journal.jsonl"
    proc = _verify(journal)
    deadline = time.monotonic() + 120
    while len(_lines(journal)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "verify finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)  # in the middle of the third claim
    proc.wait(timeout=30)
    done = _lines(journal)
    assert len(done) >= 2
    finished = {v["claim_id"]: v for v in done}

    proc = _verify(journal, "--resume")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "holds: 6" in out
    resumed = {line.split("] ")[1].split(" (")[0] for line in err.splitlines()
               if line.endswith("(resumed)")}
    assert resumed == set(finished), err
    after = _lines(journal)
    ids = [v["claim_id"] for v in after]
    assert len(ids) == len(set(ids)) == 6, ids  # nothing finished was run twice
    for v in after[: len(done)]:
        assert v == finished[v["claim_id"]]
