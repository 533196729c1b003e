"""What the claim modules share: the source citations (one string per paper, keyed as in
``docs/references.md``) and the one-thread guard for small batched tensors.

The leading underscore keeps this module out of the claim discovery
(:func:`theorykit.check.registry.all_claims` imports the public modules only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from theorykit.methods.biased import one_thread

if TYPE_CHECKING:
    from theorykit.check.claim import RunContext, Verdict

__all__ = ["BEZNOSIKOV2023", "COMPAGNONI2025", "COMPAGNONI2025_L0L1", "one_thread",
           "one_thread_claim"]

COMPAGNONI2025 = "Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025 (arXiv 2502.17009)"
"""``compagnoni2025`` in docs/references.md."""
COMPAGNONI2025_L0L1 = "Compagnoni, Islamov, Orvieto & Gorbunov, arXiv 2506.00181 (2025)"
"""``compagnoni2025l0l1`` in docs/references.md."""
BEZNOSIKOV2023 = "Beznosikov, Horváth, Richtárik, Safaryan, JMLR 24(276), 2023"
"""``beznosikov2023`` in docs/references.md."""


def one_thread_claim(run: Callable[..., Verdict], *args: Any, doc: str
                     ) -> Callable[[RunContext], Verdict]:
    """The claim function ``ctx -> run(*args, ctx)`` run under :func:`one_thread`, with
    ``doc`` as its docstring (the registry reads the claim's statement from it): one
    definition for the claim families registered in a loop over their configurations."""

    def claim_run(ctx: RunContext) -> Verdict:
        with one_thread():
            return run(*args, ctx)

    claim_run.__doc__ = doc
    return claim_run
