"""DCSGD covariance claims of Compagnoni, Islamov, Proske & Lucchi, *Unbiased and Sign
Compression in Distributed Learning: Comparing Noise Resilience via SDEs*, AISTATS 2025
(PMLR 258:4087–4095, arXiv 2502.17009) — issue 3, numeric side, part (c): the diffusion
theorykit derives for DCSGD (Theorem 1, Σ_DCSGD = (1/N) Σ_i E[ξ_{C,i} ξ_{C,i}^T], as
*recalled*) is the covariance of one real compressed step, entry by entry (``derived``;
``docs/theory/sde_papers.md`` §2.2). The Monte Carlo runs the real catalog codecs; the
mutants (compression term x2 or dropped, cross terms dropped, the batch noise not passed
through C, the 1/N dropped, QSGD's variance bound) are applied to the derived covariance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations._common import COMPAGNONI2025, one_thread_claim
from derivations._compagnoni2025_unbiased_sign import PREFIX
from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict
from theorykit.check.mutants import Mutant, factor_mutants, mutant
from theorykit.check.registry import claim

SRC_COV = Source(
    COMPAGNONI2025, "Theorem 1: Σ_DCSGD = (1/N) Σ_i E[ξ_{C,i} ξ_{C,i}^T], "
    "docs/theory/sde_papers.md §2.2", "derived",
    note="the derived diffusion is Cov[D] of one real compressed step")


COV_SETUPS = {
    "randk": ("randk", {"k": 2}, 0.5),
    "bernoulli": ("bernoulli", {"p": 0.3}, 0.5),
    "qsgd": ("qsgd", {"s": 2}, 0.0),
}


def _covariance_mc(method: Any, noise: Any, g: list[float], N: int, B: int, d: int, S: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Monte Carlo Cov[D] of S real compressed steps at gradient g: (covariance, SE of each
    entry from the sample variance of the centred products, SE of the trace)."""
    gen = torch.Generator().manual_seed(seed)
    chunks, done = [], 0
    while done < S:
        n = min(100_000, S - done)
        G = torch.tensor(g, dtype=torch.float64).expand(n, N, d)
        grads = G + noise.sample(n, N, d, B, gen, "cpu", torch.float64)
        chunks.append(method.direction(grads, gen).to(torch.float64))
        done += n
    D = torch.cat(chunks).numpy()
    mu = D.mean(0)
    s1 = np.zeros((d, d))
    s2 = np.zeros((d, d))
    trs = np.empty(S)  # per-sample ||D - mean||^2, for the SE of the trace
    for a in range(0, S, 100_000):  # centred products in chunks: memory O(chunk · d²)
        Dc = D[a:a + 100_000] - mu
        pr = Dc[:, :, None] * Dc[:, None, :]
        s1 += pr.sum(0)
        s2 += (pr * pr).sum(0)
        trs[a:a + 100_000] = (Dc * Dc).sum(1)
    mc = s1 / (S - 1)
    se = np.sqrt(np.maximum(s2 / S - (s1 / S) ** 2, 0.0) * S / (S - 1) / S)
    return mc, se, float(trs.std(ddof=1) / math.sqrt(S))


COV_MUTANTS: dict[str, tuple[Mutant, ...]] = {
    "randk": (mutant("compression_x2", "compression term of Σ x2 (omega x2)", compression=2.0),
              mutant("cross_terms_dropped", "off-diagonal (cross) terms of the rand-k "
                     "covariance dropped", drop_cross=True),
              mutant("noise_not_compressed", "compression covariance taken at the noiseless "
                     "gradient (batch noise not passed through C)", noiseless_compression=True),
              mutant("one_over_N_dropped", "the 1/N of the DCSGD diffusion dropped",
                     drop_1_over_N=True)),
    "bernoulli": (mutant("compression_x2", "compression term of Σ x2 (omega x2)",
                         compression=2.0),
                  mutant("compression_dropped", "compression term of Σ dropped (omega -> 0)",
                         compression=0.0),
                  mutant("noise_not_compressed", "compression covariance taken at the "
                         "noiseless gradient (batch noise not passed through C)",
                         noiseless_compression=True),
                  mutant("one_over_N_dropped", "the 1/N of the DCSGD diffusion dropped",
                         drop_1_over_N=True)),
    "qsgd": (*factor_mutants("compression", "compression term of Σ"),
             mutant("omega_bound", "QSGD covariance modelled by its variance bound "
                    "omega·diag(v²) (omega = min(d/s², sqrt(d)/s))", omega_bound=True)),
}


