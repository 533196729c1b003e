"""The shared SymPy symbols of theorykit: each idea has one name and one set of assumptions.

SymPy treats two symbols as the same exactly when their printed names *and* assumptions
agree, so a symbol defined twice with different assumptions (``omega`` positive here,
nonnegative there) silently never substitutes into the other. Every module that means
one of the ideas below imports it from here instead of writing ``sp.Symbol`` again.

Printed names are kept as they were (``eta``, ``omega``, ``alpha``, ``delta``, ...),
because rules, tests and the book print and parse them. Where two ideas print with the
same letter (the B3 constant δ and the batch factor δ; the B1 constant α, the worker
factor α and the truncation threshold α) they are *equal SymPy objects*: the Python
names below are what carries the meaning, and the two are never mixed in one expression.

Keys in the "paper" column refer to ``docs/references.md``.

==========================  ==================  =====================  =======================
Python name                 printed / assumed   meaning                paper (references key)
==========================  ==================  =====================  =======================
``ETA``                     eta, > 0            learning rate η        all
``TIME``                    t, >= 0             SDE time t = k·η       compagnoni2025, li2021svag
``MU``                      mu, > 0             PL / strong-convexity  beznosikov2023,
                                                constant μ             compagnoni2025
``L_SMOOTH``                L, > 0              smoothness constant L  all
``N_WORKERS``               N, integer > 0      number of workers      compagnoni2025
``BATCH``                   B, integer > 0      per-worker batch size  compagnoni2025
``DIM``                     d, integer > 0      dimension              all
``GRAD_SQ``                 G, >= 0             ‖∇f(x)‖²               beznosikov2023
``OMEGA``                   omega, >= 0         variance constant ω    compagnoni2025,
                                                of unbiased U(ω)       beznosikov2023
``ALPHA_B1``                alpha, > 0          B1 lower constant α    beznosikov2023
``BETA_B12``                beta, > 0           B1/B2 scaling β        beznosikov2023
``GAMMA_B2``                gamma, > 0          B2 constant γ          beznosikov2023
``DELTA_B3``                delta, > 0          B3 constant δ (also    beznosikov2023
                                                EF-SGD's B3(δ))
``LR_FACTOR``               kappa, > 0          scaling rule η -> κη   compagnoni2025
``BATCH_FACTOR``            delta, > 0          scaling rule B -> δB   compagnoni2025
``WORKER_FACTOR``           alpha, > 0          scaling rule N -> αN   compagnoni2025
``OMEGA_NEW``               omega', >= 0        ω after a rule change  compagnoni2025
``CURVATURE``               lambda, > 0         λ of f = λx²/2         compagnoni2025
``NU``                      nu, > 0             Student-t degrees of   compagnoni2025
                                                freedom ν
``SIGMA_OMEGA2``            sigma_omega2, > 0   σ̄_ω², compression-     compagnoni2025
                                                amplified noise
``SIGMA_H``                 sigma_H, > 0        harmonic mean of the   compagnoni2025
                                                workers' noise scales
``DELTA_0``                 Delta_0, >= 0       f(X_0) − f*            compagnoni2025
``TRUNCATION``              alpha, > 0          quantizer truncation   yan2024
                                                threshold α
``LEVELS``                  s, > 0              quantization intervals yan2024
                                                (s + 1 levels)
``C_Q``                     c_Q, > 0            cell-variance constant yan2024
``GRAD_COORD``              g, real             a gradient coordinate  yan2024
``SCHEDULE``                eta(t), > 0         schedule η(t) of the   compagnoni2025l0l1
                                                base rate η
``SCHEDULE_BASE``           hat eta(t), > 0     base schedule of a     compagnoni2025l0l1
                                                normalized schedule
``GRAD_NORM``               G, >= 0             ‖∇f(x)‖ (the same      compagnoni2025l0l1
                                                SymPy object as
                                                GRAD_SQ)
``L0_SMOOTH``               L_0, >= 0           (L0, L1)-smoothness    compagnoni2025l0l1
                                                constant L0
``L1_SMOOTH``               L_1, >= 0           (L0, L1)-smoothness    compagnoni2025l0l1
                                                constant L1
``SIGMA0_AFFINE``           sigma_0, >= 0       affine variance σ0     compagnoni2025l0l1
``SIGMA1_AFFINE``           sigma_1, >= 0       affine variance σ1     compagnoni2025l0l1
``DESCENT_KEPT``            theta, > 0          fraction θ of the      compagnoni2025l0l1
                                                descent kept
``TRACE_H_SIGMA``           tr(HΣ), real        Itô term tr(∇²f Σ)     compagnoni2025l0l1
``NORM_C0``                 c_0, > 0            offset c0 of the       compagnoni2025l0l1
                                                normalized schedule
``NORM_C1``                 c_1, >= 0           degree of              compagnoni2025l0l1
                                                normalization c1
==========================  ==================  =====================  =======================
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "ALPHA_B1",
    "BATCH",
    "BATCH_FACTOR",
    "BETA_B12",
    "CURVATURE",
    "C_Q",
    "DELTA_0",
    "DELTA_B3",
    "DESCENT_KEPT",
    "DIM",
    "ETA",
    "GAMMA_B2",
    "GRAD_COORD",
    "GRAD_NORM",
    "GRAD_SQ",
    "L0_SMOOTH",
    "L1_SMOOTH",
    "LEVELS",
    "LR_FACTOR",
    "L_SMOOTH",
    "MU",
    "NORM_C0",
    "NORM_C1",
    "NU",
    "N_WORKERS",
    "OMEGA",
    "OMEGA_NEW",
    "SCHEDULE",
    "SCHEDULE_BASE",
    "SIGMA0_AFFINE",
    "SIGMA1_AFFINE",
    "SIGMA_H",
    "SIGMA_OMEGA2",
    "TIME",
    "TRACE_H_SIGMA",
    "TRUNCATION",
    "WORKER_FACTOR",
]

# --------------------------------------------------------------------------- problem and run
ETA = sp.Symbol("eta", positive=True)
"""The learning rate η."""
TIME = sp.Symbol("t", nonnegative=True)
"""SDE time t = k·η."""
MU = sp.Symbol("mu", positive=True)
"""The PL / strong-convexity constant μ."""
L_SMOOTH = sp.Symbol("L", positive=True)
"""The smoothness constant L."""
N_WORKERS = sp.Symbol("N", integer=True, positive=True)
"""The number of workers N."""
BATCH = sp.Symbol("B", integer=True, positive=True)
"""The per-worker batch size B."""
DIM = sp.Symbol("d", integer=True, positive=True)
"""The dimension d."""
GRAD_SQ = sp.Symbol("G", nonnegative=True)
"""‖∇f(x)‖²."""
NU = sp.Symbol("nu", positive=True)
"""Degrees of freedom ν of Student-t noise."""
SIGMA_OMEGA2 = sp.Symbol("sigma_omega2", positive=True)
"""σ̄_ω² = (1/N) Σ_i (1 + ω_i) tr Σ_i (per-sample noise, compression-amplified)."""
SIGMA_H = sp.Symbol("sigma_H", positive=True)
"""Harmonic mean of the agents' noise scales (DSignSGD Phase 3)."""
DELTA_0 = sp.Symbol("Delta_0", nonnegative=True)
"""Initial suboptimality f(X_0) − f*."""

