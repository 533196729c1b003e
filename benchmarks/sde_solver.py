"""Benchmark: theorykit's batched SDE solver vs torchsde's Euler vs a hand-written loop.

Same process, same SDEs, same step count and path count; reports paths x steps per second
(best of the repeats) and the ratios theorykit / hand loop and theorykit / torchsde.

SDEs (Itô, t in SDE time, dt = eta = 0.01):

* **diagonal**: DCSGD with Bernoulli(p = 1/2) compressors on the diagonal quadratic
  f = 1/2 Σ λ_j x_j², λ_j evenly spaced in [0.5, 2], N = 4 workers, Gaussian noise σ = 1, B = 1,
  derived by :func:`theorykit.sde.derive` (drift -λ ⊙ x, state-dependent diagonal diffusion
  sqrt(η Σ_jj(x)), Σ_jj = (1/N²) Σ_i [1 + ω(λ_j² x_j² + 1)]).
* **general**: DSGD on the same quadratic with a full per-sample noise covariance C (drift
  -λ ⊙ x, constant full diffusion matrix sqrt(η/N²·N) C^{1/2}); derived by theorykit for
  d <= 100. For d = 1000 the symbolic 10^6-entry covariance is not practical, so the same
  coefficients are given as hand-made callables (the row says so).

Contenders:

* ``theorykit``: :class:`theorykit.sde.solvers.EulerMaruyama` on ``SDE.lambdify("torch")``
  (the full pipeline);
* ``theorykit(hand f,g)``: the same solver on the hand-written coefficient functions (the
  solver's own overhead);
* ``hand loop``: ``x = x + f(x) dt + g(x) * randn * sqrt(dt)`` written out for this SDE;
* ``torchsde``: ``torchsde.sdeint(method="euler")`` on the hand-written f/g (its Brownian
  interval included, as a user would run it).

Usage: ``python benchmarks/sde_solver.py [--quick] [--json PATH] [--repeats 3] [--threads T]``.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from typing import Any

import _results  # benchmarks/_results.py: results files with provenance
import numpy as np
import torch

ETA = 0.01
N_WORKERS = 4


def _quadratic(d: int):
    from theorykit.problems import Quadratic

    return Quadratic(eigs=list(np.linspace(0.5, 2.0, d)))


def _cov(d: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((d, d))
    return a @ a.T / d + np.eye(d)


def build(kind: str, d: int, dtype: torch.dtype) -> dict[str, Any]:
    """Coefficients of the benchmark SDE: lambdified (theorykit) and hand-written."""
    from theorykit.compressors.registry import make
    from theorykit.noise import Gaussian
    from theorykit.sde import derive

    lam = torch.tensor(np.linspace(0.5, 2.0, d), dtype=dtype)
    t0 = time.perf_counter()
    if kind == "diagonal":
        p = 0.5
        om = 1 / p - 1
        sde = derive("dcsgd", make("bernoulli", p=p), Gaussian(sigma=1.0), _quadratic(d),
                     n_workers=N_WORKERS, batch=1)
        f_td, g_td = sde.lambdify("torch", {"eta": ETA})
        c = ETA / N_WORKERS**2 * N_WORKERS  # eta * (1/N^2) * sum over N identical workers

        def f_hand(t, x):
            return -lam * x

        def g_hand(t, x):
            return torch.sqrt(c * (1 + om * (lam * lam * x * x + 1)))

        origin = "derived (DCSGD, Bernoulli p=1/2)"
        m = d
    else:
        C = _cov(d)  # per-sample covariance; Cov of the mean of N workers' noise is C / N
        L = torch.tensor(np.linalg.cholesky(C / N_WORKERS) * math.sqrt(ETA), dtype=dtype)
        if d <= 100:
            sde = derive("dsgd", None, Gaussian(cov=C), _quadratic(d), n_workers=N_WORKERS,
                         batch=1)
            f_td, g_td = sde.lambdify("torch", {"eta": ETA})
            origin = "derived (DSGD, full Gaussian covariance)"
        else:
            sde = None
            Lb = L[None]
            f_td = lambda t, x: -lam * x  # noqa: E731
            g_td = lambda t, x: Lb.expand(x.shape[0], d, d)  # noqa: E731
            origin = "hand-made SDE object (symbolic 10^6-entry covariance impractical)"
        Lt = L.T.contiguous()

        def f_hand(t, x):
            return -lam * x

        def g_hand(t, x):
            return L

        m = d
    return {"f_td": f_td, "g_td": g_td, "f_hand": f_hand, "g_hand": g_hand, "kind": kind,
            "m": m, "origin": origin, "derive_s": time.perf_counter() - t0,
            "L_T": Lt if kind == "general" else None}


# ----------------------------------------------------------------------------- contenders
def run_theorykit(spec, x0, steps, gen, which="td"):
    from theorykit.sde.solvers import EulerMaruyama

    f, g = (spec["f_td"], spec["g_td"]) if which == "td" else (spec["f_hand"], spec["g_hand"])
    if which == "hand" and spec["kind"] == "general":
        L = spec["g_hand"](0.0, x0)

        def g(t, x):  # the solver contract: (1, d, m) for a matrix shared by all paths
            return L[None]
    return EulerMaruyama().solve(f, g, x0, 0.0, steps * ETA, ETA, generator=gen).x


def run_hand(spec, x0, steps, gen):
    f, g = spec["f_hand"], spec["g_hand"]
    x = x0
    sq = math.sqrt(ETA)
    if spec["kind"] == "diagonal":
        for k in range(steps):
            t = k * ETA
            x = x + f(t, x) * ETA + g(t, x) * (torch.randn(x.shape, generator=gen,
                                                           dtype=x.dtype) * sq)
    else:
        LT = spec["L_T"]
        for k in range(steps):
            t = k * ETA
            x = x + f(t, x) * ETA + (torch.randn(x.shape[0], spec["m"], generator=gen,
                                                 dtype=x.dtype) * sq) @ LT
    return x


def run_torchsde(spec, x0, steps, gen):
    import torchsde

    f, g = spec["f_hand"], spec["g_hand"]
    kind = spec["kind"]

    class S(torch.nn.Module):
        noise_type = kind
        sde_type = "ito"

        def f(self, t, y):
            return f(t, y)

        def g(self, t, y):
            if kind == "general":
                return g(t, y).expand(y.shape[0], -1, -1)
            return g(t, y)

    ts = torch.tensor([0.0, steps * ETA], dtype=x0.dtype)
    out = torchsde.sdeint(S(), x0, ts, method="euler", dt=ETA)
    return out[-1]


def timeit(fns: dict[str, Callable[[int], Any]], steps: int, repeats: int, budget_s: float
           ) -> dict[str, tuple[float, int]]:
    """Per contender, a 1-step probe sets the step count so that one run takes about
    ``budget_s`` at most (never more than ``steps``); returns, per contender, (best-of-
    ``repeats`` seconds per step, steps used). The repeats are interleaved (contender A, B,
    C, ..., A, B, C, ...) so that a burst of load from other processes on the machine hits
    every contender alike rather than all the repeats of one; the best of several runs is
    the least disturbed."""
    n: dict[str, int] = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn(1)  # warm-up and probe
        probe = time.perf_counter() - t0
        n[name] = max(1, min(steps, int(budget_s / max(probe, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(n[name])
            times[name].append(time.perf_counter() - t0)
    return {name: (min(times[name]) / n[name], n[name]) for name in fns}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON here (default "
                    "for a full run: results/benchmarks/sde_solver.json)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=3.0,
                    help="seconds per timed run at most (sets each contender's step count)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's own choice)")
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    dims = (10, 100) if args.quick else (10, 100, 1000)
    paths = 1000 if args.quick else 10_000
    rows = []
    print(f"theorykit SDE solver benchmark: {paths} paths, dt = {ETA}, {args.dtype}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    hdr = (f"{'noise':9s} {'d':>5s} {'steps':>5s} {'theorykit':>11s} {'tk(hand f,g)':>12s} "
           f"{'hand loop':>11s} {'torchsde':>11s} {'tk/hand':>8s} {'tk/tsde':>8s}  SDE")
    print(hdr)
    for kind in ("diagonal", "general"):
        for d in dims:
            steps = 20 if args.quick else 200
            spec = build(kind, d, dtype)
            x0 = torch.zeros(paths, d, dtype=dtype)
            fns = {}
            for name, runner in (
                ("theorykit", lambda n, g, s=spec, x=x0: run_theorykit(s, x, n, g, "td")),
                ("theorykit_hand_fg",
                 lambda n, g, s=spec, x=x0: run_theorykit(s, x, n, g, "hand")),
                ("hand_loop", lambda n, g, s=spec, x=x0: run_hand(s, x, n, g)),
                ("torchsde", lambda n, g, s=spec, x=x0: run_torchsde(s, x, n, g)),
            ):
                gen = torch.Generator().manual_seed(0)
                fns[name] = lambda n, r=runner, g=gen: r(n, g)
            timed = timeit(fns, steps, args.repeats, args.budget)
            res = {name: paths / per_step for name, (per_step, _) in timed.items()}
            used = {name: n for name, (_, n) in timed.items()}
            row = {"noise": kind, "d": d, "paths": paths, "steps": used,
                   "paths_steps_per_s": res, "sde": spec["origin"],
                   "derive_and_lambdify_s": spec["derive_s"],
                   "ratio_theorykit_vs_hand": res["theorykit"] / res["hand_loop"],
                   "ratio_theorykit_hand_fg_vs_hand": res["theorykit_hand_fg"] / res["hand_loop"],
                   "ratio_theorykit_vs_torchsde": res["theorykit"] / res["torchsde"]}
            rows.append(row)
            print(f"{kind:9s} {d:5d} {used['theorykit']:5d} {res['theorykit']:11.3g} "
                  f"{res['theorykit_hand_fg']:12.3g} {res['hand_loop']:11.3g} "
                  f"{res['torchsde']:11.3g} {row['ratio_theorykit_vs_hand']:8.2f} "
                  f"{row['ratio_theorykit_vs_torchsde']:8.2f}  {spec['origin']}", flush=True)
    print("columns: paths x steps per second (best of repeats; steps = theorykit's, each "
          "contender's own count is in --json); tk/hand target >= 0.8")
    return _results.finish("sde_solver", {"rows": rows, "dtype": args.dtype}, args.json, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
