r"""Private quantization: truncation, stochastic rounding to a uniform grid, binomial noise.

Mechanism (cpSGD's binomial mechanism, Agarwal, Suresh, Yu, Kumar, McMahan, NeurIPS 2018,
*recalled*; used with uniform quantization by Yan, Li, Wu, Song, "Killing Two Birds with One
Stone", arXiv 2304.13545, *read* abstract; reconstruction in the digest
``docs/theory/compression_papers.md`` §2.3):

1. clip each coordinate to [-α, α];
2. stochastically round to the grid ``-α + Δ j``, ``Δ = 2α/s``: index ``q ∈ {0..s}``;
3. add ``Z ~ Bin(m, p)``; send ``q + Z ∈ {0..s+m}`` with ``⌈log₂(s+m+1)⌉`` bits;
4. the server decodes ``-α + Δ (q + Z - m p)`` (unbiased for the clipped value).

**MSE** (:func:`mse_given_cell`, derived with ``sympy.stats``): for a value at fraction r of
its cell, ``E(ĝ - g)² = Δ² (r(1-r) + m p (1-p))``; so per coordinate
``MSE = codec_mse(uniform levels) + Δ² m p (1-p)`` (:meth:`BinomialQuantizer.mse`), at most
``B(α) + Δ²/4 + Δ² m p(1-p)``.

**Privacy accounting** (stated, and checked): the released vector has d coordinates; a
neighbouring input may change each coordinate by at most ``sensitivity`` (value units, ℓ∞;
default the full range 2α). With the same rounding uniform for both inputs
(``q = ⌊x/Δ + U⌋``) the indices differ by at most ``k = ⌈sensitivity/Δ⌉`` per coordinate,
and by joint convexity of the hockey-stick divergence the mechanism's privacy profile is at
most that of the pair (Z, Z + k) per coordinate, composed over the d coordinates. (The
rounding randomness is *not* credited towards privacy.) The reported ε(δ) comes from a
**privacy-loss-distribution (PLD) accountant** (Meiser & Mohammadi 2018; Koskela, Jälkö,
Honkela 2020, *recalled*): the exact loss values of the scalar pair, rounded *up* to a grid
of width ``h`` (so δ(ε) is over-estimated), composed d times by FFT convolution, both
directions (P‖Q and Q‖P), and ε is the smallest grid value with δ(ε) <= δ. The independent
check (:func:`exact_delta`) sums the product PMFs exactly for small d.

Also reported, for comparison only: the digest's leading-order Gaussian approximation
``ε ≈ (Δ₂/Δ) √(2 ln(1.25/δ)) / √(m p (1-p))`` (:func:`gaussian_approx_epsilon`), which
is **not** a guarantee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.errors import InputError
from theorykit.validate import nonneg_int, positive_float, positive_int

__all__ = [
    "BinomialQuantizer",
    "exact_delta",
    "exact_epsilon",
    "gaussian_approx_epsilon",
    "mse_given_cell",
    "pld_delta",
    "pld_epsilon",
    "scalar_loss_pmf",
]


def mse_given_cell() -> sp.Expr:
    """E(ĝ - g)² for g at fraction r ∈ [0, 1] of a grid cell of width Δ (*derived*).

    ĝ - g = Δ(b - r) + Δ(Z - m p) with b ~ Bern(r) (the rounding) and Z = Σ_{i<m} c_i,
    c_i ~ Bern(p) i.i.d., independent of b. Expanding the square, the cross terms vanish
    (independent, zero-mean factors, checked with ``sympy.stats``) and
    E(Z - m p)² = m Var(c_1) by independence; the Bernoulli moments come from
    ``sympy.stats``."""
    from sympy.stats import Bernoulli, variance
    from sympy.stats import E as expect

    r, p, delta = sp.symbols("r p Delta", positive=True)
    m = sp.Symbol("m", positive=True, integer=True)
    b = Bernoulli("b", r)
    c1 = Bernoulli("c", p)
    if sp.simplify(expect(b - r)) != 0 or sp.simplify(expect(c1 - p)) != 0:
        raise AssertionError("rounding or noise is biased")
    var_round = sp.simplify(expect((b - r) ** 2))
    var_noise = m * sp.simplify(variance(c1))
    return sp.factor(delta**2 * (var_round + var_noise))


@dataclass(frozen=True)
class BinomialQuantizer:
    """Truncated uniform quantization with ``s`` intervals on [-α, α] plus Bin(m, p)
    noise on the level index (see module doc)."""

    alpha: float
    s: int
    m: int
    p: float = 0.5

    def __post_init__(self) -> None:
        positive_float("alpha", self.alpha)
        positive_int("s", self.s)
        nonneg_int("m", self.m)
        if not 0 < self.p < 1:
            raise InputError(f"p must be in (0, 1), got {self.p!r}")

    @property
    def delta_grid(self) -> float:
        """Grid spacing Δ = 2α/s."""
        return 2 * self.alpha / self.s

    @property
    def bits(self) -> int:
        """Bits per coordinate: ⌈log₂(s + m + 1)⌉ (codes 0..s+m)."""
        return max(1, math.ceil(math.log2(self.s + self.m + 1)))

    def noise_mse(self) -> float:
        """The binomial noise's share of the per-coordinate MSE: Δ² m p (1-p)."""
        return self.delta_grid**2 * self.m * self.p * (1 - self.p)

    def mse(self, density: Any) -> float:
        """Exact per-coordinate MSE for a gradient density (rules.quantization.Density):
        truncation + rounding (numeric integration) + Δ² m p (1-p)."""
        from theorykit.rules.quantization import codec_mse

        levels = np.linspace(-self.alpha, self.alpha, self.s + 1)
        return codec_mse(density, levels) + self.noise_mse()

    def worst_case_mse(self) -> float:
        """For |g| <= α: Δ²/4 + Δ² m p (1-p)."""
        return self.delta_grid**2 / 4 + self.noise_mse()

    # ------------------------------------------------------------------ torch face
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """Integer codes q + Z in {0..s+m} (int64), shape of ``x``."""
        if not torch.all(torch.isfinite(x)):
            raise InputError("input contains NaN or infinite values")
        pos = (x.clamp(-self.alpha, self.alpha) + self.alpha) / self.delta_grid
        u = torch.rand(x.shape, generator=generator, dtype=pos.dtype, device=x.device)
        q = torch.floor(pos + u).clamp(0, self.s)
        if self.m:
            z = torch.binomial(torch.full_like(pos, float(self.m)),
                               torch.full_like(pos, self.p), generator=generator)
        else:
            z = torch.zeros_like(pos)
        return (q + z).to(torch.int64)

    def decode(self, codes: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return -self.alpha + self.delta_grid * (codes.to(dtype) - self.m * self.p)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, generator), x.dtype)

    # ------------------------------------------------------------------ privacy
    def shift(self, sensitivity: float | None = None) -> int:
        """k = ⌈sensitivity/Δ⌉ grid units (default sensitivity: the full range 2α)."""
        sens = (2 * self.alpha if sensitivity is None
                else positive_float("sensitivity", sensitivity))
        return math.ceil(sens / self.delta_grid - 1e-12)

    def epsilon(self, delta: float, d: int = 1, sensitivity: float | None = None,
                grid: float = 1e-3) -> float:
        """Reported ε for (ε, δ)-DP of one d-dimensional message (PLD accountant, an upper
        bound; see module doc)."""
        if self.m == 0:
            return math.inf
        return pld_epsilon(self.m, self.p, self.shift(sensitivity), delta, d=d, grid=grid)


