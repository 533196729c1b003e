"""Random CLI argument vectors never produce a traceback (issue 14, item 3), and the
resource bounds of item 2 refuse oversized requests with one line before any work.

Argument vectors are built from the real subcommands and options (plus junk values) and
run in-process through :func:`theorykit.cli.main` with captured output: the exit status is
0, 1 or 2 (argparse's own usage errors exit 2 too) and stderr holds no traceback.
"""

from __future__ import annotations

import contextlib
import io
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theorykit.cli import main
from theorykit.errors import InputError
from theorykit.limits import MAX_BITS, MAX_LEVELS, MAX_SAMPLES, check_memory

VALUES = ["0", "1", "2", "3", "-1", "1e9", "1e400", "nan", "inf", "abc", "", "0.5", "k=2",
          "p=0.5", "s=3", "d=4", "pdf=exp(-g**2/2)/sqrt(2*pi)", "pdf=__import__('os')",
          "1/4", "randk", "qsgd", "bernoulli", "laplace", "gaussian", "student_t", "--x",
          "noise.nu=3", "noise.alpha=2.5", "noise.scale=-1", "noise.pdf=__import__('os')"]
OPTIONS = {
    "derive": (["--method"], ["dsgd", "dcsgd", "dsignsgd", "nope"],
               ["--compressor", "-p", "--noise", "--nu", "--alpha", "--sigma", "--workers",
                "--batch", "--dim", "--lr", "--format", "--vote"]),
    "quantize": (["--density"], ["laplace", "gaussian", "custom", "pareto", "nope"],
                 ["-p", "--levels", "--bits", "--scheme", "--cq", "--json", "--latex"]),
    "compressor": ([], ["randk", "qsgd", "bernoulli", "sign", "identity", "nope", "os:system"],
                   ["-p", "--samples", "--seed", "--json"]),
    "compressors": ([], [], ["--json"]),
    "noise": ([], [], ["--json"]),
}
FLAGS = {"--json", "--latex"}


@st.composite
def argv(draw):
    cmd = draw(st.sampled_from(sorted(OPTIONS)))
    lead, firsts, opts = OPTIONS[cmd]
    out = [cmd]
    if firsts:
        out += [*lead, draw(st.sampled_from(firsts))]
    for opt in draw(st.lists(st.sampled_from(opts), max_size=4)):
        out.append(opt)
        if opt not in FLAGS:
            out.append(draw(st.sampled_from(VALUES)))
    if cmd == "derive" and "--dim" not in out:  # keep the derivations small and fast
        out += ["--dim", draw(st.sampled_from(["1", "2", "3"]))]
    return out


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(argv())
def test_random_argv_never_tracebacks(args):
    code, _, err = run_cli(args)
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in err, (args, err)
    if code == 2 and err.startswith("theorykit: error:"):
        assert err.count("\n") == 1, err  # one line


@pytest.mark.parametrize("args, limit", [
    (["quantize", "--density", "laplace", "--levels", str(MAX_LEVELS + 1)], str(MAX_LEVELS)),
    (["quantize", "--density", "laplace", "--bits", str(MAX_BITS + 1)], str(MAX_BITS)),
    (["quantize", "--density", "laplace", "--bits", "8", "--scheme", "biscaled"], "63"),
    (["compressor", "randk", "-p", "k=2", "--verify", "--samples", str(MAX_SAMPLES + 1)],
     str(MAX_SAMPLES)),
    (["compressor", "randk", "-p", "k=2", "-p", "d=100000000", "--verify", "--samples",
      "1000000"], "memory"),
    (["derive", "--method", "dcsgd", "--compressor", "randk", "-p", "k=2", "--dim",
      "100000"], "64"),
    (["derive", "--method", "dsgd", "--dim", "100000"], "1000"),
    (["derive", "--method", "dsgd", "--workers", "100000000"], "10000"),
])
def test_oversized_requests_stop_within_seconds_with_one_line(args, limit):
    t0 = time.perf_counter()
    code, _, err = run_cli(args)
    assert time.perf_counter() - t0 < 10
    assert code == 2 and err.startswith("theorykit: error:") and err.count("\n") == 1, err
    assert limit in err


def test_cq_is_not_evaluated_as_code():
    code, _, err = run_cli(["quantize", "--density", "laplace", "--bits", "2", "--cq",
                            "__import__('os').system('true')"])
    assert code == 2 and "--cq" in err


def test_simulation_memory_is_estimated_before_allocating():
    from theorykit.problems import Quadratic
    from theorykit.simulate import run_discrete

    prob = Quadratic([1.0, 2.0])
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="memory"):
        run_discrete("dsgd", prob, "gaussian", eta=0.1, steps=10, replicas=10**7,
                     n_workers=10**5, x0=1.0)
    assert time.perf_counter() - t0 < 5
    with pytest.raises(InputError, match="steps"):
        run_discrete("dsgd", prob, "gaussian", eta=0.1, steps=10**9, replicas=1, x0=1.0)


def test_check_memory_names_the_estimate_and_the_limit():
    with pytest.raises(InputError, match=r"needs about 1\.0 GiB.*limit 1\.0 MiB"):
        check_memory("a test", 2**30, budget=2**20)
    check_memory("a test", 10, budget=2**20)


def test_solver_refuses_a_trajectory_above_the_budget(monkeypatch):
    from theorykit.sde.solvers import EulerMaruyama

    monkeypatch.setenv("THEORYKIT_MAX_MEMORY", "1M")
    x0 = torch.zeros(100, 100, dtype=torch.float64)
    with pytest.raises(InputError, match="memory"):
        EulerMaruyama().solve(lambda t, x: -x, lambda t, x: torch.ones_like(x), x0, 0.0,
                              1.0, 0.01, record="trajectory")
