r"""Does a learning-rate scaling rule make training curves coincide? One implementation for
the ``scaling.*`` claims and for ``theorykit check rule``.

A *change* multiplies the number of workers by α and the per-worker batch by δ; a *rule*
says the learning rate must then be multiplied by κ. The rule is right when the loss
curve of the scaled run, plotted against **samples seen** s = k·N·B, coincides with the
base run's. :func:`check_rule` runs both configurations with the real discrete optimizer
(:func:`theorykit.simulate.run_discrete`: real compressor codecs, sampled noise) on a
quadratic, from the same start, and records E f at checkpoints equally spaced in samples.

**The statistic.** With :math:`\bar f_b, \bar f_s` the two means (independent runs) and
:math:`SE_j` their combined standard error at checkpoint j,

.. math:: D = \max_j \frac{\big(|\bar f_b(s_j) - \bar f_s(s_j)| - a_j\big)_+}{SE_j} .

The curves *coincide* (the rule holds) when :math:`D \le z`, z the Bonferroni z over the
checkpoints (family-wise false alarm 0.27%), and are *different* (the rule is
contradicted) when :math:`D > z`.

**The allowance** :math:`a_j` is the discretisation error of *each side on its own*, never
the predicted difference between the two configurations:
:math:`a_j = |\mathrm{scheme}_b - \mathrm{SDE}_b|(s_j) + |\mathrm{scheme}_s - \mathrm{SDE}_s|(s_j)`,
where "scheme" is the exact moment recursion of the discrete method with step η (exact for
D(C)SGD on a quadratic: the covariance is quadratic in x) and "SDE" the exact moment ODE
of the configuration's own SDE (:func:`theorykit.sde.derive`). A right rule makes the two
SDEs coincide per sample, so by the triangle inequality the discrete curves differ by at
most :math:`a_j`; a wrong rule leaves an O(1) gap between the SDEs per sample, while
:math:`a_j` stays O(η). For sign methods the SDE is linearised (Phase 3: small gradients)
and a first-order bound on the linearisation error of each side is added (the Taylor
coefficients c₁, c₃ of the noise's sign mean m(g) = c₁g + c₃g³ + …, at the largest
predicted E (∂_j f)²).

**Resolution.** The same moment equations predict the excess D a factor-2 error in κ
(κ·2 and κ/2) would produce with the measured standard errors; a run whose resolution is
below z + 3 (a factor-2 error would be missed with probability > 0.13%) cannot certify a
rule: :func:`check_rule` then says *inconclusive* instead of *holds*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from theorykit.check import stats
from theorykit.errors import InputError
from theorykit.validate import positive_float

__all__ = [
    "Config",
    "Curve",
    "Prediction",
    "RuleCheck",
    "Setup",
    "allowance",
    "check_rule",
    "curve_distance",
    "loss_curve",
    "moment_model",
    "plan",
    "predict",
    "scaled_config",
    "simulate",
]

Memo = Callable[[Any, Callable[[], Any]], Any]
RESOLUTION_MARGIN = 3.0
"""A rule is certified only if a factor-2 error in κ would exceed z by this many SE."""


# ====================================================================== configurations
@dataclass(frozen=True)
class Config:
    """One training configuration: learning rate, workers, per-worker batch."""

    eta: float
    n_workers: int
    batch: int

    @property
    def per_step(self) -> int:
        return self.n_workers * self.batch


@dataclass(frozen=True)
class Setup:
    """What both runs share: method, noise, the quadratic f = ½ Σ λ_j x_j², the start x0,
    the base configuration, how many samples are seen and at how many checkpoints.
    ``name`` identifies the setup in memo keys; ``linearize`` marks sign methods (their
    SDE is compared in its Phase-3 linearisation)."""

    name: str
    method: Any
    noise: Any
    eigs: tuple[float, ...]
    x0: tuple[float, ...]
    base: Config
    samples: int
    n_ckpt: int
    linearize: bool = False

    def problem(self) -> Any:
        from theorykit.problems import Quadratic

        return Quadratic(eigs=list(self.eigs))


def _integer_factor(name: str, value: float, factor: float) -> int:
    n = value * factor
    r = round(n)
    if r < 1 or abs(n - r) > 1e-9 * max(1.0, abs(n)):
        raise InputError(f"{name} x factor = {value:g} x {factor:g} = {n:g} is not a "
                         "positive integer")
    return r


def scaled_config(base: Config, kappa: float, alpha: float, delta: float) -> Config:
    """(η, N, B) -> (κη, αN, δB); InputError if αN or δB is not a positive integer or κ is
    not a positive finite number."""
    return Config(base.eta * positive_float("kappa", kappa, one_message=True),
                  _integer_factor("N", base.n_workers, alpha),
                  _integer_factor("B", base.batch, delta))


def plan(samples: int, n_ckpt: int, configs: list[Config]) -> tuple[int, int]:
    """The largest (samples', n') with samples' <= samples, n' <= n_ckpt, such that every
    configuration reaches every checkpoint after a whole number of steps."""
    unit = 1
    for c in configs:
        unit = math.lcm(unit, c.per_step)
    spacing = unit * max(1, -(-samples // (unit * max(n_ckpt, 1))))
    n = samples // spacing
    if n < 2:
        raise InputError(f"{samples} samples give fewer than 2 checkpoints for steps of "
                         f"{unit} samples; use more --steps")
    return n * spacing, n


def _steps(setup: Setup, cfg: Config) -> tuple[int, int]:
    K = setup.samples // cfg.per_step
    every = K // setup.n_ckpt
    if K * cfg.per_step != setup.samples or every * setup.n_ckpt != K:
        raise InputError(f"{setup.samples} samples do not split into {setup.n_ckpt} "
                         f"checkpoints at N*B = {cfg.per_step}")
    return K, every


# ====================================================================== simulation
@dataclass
class Curve:
    """E f at the checkpoints (index 0: the start), its SE, and how it was obtained."""

    mean: np.ndarray
    se: np.ndarray
    replicas: int
    seed: int
    diverged: str | None = None


def simulate(setup: Setup, cfg: Config, replicas: int, seed: int, device: str = "cpu"
             ) -> Curve:
    """Run the discrete method in configuration ``cfg`` (R independent replicas)."""
    from theorykit.simulate import run_discrete

    K, every = _steps(setup, cfg)
    res = run_discrete(setup.method, setup.problem(), setup.noise, eta=cfg.eta, steps=K,
                       replicas=replicas, n_workers=cfg.n_workers, batch=cfg.batch,
                       x0=list(setup.x0), seed=seed, record_every=every, stats=("loss",),
                       device=device, progress=False)
    mean, se = np.asarray(res.mean["loss"], float), np.asarray(res.se["loss"], float)
    bad = None
    if res.diverged or not np.all(np.isfinite(mean)):
        bad = res.divergence_text() or "not finite"
    return Curve(mean, se, replicas, seed, bad)


# ====================================================================== moment equations
@dataclass
class MomentModel:
    """The (linearised) SDE on a quadratic around x* = 0: drift J x, diffusion covariance
    E Σ(X) = C0 + C1·m + C2:S (exact when Σ is a polynomial of degree <= 2 in x)."""

    J: np.ndarray
    C0: np.ndarray
    C1: np.ndarray
    C2: np.ndarray
    H: np.ndarray
    linearized: bool


def moment_model(sde: Any, H: np.ndarray, linearize: bool) -> MomentModel:
    """Read J, C0, C1, C2 off a derived SDE (linearised at x = 0 if ``linearize``)."""
    x = list(sde.x)
    d = len(x)
    at0 = {s: 0 for s in x}
    J = np.array(sde.drift.jacobian(x).xreplace(at0).evalf().tolist(), dtype=float)
    C0 = np.zeros((d, d))
    C1 = np.zeros((d, d, d))
    C2 = np.zeros((d, d, d, d))
    cov = sde.diffusion_cov
    for p in range(d):
        for q in range(d):
            e = sp.sympify(cov[p, q])
            if linearize:
                C0[p, q] = float(e.xreplace(at0).evalf())
                continue
            poly = sp.Poly(sp.expand(e), *x)
            for mono, c in poly.terms():
                deg = sum(mono)
                idx = [a for a in range(d) for _ in range(mono[a])]
                if deg == 0:
                    C0[p, q] += float(c)
                elif deg == 1:
                    C1[p, q, idx[0]] += float(c)
                elif deg == 2:
                    C2[p, q, idx[0], idx[1]] += float(c)
                else:  # pragma: no cover - D(C)SGD covariances are quadratic
                    raise ValueError("covariance of degree > 2: no moment closure")
    return MomentModel(J, C0, C1, C2, H, linearize)


def _affine(f: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """The (n+1)x(n+1) matrix of an affine map v -> f(v) on R^n (last coordinate = 1)."""
    c = f(np.zeros(n))
    M = np.zeros((n + 1, n + 1))
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        M[:n, i] = f(e) - c
    M[:n, n] = c
    M[n, n] = 1.0
    return M


def _moment_maps(mod: MomentModel, eta: float) -> tuple[Any, Any]:
    d = mod.J.shape[0]

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m, S = v[:d], v[d:].reshape(d, d)
        ES = mod.C0 + np.einsum("pqa,a->pq", mod.C1, m) + np.einsum("pqab,ab->pq", mod.C2, S)
        return m, S, ES

    def step(h: float) -> Callable[[np.ndarray], np.ndarray]:
        A = np.eye(d) + h * mod.J

        def f(v: np.ndarray) -> np.ndarray:
            m, S, ES = unpack(v)
            return np.concatenate([A @ m, (A @ S @ A.T + h * eta * ES).ravel()])
        return f

    def ode(v: np.ndarray) -> np.ndarray:
        m, S, ES = unpack(v)
        return np.concatenate([mod.J @ m, (mod.J @ S + S @ mod.J.T + eta * ES).ravel()])

    return step, ode


def loss_curve(mod: MomentModel, eta: float, x0: np.ndarray, t_ckpt: float, n_ckpt: int,
               h: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E f, diag E x xᵀ and E x at SDE times j·t_ckpt, j = 0..n_ckpt: the Euler-type moment
    recursion with step h (h = η: the discrete method; h = dt: Euler–Maruyama) or the exact
    moment ODE (h = None)."""
    from scipy.linalg import expm

    d = len(x0)
    n = d + d * d
    step, ode = _moment_maps(mod, eta)
    if h is None:
        G = _affine(ode, n)
        G[n, n] = 0.0
        P = expm(G * t_ckpt)
    else:
        r = t_ckpt / h
        if abs(r - round(r)) > 1e-9 * max(r, 1):
            raise ValueError(f"checkpoint spacing {t_ckpt} is not a multiple of h = {h}")
        P = np.linalg.matrix_power(_affine(step(h), n), round(r))
    v = np.concatenate([x0, np.outer(x0, x0).ravel(), [1.0]])
    loss, diag, mean = [], [], []
    for _ in range(n_ckpt + 1):
        S = v[d:n].reshape(d, d)
        loss.append(0.5 * float(np.trace(mod.H @ S)))
        diag.append(np.diag(S).copy())
        mean.append(v[:d].copy())
        v = P @ v
    return np.array(loss), np.array(diag), np.array(mean)


