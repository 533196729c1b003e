"""The certifier's driver: :func:`certify` plans the tests (dimensions, inputs, claimed
constants, the Bonferroni count), draws the samples with seeds derived from ``seed`` and
runs each test with first-stage rejections confirmed on fresh draws. The statistics and the
decision rule are those of :mod:`theorykit.compressors.certify` (module docstring).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from theorykit.check.claim import Status
from theorykit.check.stats import bonferroni_z
from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.certify.claimed import ClaimedClasses, attained_test, numeric_tests
from theorykit.compressors.certify.inputs import InputSuite, input_suite
from theorykit.compressors.certify.report import CertificationReport, TestRow, summarise
from theorykit.compressors.certify.stat_tests import (
    ALPHA,
    CONFIRM_FACTOR,
    CONFIRM_MAX,
    FLOAT_RTOL,
    MAX_REL_SE,
    NumericTest,
    cochran_ok,
    implied_constant,
    linear_test,
    sample_stats,
    unbiased_test,
)
from theorykit.errors import InputError

__all__ = ["certify"]

Sampler = Callable[[torch.Tensor, int, int], tuple[np.ndarray, torch.Tensor | None, str]]
"""``(x, n, seed) -> (stats, Y, error note)``: :func:`sample_stats` of the spec (cached)."""


def _seed(*parts: int) -> int:
    """A 32-bit seed derived from ``parts`` (``numpy.random.SeedSequence``)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def certify(
    spec: CompressorSpec,
    *,
    d: int | Sequence[int] | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    inputs: InputSuite | Mapping[str, torch.Tensor] | None = None,
    alpha: float = ALPHA,
    float_rtol: float = FLOAT_RTOL,
    max_rel_se: float = MAX_REL_SE,
    confirm: bool = True,
    device: str = "cpu",
    claimed: ClaimedClasses | None = None,
    tight: Mapping[str, Sequence[str]] | None = None,
    sample_cache: dict[Any, Any] | None = None,
) -> CertificationReport:
    """Certify every claimed constant of ``spec`` by Monte Carlo (the statistics and the
    decision rule: :mod:`theorykit.compressors.certify`). ``d`` defaults to ``spec.d`` or
    64; ``inputs`` is a function ``(d, generator) -> {name: tensor}`` (default
    :func:`input_suite`) or a fixed mapping of inputs of one dimension. Runs the compressor
    in float64 on ``device``.

    ``claimed``: ``d -> classes`` to certify instead of ``spec.numeric_classes(d)`` (the
    same samples, other constants). ``tight``: ``{constant key: [input names]}`` — inputs
    where the claimed constant is *attained* (e.g. ``{"U.omega": ["constant"]}`` for
    rand-k, whose error ratio is ``d/k - 1`` at every x). Each adds a two-sided test at that
    input under the key ``KEY.attained``: the reverse inequality, judged by the same rule
    (so a constant claimed tight but 2x loose there is *contradicted*); these tests enter
    the Bonferroni count. ``sample_cache``: a dict reused across calls for the same spec,
    seed and inputs, so re-certifying other constants draws no new samples."""
    if torch.device(device).type != "cpu":
        return _certify(spec, d, n_samples, seed, inputs, alpha, float_rtol, max_rel_se,
                        confirm, device, claimed, tight, sample_cache)
    # the batches are small: one intra-op thread avoids thread contention, which on a
    # busy 2-core machine made each small torch op ~100x slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _certify(spec, d, n_samples, seed, inputs, alpha, float_rtol, max_rel_se,
                        confirm, device, claimed, tight, sample_cache)
    finally:
        torch.set_num_threads(threads)


