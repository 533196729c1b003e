"""Run claims in worker processes (``theorykit verify --jobs N``).

Each worker is a fresh interpreter (``spawn``: no fork after torch's thread pools started)
that loads the claim registry — and the user's ``--claims`` modules — once, runs one claim
at a time with one intra-op thread, and sends the verdict back as JSON. Results arrive in
completion order; the caller records each as it comes (the journal loses nothing when the
run is interrupted) and restores the requested order at the end.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from theorykit.check.claim import Claim, RunContext, Verdict

_WORKER_CLAIMS: dict[str, Claim] = {}


def _init_worker(user_targets: Sequence[str]) -> None:
    import torch

    from theorykit.check.registry import all_claims, load_user_claims

    torch.set_num_threads(1)
    for c in all_claims():
        _WORKER_CLAIMS[c.id] = c
    for target in user_targets:
        for c in load_user_claims(target):
            _WORKER_CLAIMS[c.id] = c


def _run_in_worker(claim_id: str, mode: str, seed: int, device: str, mutants: bool
                   ) -> dict[str, Any]:
    from theorykit.check.ledger import _jsonable, run_claim

    ctx = RunContext(mode=mode, seed=seed, device=device)  # type: ignore[arg-type]
    v = run_claim(_WORKER_CLAIMS[claim_id], ctx, mutants=mutants)
    import json

    return json.loads(json.dumps(v.to_json(), default=_jsonable))


def run_parallel(claims: Sequence[Claim], ctx: RunContext, *, jobs: int, mutants: bool,
                 user_targets: Sequence[str] = (),
                 on_start: Callable[[Claim], None] | None = None) -> Iterator[tuple[Claim,
                                                                                      Verdict]]:
    """Yield ``(claim, verdict)`` as each finishes, running ``jobs`` claims at a time. The
    slowest claims are not known in advance, so claims are submitted in order and a new one
    starts whenever a worker frees up."""
    pending: dict[Future, Claim] = {}
    todo = list(claims)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(tuple(user_targets),)) as ex:
        def submit() -> None:
            c = todo.pop(0)
            if on_start:
                on_start(c)
            pending[ex.submit(_run_in_worker, c.id, ctx.mode, ctx.seed, ctx.device,
                              mutants)] = c
        for _ in range(min(jobs, len(todo))):
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                c = pending.pop(fut)
                yield c, Verdict.from_json(fut.result())
                if todo:
                    submit()