def sign_nl_coeffs(noise: Any, batch: int) -> tuple[float, float]:
    """(|c3/c1|, c1²) of the sign mean m(g) = c1 g + c3 g³ + … of the noise at batch B: the
    first-order relative errors of the Phase-3 drift (|c3/c1| g²) and diffusion (c1² g²,
    from 1 − m²), derived by SymPy from the noise's sign mean."""
    key = (type(noise).__qualname__, repr(noise), int(batch))
    if key not in _NL_CACHE:
        g = sp.Symbol("g", real=True)
        m = noise.sign_mean(g, 0, 0, batch)
        ser = sp.series(m, g, 0, 4).removeO()
        c1 = float(ser.coeff(g, 1))
        c3 = float(ser.coeff(g, 3))
        _NL_CACHE[key] = (abs(c3 / c1), c1 * c1)
    return _NL_CACHE[key]


_NL_CACHE: dict[tuple[str, str, int], tuple[float, float]] = {}


@dataclass
class Prediction:
    """Moment predictions for one configuration at the checkpoints: the discrete scheme's
    E f, the exact (linearised) SDE's E f, and (sign methods) the first-order relative
    linearisation error ``nl_eps``."""

    scheme: np.ndarray
    exact: np.ndarray
    nl_eps: float = 0.0


