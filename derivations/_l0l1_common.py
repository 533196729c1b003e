"""What the (L0, L1) claim modules share (``derivations/compagnoni2025_l0l1.py`` and
``derivations/compagnoni2025_l0l1_schedules.py``): the claim-id prefix and tags, the DCSGD
SDEs and the theory knobs they read, and the Richardson-extrapolated estimate (the numbers
of the setting are in ``derivations/_l0l1_setting.py``).

Source: Compagnoni, Islamov, Orvieto & Gorbunov, arXiv 2506.00181 (2025). The leading
underscore keeps this module out of the claim discovery."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from derivations._l0l1_setting import N_WORKERS, P_KEEP, SIGMA
from theorykit.check import stats
from theorykit.check.claim import RunContext

__all__ = ["PREFIX", "TAGS", "dcsgd_sde", "ito_knobs", "richardson"]

PREFIX = "l0l1"
TAGS = ("l0l1", "compagnoni2025_l0l1", "sde", "issue4")


def richardson(coarse: np.ndarray, fine: np.ndarray) -> stats.Estimate:
    """2 E[fine] - E[coarse] with its SE (independent samples at dt and dt/2): Euler's
    O(dt) weak error cancels; the allowance comes from the second step size, not from the
    quantity tested."""
    a, b = stats.mean_se(coarse), stats.mean_se(fine)
    return stats.Estimate(2 * b.mean - a.mean, math.hypot(2 * b.se, a.se), min(a.n, b.n))


def dcsgd_sde(symbolic: bool, prob: Any = None) -> tuple[Any, Any]:
    """The derived DCSGD SDE on ``prob`` (default the quartic, d = 2): symbolic U(omega),
    Gaussian sigma, N and B (``symbolic``), or the setting's Bernoulli p, sigma, N and
    B = 1; returns (sde, prob)."""
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD, GenericUnbiased
    from theorykit.noise import Gaussian
    from theorykit.problems import L0L1Quartic
    from theorykit.sde import derive

    prob = L0L1Quartic(d=2) if prob is None else prob
    if symbolic:
        sde = derive(DCSGD(GenericUnbiased("omega")), None, Gaussian(sigma="sigma"), prob)
    else:
        sde = derive(DCSGD(make("bernoulli", p=P_KEEP)), None, Gaussian(SIGMA), prob,
                     n_workers=N_WORKERS, batch=1)
    return sde, prob


def ito_knobs(ctx: RunContext) -> tuple[int, float, float]:
    """(Itô factor, omega factor, L1 factor) of the theory under test."""
    th = ctx.theory
    ito = 0 if th.flag("drop_ito") else th.factor("ito")
    om = 0.0 if th.flag("omega_zero") else 1.0
    l1 = 0.0 if th.flag("l1_zero") else 1.0
    return ito, om, l1

