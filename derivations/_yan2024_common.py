r"""What the yan2024 claim modules share: the claim-id prefix, one citation string per paper,
the real codec's per-coordinate errors (with the heavy-tail control variate), the QSGD /
NQSGD baselines and the SGD test problem.

The claims of the Yan, Li, Song et al. quantization papers (digest
``docs/theory/compression_papers.md`` §2) live in one module per topic:
:mod:`derivations.yan2024_tnqsgd_closed_form` and :mod:`derivations.yan2024_tnqsgd_codec`
(TNQSGD, Laplace gradients; their shared Laplace pieces in
:mod:`derivations._yan2024_laplace`), :mod:`derivations.yan2024_heavy_tail_mse` and
:mod:`derivations.yan2024_heavy_tail_sgd` (heavy-tailed gradients),
:mod:`derivations.yan2024_dqsgd` (DQ-SGD) and :mod:`derivations.yan2024_privacy` (private
quantization).

Every claim declares mutants (wrong versions of its theory, read from ``ctx.theory`` where
the theory enters the prediction; see :mod:`theorykit.check.mutants`), and every
measurement that does not depend on the theory is memoised (``ctx.memo``) so that the
prediction-only mutants reuse it.

Every measurement uses the real catalog codecs (``truncated_uniform``,
``truncated_nonuniform``, ``qsgd``, ``natural_dithering``; float32 wire values) and states
its sample size, seed and how the tolerance follows from the standard error.

Control variate (heavy tails): for Student-t(3) and Pareto(4) the squared error
:math:`(|g|-\alpha)^2 1\{|g|>\alpha\}` has an infinite variance, so a plain Monte Carlo
mean has no valid standard error. Where a density's fourth moment is infinite the claims use
the unbiased estimator ``e - (|g|-α)²₊ + B(α)`` (exact B(α) from the rules module, itself
tested against quadrature): it measures the codec's rounding error everywhere and takes the
truncation part's mean from the formula. Which estimator was used is in the details.

The leading underscore keeps this module out of the claim discovery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from theorykit.check.claim import RunContext

PREFIX = "yan2024"
TNQ = "Yan, Li, Xiao, Li, Song, arXiv 2402.01160 (TNQSGD)"
HEAVY = "Yan, Li, Xiao, Hou, Song, arXiv 2402.01798 (heavy-tailed gradients)"
PRIV = "Yan, Li, Wu, Song, arXiv 2304.13545 / cpSGD (Agarwal et al. 2018)"
DQ = "Yan, Huang, Lan, Song, arXiv 2107.14575 (DQ-SGD)"


def quantization_rules() -> Any:
    """:mod:`theorykit.rules.quantization`, imported when a claim first runs."""
    from theorykit.rules import quantization as q

    return q


def codec_errors(d: Any, spec: Any, x: torch.Tensor, alpha: float, gen: torch.Generator,
                 control: bool) -> np.ndarray:
    """Per-coordinate squared errors of ``spec`` on the samples ``x`` (1-d), optionally with
    the truncation control variate (see the module doc)."""
    y = spec.apply(x.reshape(1, -1).to(torch.float32), gen).reshape(-1).double()
    e = ((y - x) ** 2).numpy()
    if control:
        q = quantization_rules()
        over = np.clip(np.abs(x.numpy()) - alpha, 0, None) ** 2
        bias = q._numeric_pieces(d).bias(alpha / d.scale) * d.scale**2
        e = e - over + bias
    return e


def baselines(b: int) -> dict[str, Any]:
    """QSGD and NQSGD with b bits per coordinate (sign + ⌈log₂(s+1)⌉ code bits, s = 2^(b-1)
    - 1; plus a 32-bit norm per message, so they never have fewer bits than TNQ/TUQ).
    NQSGD is non-uniform QSGD with exponentially spaced levels 0, 2^{1-s}, .., 1/2, 1 on
    |g_i|/||g||, the catalog's ``natural_dithering`` (recalled: the paper's NQSGD
    baseline; its exact level set was not read)."""
    from theorykit.compressors.registry import make

    s = 2 ** (b - 1) - 1
    return {"qsgd": make("qsgd", s=s), "nqsgd": make("natural_dithering", s=s)}


def sgd_setup() -> dict[str, Any]:
    """The strongly convex quadratic of the SGD claims: d coordinates with curvatures
    linearly spaced in [h_min, h_max], N workers, step eta, start x0 in every coordinate."""
    return {"d": 64, "n_workers": 4, "eta": 0.2, "h_min": 0.2, "h_max": 1.0, "x0": 3.0}


def quadratic_sgd(ctx: RunContext, noise: Any, replicas: int, steps: int
                  ) -> Callable[[Any], Any]:
    """``run(compress)``: distributed SGD (:func:`theorykit.run.quantized.run_quantized_sgd`)
    on the quadratic of :func:`sgd_setup` with gradient ``noise``, ``replicas`` x ``steps``,
    at the claim's seed (the same noise for every ``compress``: paired replicas)."""
    from theorykit.run.quantized import run_quantized_sgd

    cfg = sgd_setup()
    h = np.linspace(cfg["h_min"], cfg["h_max"], cfg["d"])
    x0 = np.full(cfg["d"], cfg["x0"])

    def run(comp: Any) -> Any:
        return run_quantized_sgd(h, x0, noise, n_workers=cfg["n_workers"], eta=cfg["eta"],
                                    steps=steps, replicas=replicas, compress=comp,
                                    seed=ctx.seed)

    return run