def predict(setup: Setup, cfg: Config) -> Prediction:
    """The discrete scheme's and the exact SDE's E f for ``cfg`` (see the module doc)."""
    from theorykit.sde import derive

    prob = setup.problem()
    sde = derive(setup.method, None, setup.noise, prob, n_workers=cfg.n_workers,
                 batch=cfg.batch)
    mod = moment_model(sde, np.diag(setup.eigs), linearize=setup.linearize)
    _, every = _steps(setup, cfg)
    x0 = np.array(setup.x0, dtype=float)
    scheme, _, _ = loss_curve(mod, cfg.eta, x0, cfg.eta * every, setup.n_ckpt, cfg.eta)
    exact, diag, _ = loss_curve(mod, cfg.eta, x0, cfg.eta * every, setup.n_ckpt, None)
    eps = 0.0
    if setup.linearize:
        drift_c, diff_c = sign_nl_coeffs(setup.noise, cfg.batch)
        ez2 = float((np.array(setup.eigs) ** 2 * diag).max())  # largest E (d_j f)^2
        eps = (drift_c + diff_c) * ez2
    return Prediction(scheme, exact, float(eps))


def allowance(p_base: Prediction, p_other: Prediction) -> np.ndarray:
    """Per checkpoint: the discretisation error of each side on its own (plus, for sign
    methods, each side's first-order linearisation bound) — never |base − other|."""
    a = np.abs(p_base.scheme - p_base.exact) + np.abs(p_other.scheme - p_other.exact)
    if p_base.nl_eps or p_other.nl_eps:
        a = a + p_base.nl_eps * np.abs(p_base.exact) + p_other.nl_eps * np.abs(p_other.exact)
    return a