def _certify(spec, d, n_samples, seed, inputs, alpha, float_rtol, max_rel_se, confirm,
             device, claimed=None, tight=None, sample_cache=None) -> CertificationReport:
    t0 = time.perf_counter()
    if n_samples < 2:
        raise InputError(f"n_samples must be >= 2, got {n_samples}")
    if d is None:
        d = spec.d if spec.d is not None else 64
    dims = [int(d)] if isinstance(d, int | np.integer) else [int(v) for v in d]
    if not dims or any(v < 1 for v in dims):
        raise InputError(f"dimensions must be >= 1, got {dims}")
    for v in dims:
        spec.check_dim(v)
    n = n_samples if spec.randomized else 2
    tight = dict(tight or {})

    def sample(x: torch.Tensor, m: int, s: int) -> tuple[np.ndarray, torch.Tensor | None, str]:
        if sample_cache is None:
            return sample_stats(spec, x, m, s)
        key = (spec.name, repr(sorted(spec.values.items())), x.cpu().numpy().tobytes(), m, s)
        if key not in sample_cache:
            sample_cache[key] = sample_stats(spec, x, m, s)
        return sample_cache[key]

    # inputs and numeric tests per dimension
    plan = []
    n_tests = 0
    for di, dd in enumerate(dims):
        if inputs is None or callable(inputs):
            suite = (inputs or input_suite)(dd, torch.Generator(device=device).manual_seed(
                _seed(seed, dd, di, 0xC0FFEE)))
        else:
            suite = dict(inputs)
        suite = {k: v.to(device=device, dtype=torch.float64) for k, v in suite.items()}
        for k, v in suite.items():
            if v.shape != (dd,):
                raise InputError(f"input {k!r} has shape {tuple(v.shape)}, expected ({dd},)")
            if not bool(torch.isfinite(v).all()) or float(v.abs().max()) == 0.0:
                raise InputError(f"input {k!r} must be finite and non-zero")
        tests, unb, sign = numeric_tests(spec, dd, claimed)
        known = {t.key for t in tests}
        for key, names in tight.items():
            if key not in known:
                raise InputError(f"tight: {key!r} is not a claimed constant of {spec.name} "
                                 f"(claimed: {sorted(known)})")
            missing = sorted(set(names) - set(suite))
            if missing:
                raise InputError(f"tight: inputs {missing} of {key!r} are not in the suite")
        n_att = sum(len(tight.get(t.key, ())) for t in tests)
        plan.append((dd, suite, tests, unb, sign))
        n_tests += len(suite) * (len(tests) + len(unb) + int(sign)) + n_att
    z = bonferroni_z(n_tests, alpha)

    rows: dict[str, list[TestRow]] = {}
    meta: dict[str, tuple[str, str, str, str]] = {}
    for di, (dd, suite, tests, unb, sign) in enumerate(plan):
        for t in tests:
            meta.setdefault(t.key, (t.cls.name, t.ineq.label, t.ineq.text, t.formula))
        for t in tests:
            if t.key in tight:
                a = attained_test(t, tight[t.key])
                meta.setdefault(a.key, (t.cls.name, t.ineq.label, a.ineq.text, t.formula))
        for k in unb:
            meta.setdefault(k, (k.split(".")[0], "unbiased", "E C(x) = x", "E C(x) = x"))
        if sign:
            meta.setdefault("sign-type.nonhomogeneous",
                            ("sign-type", "nonhomogeneous", "E||C(2x)||^2 != 4 E||C(x)||^2",
                             "not positively homogeneous"))
        for ii, (name, x) in enumerate(suite.items()):
            s0 = _seed(seed, dd, di, ii, 1)
            stats, Y, err = sample(x, n, s0)
            for t in tests:
                rows.setdefault(t.key, []).append(_run_linear(
                    spec, t, x, name, dd, stats, err, n, z, float_rtol, max_rel_se,
                    confirm, _seed(seed, dd, di, ii, 2), sample))
                if name in tight.get(t.key, ()):
                    a = attained_test(t, tight[t.key])
                    rows.setdefault(a.key, []).append(_run_linear(
                        spec, a, x, name, dd, stats, err, n, z, float_rtol, max_rel_se,
                        confirm, _seed(seed, dd, di, ii, 2), sample))
            for k in unb:
                rows.setdefault(k, []).append(_run_unbiased(
                    spec, k, x, name, dd, stats, Y, err, n, n_tests, alpha, float_rtol,
                    confirm, _seed(seed, dd, di, ii, 3), sample))
            if sign:
                rows.setdefault("sign-type.nonhomogeneous", []).append(_run_homogeneity(
                    x, name, dd, stats, n, z, float_rtol, _seed(seed, dd, di, ii, 4),
                    sample))

    constants = [summarise(key, meta[key], rows[key], seed) for key in meta if key in rows]
    return CertificationReport(
        compressor=spec.name, values=dict(spec.values), dims=dims, n_samples=n, seed=seed,
        z=z, alpha=alpha, n_tests=n_tests, float_rtol=float_rtol, max_rel_se=max_rel_se,
        inputs=list(plan[0][1]), constants=constants,
        elapsed_s=round(time.perf_counter() - t0, 3))