# --------------------------------------------------------------------------- compressor classes
OMEGA = sp.Symbol("omega", nonnegative=True)
"""Variance constant ω of the unbiased class U(ω): E‖C(x) − x‖² <= ω‖x‖² (ω = 0: identity)."""
ALPHA_B1 = sp.Symbol("alpha", positive=True)
"""Lower constant α of B1(α, β) (Beznosikov et al. 2023, Def. 1)."""
BETA_B12 = sp.Symbol("beta", positive=True)
"""Scaling constant β of B1(α, β) and B2(γ, β)."""
GAMMA_B2 = sp.Symbol("gamma", positive=True)
"""Constant γ of B2(γ, β)."""
DELTA_B3 = sp.Symbol("delta", positive=True)
"""Constant δ of B3(δ): E‖C(x) − x‖² <= (1 − 1/δ)‖x‖² (also EF-SGD's compressor class)."""

# --------------------------------------------------------------------------- scaling rules
LR_FACTOR = sp.Symbol("kappa", positive=True)
"""Learning-rate factor of a scaling rule: η -> κη."""
BATCH_FACTOR = sp.Symbol("delta", positive=True)
"""Per-worker batch-size factor of a scaling rule: B -> δB (prints as ``delta``)."""
WORKER_FACTOR = sp.Symbol("alpha", positive=True)
"""Worker-count factor of a scaling rule: N -> αN (prints as ``alpha``)."""
OMEGA_NEW = sp.Symbol("omega'", nonnegative=True)
"""Compression constant after a scaling-rule change (ω -> ω')."""
CURVATURE = sp.Symbol("lambda", positive=True)
"""Curvature λ of the quadratic f = λx²/2 on which stationary losses are compared."""