def curve_distance(a: Curve, b: Curve, allow: np.ndarray) -> dict[str, Any]:
    """Standardised excess of |mean_a − mean_b| over the allowance per checkpoint (the
    common deterministic start, checkpoint 0, excluded)."""
    ma, mb = a.mean[1:], b.mean[1:]
    se = np.hypot(a.se[1:], b.se[1:])
    if np.any(se <= 0):
        raise InputError("a checkpoint has zero standard error (a deterministic run?); "
                         "use more replicas or a noisy configuration")
    diff = np.abs(ma - mb)
    excess = np.maximum(diff - allow[1:], 0.0) / se
    scale = 0.5 * (np.abs(ma) + np.abs(mb))
    j = int(np.argmax(excess))
    return {"D": float(excess.max()), "at_checkpoint": j + 1,
            "diff_at": float(ma[j] - mb[j]), "se_at": float(se[j]),
            "allowance_at": float(allow[1:][j]),
            "max_raw_diff_over_se": float((diff / se).max()),
            "max_allowance_over_se": float((allow[1:] / se).max()),
            "max_rel_diff": float((diff / np.maximum(scale, 1e-300)).max())}


def _predicted_excess(p_base: Prediction, p_other: Prediction, se: np.ndarray) -> float:
    gap = np.abs(p_base.exact - p_other.exact)[1:]
    return float((np.maximum(gap - allowance(p_base, p_other)[1:], 0.0) / se).max())


