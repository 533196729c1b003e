"""Why top-k beats rand-k: the retained energy of top-k, derived in SymPy, and its
Monte Carlo and empirical (real-gradient) counterparts.

Setting (Beznosikov, Horváth, Richtárik, Safaryan, JMLR 24(276), 2023, Section 6
"why biased compressors beat unbiased ones" [paper-abstract: the paper studies synthetic
and empirical gradient distributions; its distributions and numbers were not retrieved];
the reconstruction below is *derived* — digest ``docs/theory/compression_papers.md`` §1.6):

Let the magnitudes ``u = |x_i|`` of a vector's coordinates be i.i.d. with density ``p`` on
``[lo, hi)``, ``ρ = k/d`` and ``d → ∞``. Top-k keeps the coordinates above the
``(1 - ρ)``-quantile ``τ_ρ`` of ``u`` (``P(u > τ_ρ) = ρ``), so it keeps the energy fraction

.. math:: E_{top}(\\rho) = \\frac{E[u^2 1\\{u > \\tau_\\rho\\}]}{E[u^2]},

and its effective B3 constant is ``δ_top = 1/E_top(ρ)``. Unscaled rand-k keeps exactly
``ρ`` of the energy in expectation (``δ_rand = 1/ρ``; the scaled unbiased rand-k, scaled
back into B3, has the same ``δ``). The **gain** is ``δ_rand/δ_top = E_top(ρ)/ρ >= 1``.

:func:`energy_fraction` derives ``τ_ρ`` (``sympy.solve`` on the tail integral) and
``E_top(ρ)`` (``sympy.integrate``) for any law; nothing below is typed in. For the four
catalog laws the results are (checked in ``tests/test_topk_energy.py`` against the
digest's closed forms):

* Uniform[-1, 1]:  ``1 - (1 - ρ)³``
* Gaussian N(0,1): ``ρ + 2τφ(τ)``, ``τ = √2 erfinv(1 - ρ)``
* Laplace(1):      ``ρ (1 + ln(1/ρ) + ln²(1/ρ)/2)``
* Pareto(a), ``|x| ~ a u^{-a-1}`` on ``[1, ∞)``, ``a > 2``: ``ρ^{1 - 2/a}``.

Marginal rule (derived): ``dE_top/dρ = τ_ρ²/E[u²]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check.stats import Estimate, mean_se
from theorykit.distributions import SymmetricLaw
from theorykit.distributions import make as make_law
from theorykit.errors import AssumptionError, DerivationError, InputError

U = sp.Symbol("u", positive=True)
TAU = sp.Symbol("tau", positive=True)
RHO = sp.Symbol("rho", positive=True)

Sampler = Callable[[tuple[int, ...], torch.Generator | None], torch.Tensor]


@dataclass(frozen=True)
class MagnitudeLaw:
    """The law of the coordinate magnitudes ``|x_i|``: a density on ``[lo, hi)`` and, for
    Monte Carlo, a sampler of *signed* coordinates (float64 tensors). Built from a law of
    :mod:`theorykit.distributions` by :meth:`from_law` (the catalog laws below), or
    directly from a density expression in :data:`U`."""

    name: str
    density: sp.Expr
    lo: sp.Expr
    hi: sp.Expr
    sampler: Sampler | None = None
    params: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_law(cls, lw: SymmetricLaw, name: str | None = None,
                 params: dict[str, float] | None = None) -> MagnitudeLaw:
        """|x| of a symmetric law: density 2 f(u) on the law's support. Sampling: the law's
        direct sampler where it has one (Gaussian, uniform, Student-t); otherwise |x| by
        inverse transform times an independent Rademacher sign (``torch.randint``)."""
        if lw.direct_sampler:
            def sample(s: tuple[int, ...], g: torch.Generator | None) -> torch.Tensor:
                return lw.sample(s, g)
        else:
            def sample(s: tuple[int, ...], g: torch.Generator | None) -> torch.Tensor:
                return lw.sample_abs(s, g) * _signs(s, g)
        return cls(name or lw.name, lw.magnitude_pdf(U), sp.Integer(lw.lower),
                   sp.sympify(lw.upper), sample if lw.numeric else None, params or {})

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None
               ) -> torch.Tensor:
        if self.sampler is None:
            raise InputError(f"law {self.name!r} has no sampler")
        return self.sampler(shape, generator)


def _signs(shape: tuple[int, ...], g: torch.Generator | None) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=g).to(torch.float64) * 2 - 1


def uniform() -> MagnitudeLaw:
    """x_i ~ Uniform[-1, 1], i.e. |x_i| ~ Uniform[0, 1]."""
    return MagnitudeLaw.from_law(make_law("uniform"))


def gaussian() -> MagnitudeLaw:
    """x_i ~ N(0, 1): |x_i| has density sqrt(2/π) exp(-u²/2) on [0, ∞)."""
    return MagnitudeLaw.from_law(make_law("gaussian"))


def laplace() -> MagnitudeLaw:
    """x_i ~ Laplace(0, 1): |x_i| ~ Exp(1)."""
    return MagnitudeLaw.from_law(make_law("laplace"))


def pareto(a: float | int | sp.Expr = 4) -> MagnitudeLaw:
    """Symmetric Pareto (the law ``pareto`` of :mod:`theorykit.distributions`, tail index
    a, scale 1): |x_i| has density a u^{-a-1} on [1, ∞). Needs a > 2 (finite energy
    E u² = a/(a-2)); ``a`` may be a SymPy symbol (assumed > 2)."""
    a_s = sp.sympify(a)
    if not a_s.free_symbols and not (a_s.is_real and a_s > 2):
        raise AssumptionError(f"Pareto index a={a} <= 2: E|x|² is infinite, so the energy "
                              "fraction is undefined (needs a > 2)")
    a_f = float(a_s) if not a_s.free_symbols else None
    return MagnitudeLaw.from_law(make_law("pareto", alpha=a_s), f"pareto(a={sp.sstr(a_s)})",
                                 {"a": a_f} if a_f is not None else {})


LAWS: dict[str, Callable[..., MagnitudeLaw]] = {
    "uniform": uniform, "gaussian": gaussian, "laplace": laplace, "pareto": pareto}


def law(name: str, **params: Any) -> MagnitudeLaw:
    """A catalog law by name ('uniform', 'gaussian', 'laplace', 'pareto' with ``a``), or any
    law of :mod:`theorykit.distributions` (``student_t``, a user's ``module:Object``, ...)
    with its own parameters."""
    if name not in LAWS:
        from theorykit.distributions import catalog

        if ":" in name or name in catalog():
            return MagnitudeLaw.from_law(make_law(name, **params))
        known = sorted(set(LAWS) | set(catalog()))
        raise InputError(f"unknown law {name!r}; known: {', '.join(known)}")
    return LAWS[name](**params)


@dataclass(frozen=True)
class EnergyCurve:
    """Derived top-k energy fraction of a law (symbolic in :data:`RHO`)."""

    law: MagnitudeLaw
    second_moment: sp.Expr
    threshold: sp.Expr
    """τ_ρ with P(|x| > τ_ρ) = ρ."""
    fraction: sp.Expr
    """E_top(ρ)."""

    @property
    def gain(self) -> sp.Expr:
        """δ_rand/δ_top = E_top(ρ)/ρ."""
        return sp.simplify(self.fraction / RHO)

    @property
    def delta_top(self) -> sp.Expr:
        """The asymptotic B3 constant of top-k on this law, 1/E_top(ρ)."""
        return 1 / self.fraction

    def numeric(self) -> Callable[[Any], np.ndarray]:
        """Vectorised ρ -> E_top(ρ) (scipy for erfinv)."""
        f = sp.lambdify(RHO, self.fraction, modules=["scipy", "numpy"])
        return lambda r: np.asarray(f(np.asarray(r, dtype=float)), dtype=float)

    def __call__(self, rho: float) -> float:
        if not 0 < rho <= 1:
            raise InputError(f"rho must be in (0, 1], got {rho}")
        return float(self.numeric()(rho))


def _integrate(expr: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    val = sp.integrate(expr, (U, lo, hi))
    if val.has(sp.Integral) or isinstance(val, sp.Piecewise):
        raise DerivationError(f"no closed form for ∫ {expr} du on [{lo}, {hi})")
    return sp.simplify(val)


def energy_fraction(lw: MagnitudeLaw) -> EnergyCurve:
    """Derive τ_ρ and E_top(ρ) for a law (SymPy integrals and solve).

    The density must integrate to 1 on its support; a free symbol named ``a`` (a Pareto
    index) is handled by writing ``a = 2 + b`` with ``b > 0`` (finite energy) during the
    integration; other symbols keep their own assumptions."""
    m2, tau, frac = _derive_fraction(lw.name, lw.density, lw.lo, lw.hi)
    return EnergyCurve(lw, m2, tau, frac)


@functools.lru_cache(maxsize=64)
def _derive_fraction(name: str, density: sp.Expr, lo: sp.Expr, hi: sp.Expr
                     ) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    b = sp.Symbol("b", positive=True)
    subs_back: dict[sp.Symbol, sp.Expr] = {}
    p = density
    for s in density.free_symbols:  # the Pareto index a: integrate with a = 2 + b, b > 0
        if s.name == "a":
            p = p.subs(s, 2 + b)
            subs_back[b] = s - 2
    total = _integrate(p, lo, hi)
    if sp.simplify(total - 1) != 0:
        raise InputError(f"the density of {name} integrates to {total}, not 1")
    m2 = _integrate(U**2 * p, lo, hi)
    tail = _integrate(p, TAU, hi)
    sols = [s for s in sp.solve(sp.Eq(tail, RHO), TAU) if not s.has(sp.I)]
    if len(sols) != 1:
        raise DerivationError(f"cannot solve P(|x| > tau) = rho for {name}: {sols}")
    tau = sols[0]
    top = _integrate(U**2 * p, TAU, hi)
    frac = sp.simplify((top / m2).subs(TAU, tau))
    if subs_back:
        frac, tau, m2 = (sp.simplify(e.subs(subs_back)) for e in (frac, tau, m2))
    return m2, tau, frac


def marginal_rule(curve: EnergyCurve) -> sp.Expr:
    """dE_top/dρ - τ_ρ²/E[u²] (zero when the marginal rule holds)."""
    return sp.simplify(sp.diff(curve.fraction, RHO) - curve.threshold**2 / curve.second_moment)


# --------------------------------------------------------------------------- measurements
def energy_fractions(g: torch.Tensor, rhos: Sequence[float]) -> np.ndarray:
    """Empirical top-k energy fraction ||Top_k(g)||²/||g||² for each ρ (k = max(1,
    round(ρ d))) of each row of ``g`` (shape (..., d)): returns (..., len(rhos)). One sort
    per row (identical to applying top-k for each k)."""
    if g.ndim == 0:
        raise InputError("g must have a last dimension d")
    d = g.shape[-1]
    sq = (g.to(torch.float64) ** 2).sort(dim=-1, descending=True).values
    cum = sq.cumsum(-1)
    total = cum[..., -1:]
    ks = [ks_for(r, d) for r in rhos]
    out = cum[..., [k - 1 for k in ks]] / total
    return out.cpu().numpy()


def ks_for(rho: float, d: int) -> int:
    """k = round(ρ d), at least 1 (ρ must be in (0, 1])."""
    if not 0 < rho <= 1:
        raise InputError(f"rho must be in (0, 1], got {rho}")
    return max(1, min(d, round(rho * d)))


@dataclass(frozen=True)
class MCEnergy:
    """Monte Carlo top-k (and rand-k) energy fractions of one law at several ρ."""

    law: str
    rhos: tuple[float, ...]
    d: int
    replicas: int
    seed: int
    topk: tuple[Estimate, ...]
    randk: tuple[Estimate, ...]
    predicted: tuple[float, ...]


def mc_energy(lw: MagnitudeLaw, rhos: Sequence[float], *, d: int, replicas: int, seed: int,
              compressor: str = "topk", with_randk: bool = False) -> MCEnergy:
    """Energy fractions of the catalog's ``topk`` (and, if ``with_randk``,
    ``randk_unscaled``) applied to ``replicas`` vectors of ``d`` i.i.d. coordinates of
    ``lw``; mean ± SE over replicas.
    The catalog codec is used (float32 wire values; the relative effect, ~1e-7, is far
    below the Monte Carlo error)."""
    from theorykit.compressors.registry import make

    if replicas < 2:
        raise InputError(f"replicas must be >= 2 for a standard error, got {replicas}")
    g = torch.Generator().manual_seed(seed)
    x = lw.sample((replicas, d), g)
    nx = (x**2).sum(-1)
    curve = energy_fraction(lw).numeric()
    top, rnd = [], []
    for rho in rhos:
        k = ks_for(rho, d)
        c = make(compressor, k=k).apply(x)
        top.append(mean_se(((c**2).sum(-1) / nx).numpy()))
        if with_randk:
            cr = make("randk_unscaled", k=k).apply(x, g)
            rnd.append(mean_se(((cr**2).sum(-1) / nx).numpy()))
        else:
            rnd.append(Estimate(math.nan, math.nan, replicas))
    pred = tuple(float(curve(r)) for r in rhos)
    return MCEnergy(lw.name, tuple(rhos), d, replicas, seed, tuple(top), tuple(rnd), pred)
