"""What the claim modules share: the source citations (one string per paper, keyed as in
``docs/references.md``) and the one-thread guard for small batched tensors.

The leading underscore keeps this module out of the claim discovery
(:func:`theorykit.check.registry.all_claims` imports the public modules only)."""

from __future__ import annotations

from theorykit.methods.biased import one_thread

__all__ = ["BEZNOSIKOV2023", "COMPAGNONI2025", "COMPAGNONI2025_L0L1", "one_thread"]

COMPAGNONI2025 = "Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025 (arXiv 2502.17009)"
"""``compagnoni2025`` in docs/references.md."""
COMPAGNONI2025_L0L1 = "Compagnoni, Islamov, Orvieto & Gorbunov, arXiv 2506.00181 (2025)"
"""``compagnoni2025l0l1`` in docs/references.md."""
BEZNOSIKOV2023 = "Beznosikov, Horváth, Richtárik, Safaryan, JMLR 24(276), 2023"
"""``beznosikov2023`` in docs/references.md."""