# ====================================================================== the check
@dataclass
class RuleCheck:
    """The outcome of :func:`check_rule`."""

    status: str
    """``holds`` | ``contradicted`` | ``inconclusive``."""
    d: float | None
    """The curve distance D (None when no distance was measured)."""
    z: float
    kappa: float
    alpha: float
    delta: float
    base: Config
    scaled: Config
    samples: int
    n_ckpt: int
    replicas: int
    seeds: tuple[int, int]
    distance: dict[str, Any] = field(default_factory=dict)
    resolution: dict[str, float] = field(default_factory=dict)
    """Predicted D of κ·2 and κ/2 with the measured SEs (the power against a factor-2
    error)."""
    reason: str = ""
    series: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line with the numbers behind the status."""
        if self.d is None:
            return f"{self.status}: {self.reason}"
        d = self.distance
        res = min(self.resolution.values()) if self.resolution else float("nan")
        return (f"{self.status}: D = {self.d:.2f} vs z = {self.z:.2f} (max over {self.n_ckpt} "
                f"checkpoints of (|Δf| − allowance)/SE; at checkpoint {d['at_checkpoint']}: "
                f"Δf = {d['diff_at']:.4g}, allowance = {d['allowance_at']:.3g}, SE = "
                f"{d['se_at']:.3g}); resolution against a factor-2 error in kappa: "
                f"D = {res:.1f}. {self.reason}").strip()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["base"], out["scaled"] = asdict(self.base), asdict(self.scaled)
        out["D"] = out.pop("d")
        return out


def check_rule(setup: Setup, kappa: float, alpha: float, delta: float, *, replicas: int,
               seed: int, memo: Memo | None = None, device: str = "cpu",
               resolve: bool = True) -> RuleCheck:
    """Does (N, B, η) -> (αN, δB, κη) keep E f against samples seen? (module doc).

    ``memo(key, fn)`` caches measurements and predictions (``RunContext.memo`` in a claim):
    the base run is shared by every κ, a scaled run is keyed by its configuration. The base
    run uses ``seed``, the scaled run ``seed + 7919`` (independent streams). ``resolve``:
    compute the resolution against a factor-2 error in κ; a *holds* needs it to reach z + 3
    (else *inconclusive*)."""
    if memo is None:
        cache: dict[Any, Any] = {}

        def memo(key: Any, fn: Callable[[], Any]) -> Any:
            if key not in cache:
                cache[key] = fn()
            return cache[key]

    cfg = scaled_config(setup.base, kappa, alpha, delta)
    z = stats.bonferroni_z(setup.n_ckpt)
    seeds = (seed, seed + 7919)
    out = RuleCheck("inconclusive", None, z, float(kappa), float(alpha), float(delta),
                    setup.base, cfg, setup.samples, setup.n_ckpt, replicas, seeds)
    base = memo(("curve", setup.name, setup.base, replicas, seeds[0], device),
                lambda: simulate(setup, setup.base, replicas, seeds[0], device))
    if base.diverged:
        out.reason = (f"the base configuration itself is unstable ({base.diverged}); use a "
                      "smaller learning rate")
        return out
    other = memo(("curve", setup.name, cfg, replicas, seeds[1], device),
                 lambda: simulate(setup, cfg, replicas, seeds[1], device))
    samples = [setup.samples * j // setup.n_ckpt for j in range(setup.n_ckpt + 1)]
    out.series = {"samples": samples, "base_mean": base.mean.tolist(),
                  "base_se": base.se.tolist()}
    if other.diverged:
        out.status = "contradicted"
        out.reason = (f"the scaled run diverges ({other.diverged}) while the base run does "
                      "not: the curves cannot coincide")
        return out
    p_base = memo(("pred", setup.name, setup.base), lambda: predict(setup, setup.base))
    p_other = memo(("pred", setup.name, cfg), lambda: predict(setup, cfg))
    allow = allowance(p_base, p_other)
    out.distance = curve_distance(base, other, allow)
    out.d = out.distance["D"]
    out.series.update({"scaled_mean": other.mean.tolist(), "scaled_se": other.se.tolist(),
                       "allowance": allow.tolist(),
                       "sde_base": p_base.exact.tolist(), "sde_scaled": p_other.exact.tolist()})
    se = np.hypot(base.se[1:], other.se[1:])
    if resolve:
        for f in (2.0, 0.5):
            alt = Config(cfg.eta * f, cfg.n_workers, cfg.batch)
            try:
                p_alt = memo(("pred", setup.name, alt), lambda alt=alt: predict(setup, alt))
            except (InputError, ValueError):
                continue
            if np.all(np.isfinite(p_alt.exact)):
                out.resolution[f"kappa x{f:g}"] = _predicted_excess(p_base, p_alt, se)
    if out.d > z:
        out.status = "contradicted"
        out.reason = (f"the curves differ by {out.d:.1f} SE beyond the discretisation "
                      "allowance of both sides")
    elif resolve and (not out.resolution
                      or min(out.resolution.values()) < z + RESOLUTION_MARGIN):
        out.status = "inconclusive"
        res = min(out.resolution.values()) if out.resolution else float("nan")
        out.reason = (f"the curves coincide, but a factor-2 error in kappa would only reach "
                      f"D = {res:.1f} < z + {RESOLUTION_MARGIN:g} = "
                      f"{z + RESOLUTION_MARGIN:.2f}: use more replicas or samples, or "
                      "(sign methods) a start nearer the minimum")
    else:
        out.status = "holds"
        out.reason = "the curves coincide within the discretisation allowance"
    return out