def scalar_loss_pmf(m: int, p: float, k: int) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """The privacy loss distributions of Z ~ Bin(m, p) vs Z + k, both directions:
    ``{"PQ": (loss values, probabilities under P, mass at +inf), "QP": ...}`` with
    P = law of Z, Q = law of Z + k (exact PMFs via scipy)."""
    from scipy.stats import binom

    m = positive_int("m", m)
    k = positive_int("k", k)
    y = np.arange(0, m + k + 1)
    P = binom.pmf(y, m, p)
    Q = binom.pmf(y - k, m, p)
    out = {}
    for name, a, b in (("PQ", P, Q), ("QP", Q, P)):
        both = (a > 0) & (b > 0)
        inf_mass = float(a[(a > 0) & (b == 0)].sum())
        with np.errstate(divide="ignore"):
            loss = np.log(a[both]) - np.log(b[both])
        out[name] = (loss, a[both], inf_mass)
    return out


def _delta_from_pld(loss: np.ndarray, prob: np.ndarray, inf_mass: float, eps: float) -> float:
    gain = np.clip(-np.expm1(np.minimum(eps - loss, 50.0)), 0, None)  # (1 - e^{ε-L})_+
    return float(inf_mass + np.sum(prob * gain))


def exact_delta(m: int, p: float, k: int, eps: float, d: int = 1) -> float:
    """Exact δ(ε) = max over directions of Σ_y max(0, P(y) - e^ε Q(y)) for the d-fold
    product of (Bin(m, p), Bin(m, p) + k), by enumerating the product PMF (small d only:
    (m+k+1)^d <= 2e6). Independent of the PLD accountant (no discretisation)."""
    from scipy.stats import binom

    d = positive_int("d", d)
    if (m + k + 1) ** d > 2_000_000:
        raise InputError(f"exact enumeration too large: (m+k+1)^d = {(m + k + 1) ** d}")
    y = np.arange(0, m + k + 1)
    P1 = binom.pmf(y, m, p)
    Q1 = binom.pmf(y - k, m, p)
    best = 0.0
    for a1, b1 in ((P1, Q1), (Q1, P1)):
        A = a1.copy()
        B = b1.copy()
        for _ in range(d - 1):
            A = np.multiply.outer(A, a1).ravel()
            B = np.multiply.outer(B, b1).ravel()
        best = max(best, float(np.sum(np.clip(A - math.exp(eps) * B, 0, None))))
    return best


