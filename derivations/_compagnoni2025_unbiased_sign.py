"""What the SDE-validation claims of Compagnoni, Islamov, Proske & Lucchi, AISTATS 2025 (arXiv
2502.17009; issue 3, numeric side) share: their id prefix and the memo key of the theory
under test.

The claims are in :mod:`derivations.compagnoni2025_unbiased_sign` (weak order 1),
:mod:`derivations.compagnoni2025_unbiased_sign_stationary` (stationary losses) and
:mod:`derivations.compagnoni2025_unbiased_sign_step_covariance` (the DCSGD diffusion). The
leading underscore keeps this module out of the claim discovery."""

from __future__ import annotations

from theorykit.check.claim import RunContext

PREFIX = "compagnoni2025"


def theory_key(ctx: RunContext) -> tuple:
    """The knobs of the theory under test, as a memo key (empty for the claim itself)."""
    return tuple(sorted((k, repr(v)) for k, v in ctx.theory.knobs.items()))