def _covariance_under_test(key: str, comp: Any, method: Any, noise: Any, prob: Any, N: int,
                           B: int, at: dict, ctx: RunContext) -> np.ndarray:
    """The derived Cov[D] at the gradient, with the theory's knobs applied where the
    theory enters: the compression part Σ_DCSGD - Σ_DSGD (``compression`` factor, taken at
    the noiseless gradient with ``noiseless_compression``, modelled by omega·diag(v²) with
    ``omega_bound``), the off-diagonal terms (``drop_cross``) and the 1/N
    (``drop_1_over_N``)."""
    from theorykit.methods import DCSGD, DSGD, GenericUnbiased
    from theorykit.methods.dcsgd import compressor_omega
    from theorykit.noise import Gaussian
    from theorykit.sde import derive

    def num(m: sp.Matrix) -> np.ndarray:
        return np.array(m.xreplace(at).evalf().tolist(), dtype=float)

    th = ctx.theory
    full = num(derive(method, None, noise, prob, n_workers=N, batch=B).diffusion_cov)
    if not th.is_mutant:
        return full
    base = num(derive(DSGD(), None, noise, prob, n_workers=N, batch=B).diffusion_cov)
    comp_part = full - base
    if th.flag("noiseless_compression"):
        comp_part = num(derive(method, None, Gaussian(sigma=0.0), prob, n_workers=N,
                               batch=B).diffusion_cov)
    if th.flag("omega_bound"):
        w = compressor_omega(comp, prob.d)
        comp_part = num(derive(DCSGD(GenericUnbiased(w)), None, noise, prob, n_workers=N,
                               batch=B).diffusion_cov) - base
    pred = base + th.factor("compression") * comp_part
    if th.flag("drop_cross"):
        pred = np.diag(np.diag(pred))
    if th.flag("drop_1_over_N"):
        pred = pred * N
    return pred


def _covariance_run(key: str, ctx: RunContext) -> Verdict:
    from theorykit.compressors.registry import make
    from theorykit.methods import DCSGD
    from theorykit.noise import Gaussian
    from theorykit.problems import Quadratic

    cid = f"{PREFIX}.dcsgd_covariance.{key}"
    name, params, sigma = COV_SETUPS[key]
    d, N, B = 4, 2, 2
    g = [1.0, -0.5, 2.0, 0.3]
    comp = make(name, **params)
    method = DCSGD(comp)
    noise = Gaussian(sigma=sigma)
    prob = Quadratic(eigs=[1.0] * d)  # grad f(x) = x: evaluate Σ at x = g
    at = {sp.Symbol(f"x_{j + 1}", real=True): sp.nsimplify(v) for j, v in enumerate(g)}
    pred = _covariance_under_test(key, comp, method, noise, prob, N, B, at, ctx)
    S = ctx.pick(200_000, 2_000_000)
    mc, se, tr_se = ctx.memo(("cov-mc", key, S), lambda: _covariance_mc(
        method, noise, g, N, B, d, S, ctx.seed + 31))
    iu = np.triu_indices(d)
    zscores = (mc - pred)[iu] / np.maximum(se[iu], 1e-300)
    z = stats.bonferroni_z(len(iu[0]))
    ok = bool(np.all(np.abs(zscores) <= z))
    return Verdict(
        claim_id=cid, status=Status.of(ok),
        predicted=float(np.trace(pred)), measured=float(np.trace(mc)),
        interval=(float(np.trace(mc)) - z * tr_se, float(np.trace(mc)) + z * tr_se),
        tolerance=f"every entry of Cov[D]: |MC - derived| <= {z:.2f}·SE (Bonferroni over "
                  f"{len(iu[0])} entries; SE from the sample variance of the products)",
        sample_size=S, seed=ctx.seed,
        details={"max_abs_z": float(np.abs(zscores).max()), "derived": pred.tolist(),
                 "monte_carlo": mc.tolist(), "se": se.tolist(), "gradient": g,
                 "noise_sigma": sigma, "N": N, "B": B, "compressor": repr(comp),
                 "note": ("noiseless: the derived QSGD covariance is exact only for a fixed "
                          "input (its frac() form is not quadratic, so E over noise has no "
                          "closed form)") if sigma == 0 else ""},
        series={"entries": [f"{a + 1}{b + 1}" for a, b in zip(*iu, strict=True)],
                "derived": pred[iu].tolist(), "monte_carlo": mc[iu].tolist(),
                "se": se[iu].tolist()},
    )


def _register_covariance(key: str) -> None:
    doc = (
        f"The DCSGD diffusion derived by theorykit for {key} (Cov of one step's direction "
        "(1/N)Σ_i C_i(∇f + Z_i)) equals the Monte Carlo covariance of the real codec's "
        "output, entry by entry (every entry within a Bonferroni z·SE, so a wrong "
        "compression term, missing cross terms or a wrong 1/N is contradicted).")
    claim(f"{PREFIX}.dcsgd_covariance.{key}",
          f"Derived DCSGD covariance = MC covariance of the real {key} compressed gradient",
          SRC_COV, tags=("sde", "covariance", "issue3"), mutants=COV_MUTANTS[key])(
        one_thread_claim(_covariance_run, key, doc=doc))


for _ck in COV_SETUPS:
    _register_covariance(_ck)