def exact_epsilon(m: int, p: float, k: int, delta: float, d: int = 1,
                  tol: float = 1e-7) -> float:
    """Smallest ε with :func:`exact_delta` <= δ (bisection; δ(ε) is non-increasing)."""
    lo, hi = 0.0, 1.0
    while exact_delta(m, p, k, hi, d) > delta:
        hi *= 2
        if hi > 512:  # e^ε overflows beyond ~709; δ(512) > δ means ε is effectively ∞
            return math.inf
    if exact_delta(m, p, k, 0.0, d) <= delta:
        return 0.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if exact_delta(m, p, k, mid, d) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def _compose(loss: np.ndarray, prob: np.ndarray, d: int, h: float, round_up: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
    """Loss values rounded up (``round_up``; down otherwise, which under-reports δ and is
    wrong) to the grid h·Z, then the d-fold sum's PMF (FFT powers)."""
    from scipy.signal import fftconvolve

    idx = (np.ceil(loss / h - 1e-9) if round_up else np.floor(loss / h + 1e-9)
           ).astype(np.int64)
    lo, hi = int(idx.min()), int(idx.max())
    base = np.zeros(hi - lo + 1)
    np.add.at(base, idx - lo, prob)
    result = np.array([1.0])
    res_lo = 0
    power = base
    p_lo = lo
    n = d
    while n:
        if n & 1:
            result = np.clip(fftconvolve(result, power), 0, None)
            res_lo += p_lo
        n >>= 1
        if n:
            power = np.clip(fftconvolve(power, power), 0, None)
            p_lo *= 2
    vals = (res_lo + np.arange(result.size)) * h
    return vals, result


def pld_delta(m: int, p: float, k: int, eps: float, d: int = 1, grid: float = 1e-3) -> float:
    """δ(ε) of the d-fold composition from the PLD accountant (pessimistic: losses rounded
    up to ``grid``), max over both directions."""
    pl = scalar_loss_pmf(m, p, k)
    best = 0.0
    for loss, prob, inf_mass in pl.values():
        vals, pm = _compose(loss, prob, int(d), grid)
        inf_total = 1 - (1 - inf_mass) ** int(d)
        best = max(best, _delta_from_pld(vals, pm, inf_total, eps))
    return best


def pld_epsilon(m: int, p: float, k: int, delta: float, d: int = 1,
                grid: float = 1e-3, round_up: bool = True) -> float:
    """Reported ε(δ) of the PLD accountant: the smallest ε (to 1e-6, rounded up) with
    :func:`pld_delta` <= δ; ``inf`` if δ is below the mass at infinite loss.

    Tightness (derived): each scalar loss is over-estimated by less than ``grid``, so the
    composed loss by less than ``d·grid`` and ε_exact <= ε_reported <= ε_exact + d·grid
    + 1e-6. ``round_up=False`` rounds the losses down (an invalid accountant, kept for the
    claims' mutants)."""
    if not 0 < delta < 1:
        raise InputError(f"delta must be in (0, 1), got {delta!r}")
    d = positive_int("d", d)
    pl = scalar_loss_pmf(m, p, k)
    composed = []
    for loss, prob, inf_mass in pl.values():
        vals, pm = _compose(loss, prob, d, grid, round_up)
        composed.append((vals, pm, 1 - (1 - inf_mass) ** d))
    if max(c[2] for c in composed) >= delta:
        return math.inf

    def dl(e: float) -> float:
        return max(_delta_from_pld(v, pm, im, e) for v, pm, im in composed)

    if dl(0.0) <= delta:
        return 0.0
    lo, hi = 0.0, 1.0
    while dl(hi) > delta:
        hi *= 2
        if hi > 1e4:
            return math.inf
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        if dl(mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def gaussian_approx_epsilon(m: int, p: float, sensitivity_l2_grid: float,
                            delta: float) -> float:
    """The digest's leading-order approximation (Gaussian mechanism with σ² = m p (1-p) in
    grid units): (Δ₂/Δ) √(2 ln(1.25/δ))/√(m p(1-p)). *Not* a guarantee (compare with
    :func:`exact_epsilon`)."""
    return sensitivity_l2_grid * math.sqrt(2 * math.log(1.25 / delta)) / math.sqrt(
        m * p * (1 - p))
