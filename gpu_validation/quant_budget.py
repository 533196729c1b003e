r"""Quantization at a fixed bit budget under heavy-tailed gradients: TNQ vs TUQ vs QSGD
on an MLP (digits), at the same bits per coordinate.

**Claim** (Yan, Li, Xiao, Li & Song, TNQSGD, arXiv 2402.01160, and TUQSGD, arXiv
2402.01798, *read: abstracts*): under heavy-tailed gradient noise, truncating the gradient
and quantizing it on non-uniform levels (TNQ) gives a smaller quantization error than
truncation with uniform levels (TUQ), which beats norm-scaled quantization (QSGD), at the
same number of bits, and so trains better. The error of a truncated quantizer is *derived*
in :mod:`theorykit.rules.quantization` (``codec_mse``: truncation bias plus the exact cell
variance of unbiased stochastic rounding); the levels come from its ``optimize``
(λ* ∝ p^{1/3} for TNQ, uniform for TUQ, thresholds minimising the c_Q = 1/4 objective).

**Setting.** :class:`gpu_validation.models.mlp.MLP` on scikit-learn's digits, N simulated
workers (:class:`gpu_validation.workers.SimulatedWorkers`), Student-t noise injected into
every worker's gradient, ``Z = s T_ν/√B`` (Compagnoni et al., AISTATS 2025 convention,
*recalled*). ν = 5: heavy (polynomial) tails, and the smallest integer ν for which the
squared quantization error has a finite variance (it needs E|g|⁴ < ∞, i.e. ν > 4), so
that a standard error of the measured MSE means something. ``b`` bits per coordinate for
all three: TNQ/TUQ with ``s = 2^b - 1`` intervals (``b`` bits of level code, the levels
known to both ends); QSGD with ``s = 2^(b-1) - 1`` (1 sign bit + ``b - 1`` bits of level,
plus one float32 norm per message). Bits are counted from the real payloads
(``codec="encode"``).

**Statistics.**

1. *Quantization MSE* at checkpoints of the TNQ run: fresh inputs ``g = m + Z`` (``m``
   the workers' clean minibatch gradients, ``Z`` the injected noise) are quantized by all
   three codecs; the measured per-coordinate MSE (mean ± SE over the n = checkpoints x
   workers x replicas messages) is compared two-sidedly with the derived error at the
   measured input law, ``mean_j E_Z e(m_j + Z)`` (``e`` = truncation bias + cell variance,
   the integrand of ``codec_mse``; at ``m = 0`` it *is* ``codec_mse``), for TNQ and TUQ.
   Ratios TUQ/TNQ and QSGD/TUQ (paired per message) must exceed 1 beyond ``z·SE``.
2. *Training*: final full-training-set loss per replica; paired differences
   ``L_TUQ - L_TNQ`` and ``L_QSGD - L_TNQ`` must be positive beyond ``z·SE`` (holds),
   negative beyond it (contradicted), else inconclusive.

``z = bonferroni_z(6)`` over the six parts. Mutants through the same statistics:
``gaussian_law`` (the gradient is Gaussian with the same variance: the derived error under
that law), ``cq_quarter_exact`` (the c_Q = 1/4 worst-case cell variance taken as the
exact error), ``uniform_as_good`` (TUQ/TNQ MSE ratio = 1), ``qsgd_as_good``
(QSGD/TNQ = 1).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
import torch

from gpu_validation import common
from gpu_validation.data import Digits, digits
from gpu_validation.models.mlp import MLP
from gpu_validation.workers import SimulatedWorkers, WorkerSetup
from theorykit.check.stats import Estimate, agree, bonferroni_z, mean_se

NAME = "quant_budget"
ESTIMATED_S = {"tiny": 30, "cpu": 540, "full": 480}
"""Declared run time per mode (tiny/cpu measured on one CPU thread; full: estimate)."""
PRIORITY = 5
"""run_all: higher runs first."""

CODECS = ("tnq", "tuq", "qsgd")
MAX_CLEAN = 200_000
"""At most this many clean-gradient coordinates per checkpoint enter the derived error
(a seeded uniform subsample when the N x d coordinates are more; exact in tiny/cpu)."""

CONFIG: dict[str, dict[str, Any]] = {
    "tiny": {"hidden": 64, "depth": 2, "workers": 4, "batch": 16, "steps": 150,
             "lr": 0.05, "bits": 3, "nu": 5.0, "noise_scale": 0.2, "replicas": 3,
             "checkpoints": 4, "reference": False},
    "cpu": {"hidden": 128, "depth": 2, "workers": 4, "batch": 16, "steps": 600,
            "lr": 0.05, "bits": 3, "nu": 5.0, "noise_scale": 0.2, "replicas": 5,
            "checkpoints": 6, "reference": True},
    # full (GPU): d = 1.1M (hidden 1024, depth 2), 8 workers, 2000 steps, 6 replicas x 4
    # runs = 48k rounds. Per round: a vmapped MLP forward/backward (~1 ms), Student-t
    # noise for 8 x 1.1M coordinates (~1 ms) and 8 quantizer encodes of 1.1M coordinates
    # (~1 ms each) -> ~10 ms/round -> ~480 s, plus 10 MSE checkpoints per replica (a few
    # s). Estimate from sizes and kernel counts, not measured (no GPU in this session).
    "full": {"hidden": 1024, "depth": 2, "workers": 8, "batch": 32, "steps": 2000,
             "lr": 0.05, "bits": 3, "nu": 5.0, "noise_scale": 0.28, "replicas": 6,
             "checkpoints": 10, "reference": True},
}


# ============================================================== the derived error
class NoiseLaw:
    """A symmetric noise law ``σ X`` for the derived error: its density and the tail
    moment ``E[(σX - k)² 1{σX > k}]`` in closed form (*derived*, below)."""

    def __init__(self, kind: str, scale: float, nu: float = math.inf) -> None:
        self.kind, self.scale, self.nu = kind, float(scale), float(nu)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.stats import norm, t

        if self.kind == "gaussian":
            return norm.pdf(x, scale=self.scale)
        return t.pdf(x, self.nu, scale=self.scale)

    def tail2(self, k: np.ndarray) -> np.ndarray:
        r"""``E[(σX - k)² 1{σX > k}] = σ² (J₂ - 2κJ₁ + κ²J₀)(κ)``, ``κ = k/σ``, with
        ``J_r(κ) = ∫_κ^∞ x^r f(x) dx``. Gaussian: ``J₀ = Φ̄``, ``J₁ = φ``,
        ``J₂ = κφ + Φ̄``. Student-t(ν > 2) with constant ``C_ν``: ``J₁ = f_ν(κ)(ν +
        κ²)/(ν - 1)`` and, from ``x² f_ν = ν C_ν (1 + x²/ν)^{-(ν-1)/2} - ν f_ν`` and
        ``x = u √(ν/(ν-2))``, ``J₂ = ν (C_ν/C_{ν-2}) √(ν/(ν-2)) F̄_{ν-2}(κ √((ν-2)/ν))
        - ν F̄_ν(κ)`` (*derived*; checked against quadrature in the tests)."""
        from scipy.special import gammaln
        from scipy.stats import norm, t

        kk = np.asarray(k, float) / self.scale
        if self.kind == "gaussian":
            j0, j1 = norm.sf(kk), norm.pdf(kk)
            j2 = kk * j1 + j0
        else:
            nu = self.nu
            logc = lambda v: gammaln((v + 1) / 2) - gammaln(v / 2) - 0.5 * math.log(v * math.pi)  # noqa: E731
            j0 = t.sf(kk, nu)
            j1 = t.pdf(kk, nu) * (nu + kk**2) / (nu - 1)
            j2 = (nu * math.exp(logc(nu) - logc(nu - 2)) * math.sqrt(nu / (nu - 2))
                  * t.sf(kk * math.sqrt((nu - 2) / nu), nu - 2) - nu * j0)
        return self.scale**2 * np.maximum(j2 - 2 * kk * j1 + kk**2 * j0, 0.0)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def expected_error(levels: np.ndarray, law: NoiseLaw, shifts: np.ndarray, *,
                   cell: str = "exact") -> np.ndarray:
    r"""``E_Z e(c + Z)`` for each shift ``c``: the per-coordinate error of truncation at
    ``α = max(levels)`` then unbiased stochastic rounding to ``levels`` (*derived*, the
    integrand of :func:`theorykit.rules.quantization.codec_mse`):
    ``e(t) = (|t| - α)²`` for ``|t| > α`` and ``(t - ℓ_j)(ℓ_{j+1} - t)`` in cell j
    (``cell="quarter"``: the worst case ``(ℓ_{j+1} - ℓ_j)²/4``, the c_Q = 1/4 model).
    Cells by 64-point Gauss-Legendre (smooth integrand inside a cell); the two tails in
    closed form (:meth:`NoiseLaw.tail2`: ``up = tail2(α - c)``, ``down = tail2(α + c)``
    by symmetry). At ``c = 0`` this is ``codec_mse`` (tested)."""
    lv = np.sort(np.asarray(levels, float))
    a = float(lv[-1])
    lo, hi = lv[:-1], lv[1:]
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    t = mid[:, None] + half[:, None] * _GL_X[None, :]          # (cells, 64)
    e = (t - lo[:, None]) * (hi[:, None] - t) if cell == "exact" else \
        np.broadcast_to(((hi - lo) ** 2 / 4)[:, None], t.shape)
    c = np.asarray(shifts, float)[:, None, None]
    inner = ((e[None] * law.pdf(t[None] - c)) @ _GL_W) @ half  # (shifts,)
    c = c[:, 0, 0]
    return inner + law.tail2(a - c) + law.tail2(a + c)


def predicted_mse(levels: np.ndarray, law: NoiseLaw, m: np.ndarray, *,
                  cell: str = "exact", grid: int = 201) -> float:
    """Mean over the clean-gradient coordinates ``m`` of ``E_Z e(m_j + Z)``:
    :func:`expected_error` on a grid of shifts over ``[min m, max m]`` (step at most
    ``σ/20``, at least ``grid`` points; ``e`` convolved with the noise is smooth on that
    scale) and linear interpolation."""
    m = np.asarray(m, float).ravel()
    lo, hi = float(m.min()), float(m.max())
    n = max(grid, math.ceil((hi - lo) / (law.scale / 20)) + 1)
    xs = np.linspace(lo, hi, n) if hi > lo else np.array([lo])
    h = expected_error(levels, law, xs, cell=cell)
    return float(np.mean(np.interp(m, xs, h))) if len(xs) > 1 else float(h[0])


# ================================================================ codecs and runs
def design(cfg: dict[str, Any]) -> dict[str, Any]:
    """The three codecs at ``cfg["bits"]`` bits per coordinate for the injected noise law
    (Student-t(ν), scale ``noise_scale/√B``), from :func:`theorykit.rules.quantization.
    optimize`."""
    from theorykit.rules.quantization import density, optimize

    b = int(cfg["bits"])
    scale = float(cfg["noise_scale"]) / math.sqrt(int(cfg["batch"]))
    dens = density("student_t", nu=float(cfg["nu"]), scale=scale)
    tnq = optimize(dens, bits=b, scheme="nonuniform")
    tuq = optimize(dens, bits=b, scheme="uniform")
    return {
        "scale": scale, "density": dens,
        "opt": {"tnq": tnq, "tuq": tuq},
        "specs": {"tnq": ("truncated_nonuniform", {"tau": tnq.alpha,
                                                   "levels": tuple(float(x) for x in
                                                                   tnq.levels)}),
                  "tuq": ("truncated_uniform", {"tau": tuq.alpha, "s": tuq.s}),
                  "qsgd": ("qsgd", {"s": 2 ** (b - 1) - 1})},
    }


def _batches(data: Digits, n: int, batch: int, gen: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.randint(0, len(data.y_train), (n, batch), generator=gen)
    idx = idx.to(data.y_train.device)
    return data.x_train[idx], data.y_train[idx]


def run_replica(cfg: dict[str, Any], des: dict[str, Any], data: Digits, codec: str,
                seed: int, device: torch.device, probe: bool = False) -> dict[str, Any]:
    """Train DCSGD with ``codec`` (or DSGD for ``"dsgd"``) with Student-t noise; with
    ``probe``, also quantize fresh inputs with all three codecs at checkpoints and return
    the per-message errors and the clean gradients."""
    from gpu_validation.workers import make_compressor

    torch.manual_seed(seed)
    model = MLP(64, int(cfg["hidden"]), int(cfg["depth"])).to(device)
    n, B = int(cfg["workers"]), int(cfg["batch"])
    comp, params = des["specs"][codec] if codec != "dsgd" else (None, {})
    setup = WorkerSetup(n_workers=n, batch=B, method="dsgd" if codec == "dsgd" else "dcsgd",
                        compressor=comp, params=params, noise="student-t",
                        nu=float(cfg["nu"]), noise_scale=float(cfg["noise_scale"]),
                        codec="encode")
    w = SimulatedWorkers(model, torch.nn.functional.cross_entropy, setup, seed=seed)
    gen = torch.Generator().manual_seed(seed * 11 + 5)   # same minibatches for all codecs
    steps = int(cfg["steps"])
    checks = set(np.linspace(0, steps - 1, int(cfg["checkpoints"])).astype(int).tolist())
    specs = {c: make_compressor(*des["specs"][c]) for c in CODECS} if probe else {}
    pgen = torch.Generator(device=device).manual_seed(seed * 13 + 7)
    errs: dict[str, list[float]] = {c: [] for c in CODECS}
    clean: list[np.ndarray] = []
    bits_rounds: set[int] = set()
    for t in range(steps):
        xb, yb = _batches(data, n, B, gen)
        if probe and t in checks:
            noise, w.noise = w.noise, None
            m, _ = w.grads(xb, yb)
            w.noise = noise
            assert noise is not None
            z = noise.sample(1, n, w.d, batch=B, generator=pgen, device=device,
                             dtype=m.dtype)[0]
            g = m + z
            for c, spec in specs.items():
                for i in range(n):
                    q = spec.decode(spec.encode(g[i:i + 1], pgen)).reshape(-1)
                    errs[c].append(float(((q - g[i]) ** 2).mean()))
            flat = m.detach().reshape(-1)
            if flat.numel() > MAX_CLEAN:  # a seeded subsample bounds host memory (full)
                pick = torch.randperm(flat.numel(), generator=pgen,
                                      device=flat.device)[:MAX_CLEAN]
                flat = flat[pick]
            clean.append(flat.cpu().double().numpy())
        info = w.step(xb, yb, float(cfg["lr"]))
        bits_rounds.add(info.bits)
    ok = w.finite()
    loss = w.evaluate(data.x_train, data.y_train) if ok else math.inf
    acc = float((w.predict(data.x_test).argmax(1) == data.y_test).float().mean()) if ok \
        else 0.0
    return {"loss": loss, "acc": acc, "bits_per_round": sorted(bits_rounds), "d": w.d,
            "errs": errs, "clean": clean, "model": model}


def run(mode: common.Mode) -> dict[str, Any]:
    """The experiment in ``mode`` (see the module doc); returns the result document."""
    cfg = dict(CONFIG[mode.name])
    if mode.device.type == "cpu":
        torch.set_num_threads(1)  # small kernels: one thread is fastest on a shared CPU
    data = digits(mode.device, seed=mode.seed)
    des = design(cfg)
    nrep = int(cfg["replicas"])
    names = (*CODECS, "dsgd") if cfg["reference"] else CODECS
    res: dict[str, list[dict[str, Any]]] = {c: [] for c in names}
    timing = dict.fromkeys(names, 0.0)
    model = None
    for r in range(nrep):
        for c in names:
            t0 = time.perf_counter()
            out = run_replica(cfg, des, data, c, mode.seed + r, mode.device,
                              probe=(c == "tnq"))
            timing[c] += time.perf_counter() - t0
            model = out.pop("model")
            res[c].append(out)
    d = res["tnq"][0]["d"]
    # ---- quantization MSE: measured vs derived at the measured input law
    E = {c: np.concatenate([np.array(o["errs"][c]) for o in res["tnq"]]) for c in CODECS}
    meas = {c: mean_se(E[c]) for c in CODECS}
    m_all = np.concatenate([x for o in res["tnq"] for x in o["clean"]])
    nu, sc = float(cfg["nu"]), des["scale"]
    t_law = NoiseLaw("student-t", sc, nu)
    g_law = NoiseLaw("gaussian", sc * math.sqrt(nu / (nu - 2)))
    lv = {c: np.asarray(des["opt"][c].levels, float) for c in ("tnq", "tuq")}
    pred = {c: predicted_mse(lv[c], t_law, m_all) for c in lv}
    pred_noise_only = {c: float(des["opt"][c].exact_error) for c in lv}
    pred_gauss = {c: predicted_mse(lv[c], g_law, m_all) for c in lv}
    pred_quarter = {c: predicted_mse(lv[c], t_law, m_all, cell="quarter") for c in lv}
    r_uq_nq = mean_se(E["tuq"] / E["tnq"])
    r_qs_uq = mean_se(E["qsgd"] / E["tuq"])
    r_qs_nq = mean_se(E["qsgd"] / E["tnq"])
    # ---- training
    L = {c: np.array([o["loss"] for o in res[c]]) for c in names}
    A = {c: np.array([o["acc"] for o in res[c]]) for c in names}
    d_uq, d_qs = _paired(L["tuq"] - L["tnq"]), _paired(L["qsgd"] - L["tnq"])
    z = bonferroni_z(6)
    s = mode.seed
    parts = [
        agree("tnq_mse_matches_derived", pred["tnq"], meas["tnq"], z=z, seed=s),
        agree("tuq_mse_matches_derived", pred["tuq"], meas["tuq"], z=z, seed=s),
        common.greater("tnq_mse_below_tuq", Estimate(r_uq_nq.mean - 1, r_uq_nq.se, r_uq_nq.n),
                       0.0, z=z, seed=s, details={"ratio_tuq_over_tnq": r_uq_nq.mean}),
        common.greater("tuq_mse_below_qsgd",
                       Estimate(r_qs_uq.mean - 1, r_qs_uq.se, r_qs_uq.n),
                       0.0, z=z, seed=s, details={"ratio_qsgd_over_tuq": r_qs_uq.mean}),
        common.greater("tnq_trains_better_than_tuq", d_uq, 0.0, z=z, seed=s),
        common.greater("tnq_trains_better_than_qsgd", d_qs, 0.0, z=z, seed=s),
    ]
    mutants = [
        common.mutant_result("gaussian_law", "the gradient law is Gaussian with the same "
                             "variance (heavy tails ignored): derived TNQ error under it",
                             agree("gaussian_law", pred_gauss["tnq"], meas["tnq"], z=z,
                                   seed=s)),
        common.mutant_result("cq_quarter_exact", "the c_Q = 1/4 worst-case cell variance "
                             "is the exact TNQ error",
                             agree("cq_quarter_exact", pred_quarter["tnq"], meas["tnq"],
                                   z=z, seed=s)),
        common.mutant_result("uniform_as_good", "uniform levels are as good: MSE "
                             "TUQ/TNQ = 1", agree("uniform_as_good", 1.0, r_uq_nq, z=z,
                                                  seed=s)),
        common.mutant_result("qsgd_as_good", "norm-scaled QSGD is as good at equal bits: "
                             "MSE QSGD/TNQ = 1", agree("qsgd_as_good", 1.0, r_qs_nq, z=z,
                                                       seed=s, max_rel_se=None)),
    ]
    bits = {c: sorted({b for o in res[c] for b in o["bits_per_round"]}) for c in names}
    bpc = {c: bits[c][0] / (d * int(cfg["workers"])) for c in names}
    verdict = common.experiment_verdict(
        "tnq_beats_tuq_beats_qsgd_at_equal_bits",
        f"Truncated non-uniform quantization at {cfg['bits']} bits/coordinate under "
        f"Student-t(ν={nu:g}) gradient noise: derived MSE matches, TNQ < TUQ < QSGD in "
        "MSE, TNQ trains better", parts, main=common.first_contradicted(parts),
        source="source", seed=s, mutants=mutants,
        details={"z": z, "derived_mse_at_input_law": pred,
                 "derived_mse_noise_only": pred_noise_only,
                 "c_q_quarter_objective_noise_only": {
                     c: float(des["opt"][c].predicted_error) for c in lv},
                 "measured_mse": {c: [meas[c].mean, meas[c].se, meas[c].n] for c in CODECS},
                 "mse_ratios": {"tuq/tnq": [r_uq_nq.mean, r_uq_nq.se],
                                "qsgd/tuq": [r_qs_uq.mean, r_qs_uq.se],
                                "qsgd/tnq": [r_qs_nq.mean, r_qs_nq.se]},
                 "signal_to_noise_energy": float(np.mean(m_all ** 2)
                                                 / (sc ** 2 * nu / (nu - 2)))})
    ms = common.mean_and_se
    summary = {c: {"loss": ms(L[c]), "acc": ms(A[c]), "bits_per_coordinate": bpc[c],
                   "bits_per_round": bits[c], "seconds": round(timing[c], 2)}
               for c in names}
    expl = _explain(cfg, summary, meas, pred, pred_gauss, r_uq_nq, r_qs_uq, d_uq, d_qs, z)
    return common.document(
        NAME, mode, verdict, used=model if model is not None else data.x_train,
        description="TNQ vs TUQ vs QSGD at equal bits per coordinate, DCSGD on an MLP "
                    "(sklearn digits) with Student-t gradient noise",
        config=cfg | {"d": d, "noise_law": f"Z = {cfg['noise_scale']} T_nu/sqrt(B)",
                      "quantizer_scale": sc,
                      "codecs": {c: {"name": des["specs"][c][0],
                                     "params": des["specs"][c][1]} for c in CODECS},
                      "levels": {c: des["opt"][c].to_json() for c in lv},
                      "replica_seeds": [s + r for r in range(nrep)]},
        series={"summary": summary,
                "per_replica": {c: [{"loss": o["loss"], "acc": o["acc"]} for o in res[c]]
                                for c in names}},
        explanation=expl)


def _paired(a: np.ndarray) -> Estimate:
    a = np.asarray(a, float)
    if not np.all(np.isfinite(a)):
        return Estimate(math.nan, math.nan, len(a))
    return mean_se(a)


def _explain(cfg: dict[str, Any], s: dict[str, Any], meas: dict[str, Estimate],
             pred: dict[str, float], pred_g: dict[str, float], r1: Estimate, r2: Estimate,
             d1: Estimate, d2: Estimate, z: float) -> str:
    def word(e: Estimate, pos: str, neg: str) -> str:
        if not math.isfinite(e.mean):
            return "undefined (a run diverged)"
        return pos if e.mean - z * e.se > 0 else neg if e.mean + z * e.se < 0 else \
            "not distinguishable at z·SE"

    def rel(c: str) -> str:
        return f"{(meas[c].mean - pred[c]) / pred[c]:+.2%}"

    loss = "; ".join(f"{c}: {v['loss'][0]:.4g} ± {v['loss'][1]:.2g} "
                     f"({v['bits_per_coordinate']:.4g} bits/coord)" for c, v in s.items())
    return (f"Student-t(ν={cfg['nu']:g}) noise, {cfg['bits']} bits/coordinate. "
            f"Measured quantization MSE: TNQ {meas['tnq']:.4g}, TUQ {meas['tuq']:.4g}, "
            f"QSGD {meas['qsgd']:.4g}; derived at the measured input law: TNQ "
            f"{pred['tnq']:.4g} ({rel('tnq')} off), TUQ {pred['tuq']:.4g} ({rel('tuq')} "
            f"off); a Gaussian law of the same variance would predict TNQ "
            f"{pred_g['tnq']:.4g}. MSE ratio TUQ/TNQ = {r1.mean:.3f} ± {r1.se:.2g} "
            f"(TNQ {word(Estimate(r1.mean - 1, r1.se, r1.n), 'smaller', 'larger')}), "
            f"QSGD/TUQ = {r2.mean:.3f} ± {r2.se:.2g}. Final training loss (mean ± SE over "
            f"{d1.n} replicas): {loss}. TNQ's loss vs TUQ's: "
            f"{word(d1, 'lower', 'higher')} (Δ = {d1.mean:.4g} ± {d1.se:.2g}); vs QSGD's: "
            f"{word(d2, 'lower', 'higher')} (Δ = {d2.mean:.4g} ± {d2.se:.2g}); z = {z:.3g}."
            + _vs_reference(s))


def _vs_reference(s: dict[str, Any]) -> str:
    """Each codec's final loss against the uncompressed DSGD reference (when run)."""
    if "dsgd" not in s:
        return ""
    ref = s["dsgd"]["loss"][0]
    return " Against uncompressed DSGD (loss " + f"{ref:.4g}): " + ", ".join(
        f"{c} {(v['loss'][0] - ref) / ref:+.1%}" for c, v in s.items() if c != "dsgd") + "."


def main(argv: list[str] | None = None) -> int:
    return common.main(NAME, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
