"""``theorykit check bound``: a true bound holds (exit 0), a violated one is contradicted
(exit 1), a loose one is reported loose, bad input is a one-line error (exit 2)."""

from __future__ import annotations

import json

import pytest

from theorykit.cli import main

# the derived DCSGD PL bound (attained by the SDE on an isotropic quadratic)
C = "(1 - eta*L*omega/(2*N))"
PL = (f"exp(-2*mu*{C}*t)*Delta_0 + (1 - exp(-2*mu*{C}*t))*eta*L*(1+omega)*d*sigma^2"
      f"/(4*mu*N*B*{C})")
BASE = ["check", "bound", "--method", "dcsgd", "--compressor", "bernoulli", "-p", "p=0.5",
        "-N", "4", "--eigs", "1,1", "--x0", "3,3", "--lr", "0.1", "--steps", "20",
        "--replicas", "500", "--checkpoints", "5", "--seed", "1"]


def _run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    rc = main([*BASE, *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_true_bound_holds(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--bound", PL)
    assert rc == 0
    assert "holds" in out and "meas/bound" in out


def test_halved_bound_is_contradicted(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--bound", f"({PL})/2")
    assert rc == 1
    assert "contradicted" in out


def test_loose_bound_is_reported_not_contradicted(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--bound", f"3*({PL})", "--json")
    d = json.loads(out)
    assert rc == 0 and d["status"] == "holds" and d["tightness"] == "loose"
    assert all(r["ratio"] < 0.5 for r in d["checkpoints"] if r["k"] > 0)


def test_loose_bound_claimed_tight_is_contradicted(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--bound", f"3*({PL})", "--tight")
    assert rc == 1 and "claimed attained" in out


@pytest.mark.parametrize("bound, msg", [
    ("__import__('os').system('true')", "--bound"),
    ("exp(-t) * foo", "foo"),
    ("nu * t", "nu"),
    ("1 +", "--bound"),
])
def test_bad_bound_is_a_one_line_error(capsys: pytest.CaptureFixture[str], bound: str,
                                       msg: str) -> None:
    rc, _, err = _run(capsys, "--bound", bound)
    assert rc == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and msg in lines[0]


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "bound", "--method", "dsgd", "--lr", "0.1", "--bound",
                 "omega*t"]) == 2
    assert main(["check", "bound", "--method", "dcsgd", "--lr", "0.1", "--bound", "t"]) == 2
    assert main([*BASE[:-2], "--seed", "-1", "--bound", "t"]) == 2
    assert main([*BASE, "--x0", "1,2,3", "--bound", "t"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
