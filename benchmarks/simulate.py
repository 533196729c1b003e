"""Benchmark: theorykit's discrete run driver vs the same method written as a hand loop.

Same process, same problem, same compressor object, same step and replica counts. The hand
loop is what a researcher writes for one method on a diagonal quadratic
``f = 1/2 Σ λ_j x_j²`` (λ_j evenly spaced in [0.5, 2]), N = 4 workers, Gaussian noise σ = 1,
B = 1, float64::

    g = λ ⊙ X[:, None, :] + σ · randn(R, N, d)        # the workers' stochastic gradients
    X = X - η · mean_i C(g_i)                         # C: the compressor's apply (DCSGD)

``theorykit`` is :func:`theorykit.simulate.run_discrete` with the registered method
(``DSGD`` or ``DCSGD`` with the catalog compressor), recording the loss every 10 steps.
Each side's time is the best of ``--repeats`` runs; the row's figure is replica-steps per
second and the ratio theorykit / hand loop (the driver's overhead: 1.0 = none). Issue 11
asks that this ratio hold through the one-definition refactor; the script runs unchanged on
older checkouts (``PYTHONPATH=<checkout> python benchmarks/simulate.py``), so the ratio can
be measured before and after in the same session.

Usage: ``python benchmarks/simulate.py [--quick] [--json PATH] [--repeats 3] [--threads T]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import _results  # benchmarks/_results.py: results files with provenance
import numpy as np
import torch

N_WORKERS, SIGMA, ETA = 4, 1.0, 0.05


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _cases(quick: bool) -> list[tuple[str, tuple[str, dict] | None, int, int, int]]:
    """(method, compressor (name, params) or None, d, replicas, steps)."""
    if quick:
        return [("dsgd", None, 10, 200, 50), ("dcsgd", ("qsgd", {"s": 4}), 10, 200, 50)]
    return [("dsgd", None, 10, 2000, 400), ("dsgd", None, 1000, 200, 200),
            ("dcsgd", ("qsgd", {"s": 4}), 10, 2000, 400),
            ("dcsgd", ("qsgd", {"s": 4}), 1000, 200, 200),
            ("dcsgd", ("randk", {"k": 2}), 100, 1000, 300)]


def run_case(method: str, comp_spec: tuple[str, dict] | None, d: int, R: int, steps: int,
             repeats: int) -> dict:
    from theorykit.compressors import make as make_compressor
    from theorykit.methods import DCSGD, DSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic
    from theorykit.simulate import run_discrete

    lam = np.linspace(0.5, 2.0, d)
    problem, noise = Quadratic(eigs=lam), Gaussian(sigma=SIGMA)
    comp = make_compressor(comp_spec[0], **comp_spec[1]) if comp_spec else None
    m = DSGD() if comp is None else DCSGD(comp)

    def theorykit_run() -> None:
        run_discrete(m, problem, noise, eta=ETA, steps=steps, replicas=R, n_workers=N_WORKERS,
                     x0=1.0, seed=1, record_every=10, stats=("loss",), progress=False)

    lam_t = torch.as_tensor(lam, dtype=torch.float64)

    def hand_loop() -> None:
        gen = torch.Generator().manual_seed(1)
        X = torch.ones(R, d, dtype=torch.float64)
        for k in range(steps):
            g = lam_t * X[:, None, :] + SIGMA * torch.randn(R, N_WORKERS, d, generator=gen,
                                                               dtype=torch.float64)
            if comp is not None:
                g = comp.apply(g, gen)
            X = X - ETA * g.mean(dim=1)
            if k % 10 == 9:
                float((0.5 * lam_t * X * X).sum(-1).mean())

    theorykit_run()  # warm-up: lambdify / compile caches, allocator
    hand_loop()
    t_tk, t_hand = _best(theorykit_run, repeats), _best(hand_loop, repeats)
    work = R * steps
    return {"method": method, "compressor": None if comp_spec is None else
            f"{comp_spec[0]} {comp_spec[1]}", "d": d, "replicas": R, "steps": steps,
            "theorykit_per_s": work / t_tk, "hand_loop_per_s": work / t_hand,
            "ratio_theorykit_vs_hand": t_hand / t_tk}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke)")
    p.add_argument("--json", help="write the rows to this file (default for a full run: "
                   "results/benchmarks/simulate.json)")
    p.add_argument("--repeats", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"{'method':7s} {'compressor':18s} {'d':>5s} {'R':>5s} {'steps':>5s} "
          f"{'theorykit/s':>12s} {'hand/s':>12s} {'tk/hand':>8s}")
    rows = []
    for method, comp, d, R, steps in _cases(args.quick):
        row = run_case(method, comp, d, R, steps, repeats)
        rows.append(row)
        print(f"{method:7s} {row['compressor'] or '-':18s} {d:5d} {R:5d} {steps:5d} "
              f"{row['theorykit_per_s']:12.3g} {row['hand_loop_per_s']:12.3g} "
              f"{row['ratio_theorykit_vs_hand']:8.2f}", flush=True)
    print("columns: replica-steps per second (best of repeats); tk/hand = the driver's "
          "speed relative to the hand loop (1.0: no overhead)")
    return _results.finish("simulate", {"rows": rows, "threads": torch.get_num_threads()},
                           args.json, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