# --------------------------------------------------------------------------- quantization
GRAD_COORD = sp.Symbol("g", real=True)
"""A gradient coordinate g."""
TRUNCATION = sp.Symbol("alpha", positive=True)
"""Truncation threshold α of a truncated quantizer (prints as ``alpha``)."""
LEVELS = sp.Symbol("s", positive=True)
"""The number of quantization intervals s (``s + 1`` levels)."""
C_Q = sp.Symbol("c_Q", positive=True)
"""The cell-variance constant c_Q (1/4 worst case, 1/6 high-resolution average)."""

# --------------------------------------------------------------------------- (L0, L1)-smoothness
# Compagnoni, Islamov, Orvieto & Gorbunov, *On the Interaction of Noise, Compression Role, and
# Adaptivity under (L0, L1)-Smoothness: An SDE-based Approach*, arXiv 2506.00181 (2025)
# (references key compagnoni2025l0l1): the symbols of the descent inequality and of the
# normalized schedule that theorykit.rules.l0l1 derives. The schedules print in LaTeX.
SCHEDULE = sp.Symbol(r"\eta(t)", positive=True)
"""The learning-rate schedule η(t) multiplying the base rate η (``dX = -η(t)∇f dt + ...``)."""
SCHEDULE_BASE = sp.Symbol(r"\hat\eta(t)", positive=True)
"""The base schedule η̂(t) <= 1 of a normalized schedule η(t) = η̂(t)/(c0 + c1‖∇f‖)."""
GRAD_NORM = sp.Symbol("G", nonnegative=True)
"""The gradient norm G = ‖∇f(x)‖. It prints as ``G`` with the assumptions of
:data:`GRAD_SQ` (‖∇f‖²), so the two are equal SymPy objects: never mixed in one expression."""
L0_SMOOTH = sp.Symbol("L_0", nonnegative=True)
"""Constant L0 of (L0, L1)-smoothness ‖∇²f‖ <= L0 + L1‖∇f‖ (Zhang, He, Sra & Jadbabaie,
ICLR 2020, Def. 1)."""
L1_SMOOTH = sp.Symbol("L_1", nonnegative=True)
"""Constant L1 of (L0, L1)-smoothness ‖∇²f‖ <= L0 + L1‖∇f‖."""
SIGMA0_AFFINE = sp.Symbol("sigma_0", nonnegative=True)
"""σ0 of the affine-variance noise bound tr Σ_i/B <= σ0² + σ1²‖∇f‖²."""
SIGMA1_AFFINE = sp.Symbol("sigma_1", nonnegative=True)
"""σ1 of the affine-variance noise bound tr Σ_i/B <= σ0² + σ1²‖∇f‖²."""
DESCENT_KEPT = sp.Symbol("theta", positive=True)
"""The fraction θ of the descent η(t)G² that a schedule cap keeps (θ = 1/2 by default)."""
TRACE_H_SIGMA = sp.Symbol(r"\mathrm{tr}(H\Sigma)", real=True)
"""tr(∇²f Σ), the Itô term of the generator before it is bounded (prints in LaTeX)."""
NORM_C0 = sp.Symbol("c_0", positive=True)
"""Offset c0 of the normalized schedule η̂(t)/(c0 + c1‖∇f‖)."""
NORM_C1 = sp.Symbol("c_1", nonnegative=True)
"""Degree of normalization c1 of the normalized schedule η̂(t)/(c0 + c1‖∇f‖)."""