def _confirmed(test: Callable[[np.ndarray, torch.Tensor | None], dict[str, Any]],
               stats: np.ndarray, Y: torch.Tensor | None, err: str, n: int, *,
               spec: CompressorSpec, x: torch.Tensor, seed2: int, confirm: bool,
               sample: Sampler, cochran_key: str, detailed: bool
               ) -> tuple[int, dict[str, Any], str]:
    """``test`` on the first-stage draws and, for a rejection of a randomized compressor,
    again on ``CONFIRM_FACTOR`` times more fresh draws (seed ``seed2``), whose verdict is
    kept; a confirmed rejection is inconclusive unless Cochran's rule holds for the draws
    ``result[cochran_key]``. Returns the number of draws used, that result and the note
    (``detailed``: the notes of both stages quoted)."""
    res = test(stats, Y)
    note = err or res["note"]
    if not (res["status"] == Status.CONTRADICTED and spec.randomized and confirm):
        return n, res, note
    n2 = min(max(CONFIRM_FACTOR * n, 2000), max(CONFIRM_MAX, n))
    stats2, Y2, err2 = sample(x, n2, seed2)
    res2 = test(stats2, Y2)
    if res2["status"] == Status.CONTRADICTED:
        draws = res2[cochran_key]
        ok, why = (True, "") if draws is None else cochran_ok(draws)
        if not ok:
            res2["status"] = Status.INCONCLUSIVE
        note = (f"confirmed on {n2} fresh draws" + (f" ({res2['note']})" if detailed else "")
                + (f"; {why}" if why else ""))
    else:
        note = (f"first-stage rejection (n={n}" + (f", {res['note']}" if detailed else "")
                + f") not confirmed on {n2} fresh draws"
                + (f" ({res2['note']})" if detailed else "") + (f"; {err2}" if err2 else ""))
    return n2, res2, note


def _run_linear(spec, t: NumericTest, x, name, dd, stats, err, n, z, float_rtol, max_rel_se,
                confirm, seed2, sample: Sampler) -> TestRow:
    used_n, used, note = _confirmed(
        lambda s, _: linear_test(t, s, z, float_rtol, max_rel_se), stats, None, err, n,
        spec=spec, x=x, seed2=seed2, confirm=confirm, sample=sample, cochran_key="L",
        detailed=False)
    implied, implied_se, tight = (None, None, None)
    if np.isfinite(used["stats"]).all():
        st = used["stats"] - used["stats"].mean(0)
        cov = np.einsum("ni,nj->ij", st, st) / (used_n - 1) / used_n
        implied, implied_se, tight = implied_constant(t, used["means"], cov)
    claimed = t.cls.constants().get(t.ineq.label)
    return TestRow(d=dd, input=name, key=t.key, mean=used["mean"], se=used["se"], rhs=t.rhs,
                   violation=used["violation"], threshold=used["threshold"],
                   status=used["status"].value, n=used_n, scale=used["scale"],
                   claimed=None if claimed is None else float(claimed), implied=implied,
                   implied_se=implied_se, tightness=tight, note=note)


def _run_unbiased(spec, key, x, name, dd, stats, Y, err, n, n_tests, alpha, float_rtol,
                  confirm, seed2, sample: Sampler) -> TestRow:
    used_n, used, note = _confirmed(
        lambda s, y: unbiased_test(s, y, n_tests, alpha, float_rtol), stats, Y, err, n,
        spec=spec, x=x, seed2=seed2, confirm=confirm, sample=sample, cochran_key="proj",
        detailed=True)
    return TestRow(d=dd, input=name, key=key, mean=used["mean"], se=used["se"], rhs=0.0,
                   violation=used["violation"], threshold=used["threshold"],
                   status=used["status"].value, n=used_n, claimed=0.0, implied=used["mean"],
                   implied_se=used["se"], tightness=None, note=note)


def _run_homogeneity(x, name, dd, stats, n, z, float_rtol, seed2, sample: Sampler
                     ) -> TestRow:
    stats2, _, err = sample(2.0 * x, n, seed2)
    # stats are normalised by ||x||^2 (resp. ||2x||^2), so for a positively homogeneous map
    # both columns have the same mean: E||C(2x)||^2 / (4||x||^2) = E||C(x)||^2 / ||x||^2
    a, b = stats[:, 1], stats2[:, 1]
    key = "sign-type.nonhomogeneous"
    if err or not (np.isfinite(a).all() and np.isfinite(b).all()) or a.mean() == 0:
        return TestRow(dd, name, key, math.nan, math.nan, 1.0, math.nan, math.nan,
                       Status.INCONCLUSIVE.value, n, note=err or "non-finite or zero values")
    am, bm = float(a.mean()), float(b.mean())
    sa, sb = float(a.std(ddof=1)) / math.sqrt(n), float(b.std(ddof=1)) / math.sqrt(n)
    diff = bm - am
    thr = z * math.hypot(sa, sb) + float_rtol * (abs(am) + abs(bm))
    ratio = bm / am
    ratio_se = abs(ratio) * math.hypot(sa / am, sb / bm if bm else 0.0)
    status = Status.HOLDS if abs(diff) > thr else Status.INCONCLUSIVE
    note = ("E||C(2x)||^2 / (4 E||C(x)||^2) != 1: not positively homogeneous"
            if status == Status.HOLDS else "no difference in second moments at c=2")
    return TestRow(dd, name, key, ratio, ratio_se, 1.0, abs(diff), thr, status.value, n,
                   implied=ratio, implied_se=ratio_se, note=note)

