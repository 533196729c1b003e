"""Certification claims for the compressor catalog: one claim per catalog entry.

Claim ``compressors.<name>``: *every class constant the catalog claims for ``<name>``
holds, and is attained where it is claimed tight* — checked by the Monte Carlo certifier
(:func:`theorykit.compressors.certify.certify`: 14 random and adversarial inputs plus the
entry's own worst-case inputs (:func:`_extra_inputs`), Bonferroni z over all (input,
inequality) tests at family-wise level 0.0027, confirmation of randomized rejections on 20x
fresh draws) at the two parameter settings of :data:`SETTINGS`. Quick mode: ``n = 400``
draws per input at the setting's ``d``; full mode: ``n = 4000`` at ``d`` and ``4 d``.

**Two-sided where tight.** A one-sided test ``E||C(x)-x||^2 <= omega ||x||^2`` cannot fail
when omega is doubled. :data:`TIGHT` lists, per entry and setting, the constants that are
*attained* and the inputs where (derived in each spec's docstring; e.g. rand-k and
Bernoulli: at every x, taken at the constant input, where rand-k's ratios are even
deterministic; natural compression: ``|x_j| = (4/3) 2^j``; TernGrad: ``(1, a*, ..., a*)``;
top-k and scaled sign: equal magnitudes resp. a coordinate vector; nearest rounding: the
cell midpoints, approached from below for ``alpha``/``gamma``). The certifier then also
tests the reverse inequality there (``KEY.attained``), so a constant 2x too large there is
*contradicted*. Constants not listed are **loose by design** (a true bound, not attained):
QSGD's Lemma 3.1 ``omega`` (attained ratio ``(sqrt d - 1)/sqrt d`` of it at ``s = 1`` and
``1/2`` at ``d = 4 s^2``), natural dithering's ``omega``, the composed entries' ``beta``
(and their ``alpha`` where the quantizer is not exact on equal magnitudes). For those the
"x2" mutant (upper constants; "x1/2" for lower ones) is *undecidable* by any check of the
bound and is not declared; the details list them (``undecidable_mutants``).

**Mutants** (:func:`_mutants`): every claimed constant x2 and x1/2 where decidable, "a biased
compressor claimed unbiased" (``U`` added, with the largest error the other classes allow),
"an unbiased compressor taken as contractive without the 1/(1+omega) scaling"
(``B3(1 + omega)`` added), natural dithering's exponent in ``docs/theory/compression_papers.md``
``d^{1/r}`` (false for ``r > 2``), QSGD's ``sqrt(d)/s^2`` branch, and sign's homogeneity
degree and scaled-sign constants. Samples are drawn once per (setting, input) and shared by
the mutants (``ctx.memo``); only the constants change.

Source: the compressor's own ``reference``; provenance ``paper-recalled`` where the
constant is a paper's result as recalled (QSGD's Lemma 3.1, natural compression and
natural dithering), ``derived`` where the catalog derives it (see each spec's docstring).

Entries that claim *no* class (the truncated quantizers) document why: the ratios are
unbounded as ``x -> 0``. Their claim checks the exact small-input law [derived]: for
``t = eps tau g`` with every ``|t_j|`` inside the cells next to 0, unbiased rounding gives
``E||C(t)||^2 = ||t||^2 + sum_j Var_j`` with ``Var_j = |t_j| (Delta_j - |t_j|)`` when 0 is a
level (``Delta_j`` the width of the cell of ``t_j``), so ``E||C(t)||^2 / ||t||^2 =
sum_j |t_j| Delta_j / ||t||^2 ∝ eps^-1``; and ``Var_j = a^2 - t_j^2`` in a symmetric cell
``(-a, a)`` when 0 is not a level, so the ratio is ``d a^2 / ||t||^2 ∝ eps^-2``. Hence
``E||C||^2/||x||^2`` (and with it ``omega``, ``beta`` and the B3 error) is unbounded. The
claim takes ``t = eps h g`` (``g`` Gaussian scaled to ``max |g_j| = 1``, ``h`` the smallest
cell width next to 0, so the law is exact) for ``eps`` in :data:`SMALL_SCALES`, fits the
log-log slope of ``E||C(t)||^2/||t||^2`` (weighted by the Monte Carlo SEs; unweighted when
the ratio is deterministic) and requires agreement with ``-1`` or ``-2`` within
``z SE + 1e-6`` (``z`` Bonferroni over the two settings). Mutants: the slope x2 and x1/2
(0 taken for a level or not) and "bounded" (slope 0: some class holds).

Identity (``C(x) = x``) is true by construction; it is kept as the certifier's control:
every ratio is exact with SE = 0, so each of its eleven mutants must be refuted by the
float tolerance alone.

Sign (``sign-type``): the certifier's non-homogeneity test, plus the exact statement
``||sign(c x)||^2 = ||sign(x)||^2`` (homogeneity degree 0) judged two-sided as
``E||C(2x)||^2 / (4 E||C(x)||^2) = 4^(h-1)`` with ``h = 0`` on every input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check import stats
from theorykit.check.claim import RunContext, Source, Status, Verdict, joint_status
from theorykit.check.mutants import Mutant, Theory
from theorykit.check.registry import claim
from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.certify import ATTAINED, CertificationReport, certify, input_suite
from theorykit.compressors.classes import B3, CompressorClass, SignType, Unbiased
from theorykit.compressors.registry import catalog

PREFIX = "compressors"
QUICK_N, FULL_N = 400, 4000

#: Two parameter settings per catalog entry (each with its dimension ``d``).
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "identity": ({"d": 16}, {"d": 64}),
    "bernoulli": ({"p": 0.1, "d": 16}, {"p": 0.5, "d": 64}),
    "biased_bernoulli": ({"p": 0.2, "d": 16}, {"p": 0.7, "d": 64}),
    "randk": ({"k": 1, "d": 16}, {"k": 8, "d": 64}),
    "randk_unscaled": ({"k": 2, "d": 16}, {"k": 16, "d": 64}),
    "topk": ({"k": 1, "d": 16}, {"k": 8, "d": 64}),
    "sign": ({"d": 16}, {"d": 64}),
    "scaled_sign": ({"d": 16}, {"d": 64}),
    "terngrad": ({"d": 16}, {"d": 64}),
    "natural": ({"d": 16}, {"d": 64}),
    "qsgd": ({"s": 1, "d": 16}, {"s": 4, "d": 64}),
    # r = 8 > 2: where the digest's recalled exponent d^(1/r) differs from d^(1/min(r,2))
    "natural_dithering": ({"s": 3, "r": 8.0, "d": 64}, {"s": 4, "r": 1.0, "d": 64}),
    "unbiased_rounding": ({"base": 2.0, "d": 16}, {"base": 3.0, "d": 64}),
    "nearest_rounding": ({"base": 2.0, "d": 16}, {"base": 1.5, "d": 64}),
    "truncated_uniform": ({"tau": 1.0, "s": 4, "d": 16}, {"tau": 2.0, "s": 3, "d": 64}),
    "truncated_nonuniform": ({"tau": 1.0, "levels": "-1,-0.3,0,0.3,1", "d": 16},
                             {"tau": 2.0, "levels": "-2,-0.5,0.5,2", "d": 64}),
    "topk_qsgd": ({"k": 4, "s": 2, "d": 16}, {"k": 8, "s": 4, "d": 64}),
    "topk_natural_dithering": ({"k": 4, "s": 2, "d": 16}, {"k": 16, "s": 3, "r": 1.0,
                                                           "d": 64}),
}

_B1B2 = ("B1.alpha", "B1.beta", "B2.gamma", "B2.beta")


def _at(inp: str, *keys: str) -> dict[str, tuple[str, ...]]:
    return {k: (inp,) for k in keys}


#: Per entry and setting: ``{constant key: inputs where the claimed value is attained}``
#: [derived; see each spec's docstring]. A constant absent here is loose by design.
TIGHT: dict[str, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {
    # C(x) = x: every ratio is exact at every x
    "identity": (_at("gaussian", "U.omega", *_B1B2, "B3.delta"),) * 2,
    # E||C - x||^2 = (1/p - 1)||x||^2, E||C||^2 = ||x||^2/p, <EC, x> = ||x||^2 for all x
    "bernoulli": (_at("constant", "U.omega", *_B1B2),) * 2,
    # E C = p x, E||C||^2 = p||x||^2 = <EC, x>, E||C - x||^2 = (1 - p)||x||^2 for all x
    "biased_bernoulli": (_at("constant", *_B1B2, "B3.delta"),) * 2,
    # all equalities for all x; at the constant input every ratio is deterministic
    "randk": (_at("constant", "U.omega", *_B1B2),) * 2,
    "randk_unscaled": (_at("constant", *_B1B2, "B3.delta"),) * 2,
    # ||C||^2 = <C, x> always; ||C||^2 = (k/d)||x||^2 at equal magnitudes
    "topk": ({**_at("constant", "B1.alpha", "B2.gamma", "B3.delta"),
              **_at("gaussian", "B1.beta", "B2.beta")},) * 2,
    # ||C||^2 = <C, x> = ||x||_1^2/d: equals ||x||^2/d at a coordinate vector
    "scaled_sign": ({**_at("one_hot", "B1.alpha", "B2.gamma", "B3.delta"),
                     **_at("gaussian", "B1.beta", "B2.beta")},) * 2,
    # E||C||^2 = M||x||_1: ||x||^2 at a coordinate vector, (sqrt d + 1)/2 ||x||^2 at x*
    "terngrad": ({**_at("spike_flat", "U.omega", "B1.beta", "B2.beta"),
                  **_at("one_hot", "B1.alpha", "B2.gamma")},) * 2,
    # Var/t^2 = 1/8 at t = (4/3) 2^j; exact (no variance) at powers of 2
    "natural": ({**_at("harmonic_points", "U.omega", "B1.beta", "B2.beta"),
                 **_at("constant", "B1.alpha", "B2.gamma")},) * 2,
    "unbiased_rounding": (_at("harmonic_grid", "U.omega"),) * 2,
    # ratios r_max at t = midpoint (ties up), approached from above/below with 2^-22
    "nearest_rounding": ({**_at("below_midpoints", "B1.alpha", "B2.gamma"),
                          **_at("above_midpoints", "B1.beta", "B2.beta", "B3.delta")},) * 2,
    "qsgd": ({}, {}),
    "natural_dithering": ({}, {}),
    # top-k exact at equal magnitudes; the quantizer is exact there only when s/sqrt(k)
    # (QSGD) resp. 1/2 (dithering, l2) is a level: setting 1 only. <EC, x> = ||top-k x||^2.
    "topk_qsgd": (_at("constant", "B1.alpha", "B2.gamma"), _at("constant", "B2.gamma")),
    "topk_natural_dithering": (_at("constant", "B1.alpha", "B2.gamma"),
                               _at("constant", "B2.gamma")),
}

#: Entries whose constants are a paper's result as recalled (the rest are derived).
RECALLED = {"qsgd", "natural", "natural_dithering"}

#: Upper constants (a larger value relaxes the bound); the others are lower constants.
UPPER = {"omega", "beta", "delta"}

APPROACH_EPS = 2.0**-22
"""Relative offset of the nearest-rounding inputs from the cell midpoints: the infimum of
``C_j/x_j`` is approached, not attained; the gap (at most ``12 eps ≈ 3e-6`` relative in
the B3 error at base 1.5) stays below the certifier's float tolerance ``1e-5·scale``, and
``eps`` is 4 float32 ulps away from the midpoint so the rounding side is certain."""

#: Scales ``eps`` of the small-input check for entries without classes, in units of ``h``,
#: the width of the smallest cell next to 0 (so every ``|t_j| <= h`` and the law is exact).
SMALL_SCALES = (1.0, 1.0 / 3.0, 1.0 / 9.0)
FLOAT_TOL = 1e-6
"""Allowance for float32 rounding of levels and probabilities in the codec (the ``-2`` law
is deterministic: ``||C(t)||^2 = d a^2`` for every draw)."""


def _source(name: str, cls: type) -> Source:
    prov = "paper-recalled" if name in RECALLED else "derived"
    return Source(paper=cls.reference or "theorykit catalog", locator=f"catalog entry "
                  f"{name!r}: claimed class constants", provenance=prov)


def _label(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items())


def _spec(name: str, setting: dict[str, Any]) -> tuple[CompressorSpec, int]:
    values = dict(setting)
    d = values.pop("d")
    return catalog()[name](**values), d


# ----------------------------------------------------------------------------- inputs
def _signs(d: int, gen: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(d, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)


def _grid_cells(spec: CompressorSpec, d: int, gen: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``d`` random adjacent pairs ``(a, b)`` of the codec's float32 grid in ``[1/16, 16]``."""
    lv = spec.levels_tensor.double()
    lv = lv[(lv >= 1.0 / 16) & (lv <= 16.0)]
    j = torch.randint(0, len(lv) - 1, (d,), generator=gen)
    return lv[j], lv[j + 1]


def _extra_inputs(name: str, spec: CompressorSpec
                  ) -> Callable[[int, torch.Generator], dict[str, torch.Tensor]] | None:
    """The entry's own worst-case inputs, appended to :func:`input_suite` (drawn after it
    from the same generator, so the standard inputs are unchanged)."""
    if name == "unbiased_rounding":
        def extra(d: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
            a, b = _grid_cells(spec, d, gen)
            # the harmonic mean 2ab/(a+b): Var/t^2 = (b-a)^2/(4ab), the supremum omega
            return {"harmonic_grid": _signs(d, gen) * 2 * a * b / (a + b)}
    elif name == "nearest_rounding":
        def extra(d: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
            a, b = _grid_cells(spec, d, gen)
            m, sg = (a + b) / 2, _signs(d, gen)
            return {"below_midpoints": sg * m * (1 - APPROACH_EPS),
                    "above_midpoints": sg * m * (1 + APPROACH_EPS)}
    elif name == "natural_dithering":
        s = spec["s"]

        def extra(d: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
            # (1, e, ..., e), e = 0.6 * 2^-s: the digest's counterexample family (all but
            # one t_j in the bottom cell), see NaturalDithering's docstring
            x = torch.full((d,), 0.6 * 2.0**-s, dtype=torch.float64)
            x[0] = 1.0
            return {"digest_counterexample": _signs(d, gen) * x}
    else:
        return None

    def suite(d: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        return {**input_suite(d, gen), **extra(d, gen)}

    return suite


# ----------------------------------------------------------------------------- theory
def _const(c: CompressorClass, label: str) -> float:
    return float(sp.sympify(c.constants()[label]))


def _theory_classes(name: str, spec: CompressorSpec, theory: Theory
                    ) -> Callable[[int], Sequence[CompressorClass]]:
    """``d ->`` the numeric classes under ``theory``: each constant ``KEY`` times
    ``theory.factor(KEY)`` plus ``theory.offset(KEY + '+')``, and the classes a mutant adds."""
    cache: dict[int, tuple[CompressorClass, ...]] = {}

    def classes(d: int) -> Sequence[CompressorClass]:
        if d not in cache:
            cache[d] = spec.numeric_classes(d)
        out: list[CompressorClass] = []
        for c in cache[d]:
            if isinstance(c, SignType):
                out.append(c)
                continue
            consts = {k: sp.sympify(v) for k, v in c.constants().items()}
            key = f"{c.name}.{{}}"
            if (name == "natural_dithering" and c.name == "U"
                    and theory.choice("exponent", "1/min(r,2)") == "1/r"):
                consts["omega"] = sp.sympify(spec.omega_digest()).subs(spec.substitutions(d))
            if name == "qsgd" and c.name == "U" and theory.flag("s_squared"):
                consts["omega"] = sp.Min(sp.Integer(d) / spec["s"] ** 2,
                                         sp.sqrt(d) / spec["s"] ** 2)
            out.append(type(c)(**{k: v * sp.Float(theory.factor(key.format(k)))
                                  + sp.Float(theory.offset(key.format(k) + "+"))
                                  if theory.is_mutant else v for k, v in consts.items()}))
        names = {c.name for c in out}
        if theory.flag("claims_unbiased") and "U" not in names:
            # the largest error the other classes allow: beta (B1) or 1 - 1/delta (B3), so
            # only the unbiasedness test can reject it
            bound = [sp.sympify(c.constants()["beta"]) for c in out if c.name == "B1"]
            bound += [1 - 1 / sp.sympify(c.constants()["delta"]) for c in out if c.name == "B3"]
            out.append(Unbiased(max(bound, key=float) if bound else sp.Integer(d)))
        if theory.flag("unbiased_in_B3"):
            u = next(c for c in out if c.name == "U")
            out.append(B3(1 + sp.sympify(u.constants()["omega"])))
        if theory.flag("sign_in_B3"):
            out.append(B3(sp.Integer(d)))
        return out

    return classes


def _mutants(name: str) -> tuple[Mutant, ...]:
    """The decidable wrong theories of an entry (see the module docstring)."""
    spec, d = _spec(name, SETTINGS[name][0])
    numeric = spec.numeric_classes(d)
    tight_keys = {k for t in TIGHT.get(name, ({}, {})) for k in t}
    out: list[Mutant] = []
    seen: set[str] = set()
    for c in numeric:
        if isinstance(c, SignType):
            continue
        for label in c.constants():
            key = f"{c.name}.{label}"
            if key in seen:
                continue
            seen.add(key)
            value = _const(c, label)
            upper = label in UPPER
            what = f"claimed {key} = {value:.4g}"
            if value == 0:
                out.append(Mutant(f"{key}_plus1", f"{what} replaced by 1", {key + "+": 1.0}))
                continue
            # the direction a one-sided bound can refute is always decidable; the other
            # needs the constant attained somewhere (TIGHT)
            if upper or key in tight_keys:
                out.append(Mutant(f"{key}_x1_2", f"{what} x1/2", {key: 0.5}))
            if not upper or key in tight_keys:
                out.append(Mutant(f"{key}_x2", f"{what} x2", {key: 2.0}))
    names = {c.name for c in numeric}
    if names and "U" not in names and "sign-type" not in names:
        out.append(Mutant("biased_claimed_unbiased", f"{name} (biased) claimed unbiased, "
                          "U(omega) with the largest error its classes allow",
                          {"claims_unbiased": True}))
    if "U" in names and any(_const(c, "omega") > 0 for c in numeric if c.name == "U"):
        out.append(Mutant("unbiased_in_B3", "U(omega) taken as contractive B3(1 + omega) "
                          "without the 1/(1 + omega) scaling", {"unbiased_in_B3": True}))
    if name == "natural_dithering":
        out.append(Mutant("digest_exponent", "omega with d^(1/r) (the digest's recalled "
                          "exponent) instead of d^(1/min(r,2))", {"exponent": "1/r"}))
    if name == "qsgd":
        out.append(Mutant("sqrt_branch_s2", "omega = min(d/s^2, sqrt(d)/s^2) (s^2 in the "
                          "sqrt(d) branch)", {"s_squared": True}))
    if name == "sign":
        out += [Mutant("homogeneous", "sign taken as positively homogeneous (degree 1: "
                       "C(cx) = c C(x))", {"degree+": 1.0}),
                Mutant("scaled_sign_constants", "sign claimed in B3(d) like the scaled sign",
                       {"sign_in_B3": True}),
                Mutant("claimed_unbiased", "sign claimed unbiased, U(d)",
                       {"claims_unbiased": True})]
    if not any(True for c in numeric if not isinstance(c, SignType)) and name != "sign":
        out += [Mutant("slope_x2", "small-input slope x2 (0 a level taken as not)",
                       {"slope": 2.0}),
                Mutant("slope_x1_2", "small-input slope x1/2 (0 not a level taken as one)",
                       {"slope": 0.5}),
                Mutant("bounded", "the ratio stays bounded as x -> 0 (a class holds)",
                       {"slope": 0.0})]
    return tuple(out)


# ----------------------------------------------------------------------------- claims
def _certify_setting(name: str, i: int, ctx: RunContext) -> CertificationReport:
    setting = SETTINGS[name][i]
    spec, d = _spec(name, setting)
    n = ctx.pick(QUICK_N, FULL_N)
    dims = ctx.pick([d], [d, 4 * d])
    cache = ctx.memo(("samples", name, i, n, tuple(dims)), dict)
    return certify(spec, d=dims, n_samples=n, seed=ctx.seed + 1000 * i, device=ctx.device,
                   inputs=_extra_inputs(name, spec),
                   claimed=_theory_classes(name, spec, ctx.theory),
                   tight=TIGHT.get(name, ({}, {}))[i], sample_cache=cache)


def _degree_check(rep: CertificationReport, theory: Theory) -> tuple[Status, list[str]]:
    """Sign: ``E||C(2x)||^2 / (4 E||C(x)||^2) = 4^(h-1)`` on every input, two-sided,
    ``h = 0`` (``||sign(cx)||^2 = ||sign(x)||^2``) unless mutated."""
    h = theory.offset("degree+")
    pred = 4.0 ** (h - 1)
    rows = rep.constant("sign-type.nonhomogeneous").rows
    bad = []
    for r in rows:
        tol = rep.z * (r.implied_se or 0.0) + rep.float_rtol * pred
        if r.implied is None or not np.isfinite(r.implied) or abs(r.implied - pred) > tol:
            bad.append(f"{r.input} (d={r.d}): E||C(2x)||^2/(4E||C(x)||^2) = {r.implied:.4g} "
                       f"vs 4^(h-1) = {pred:.4g}, tol {tol:.2g}")
    return Status.of(not bad), bad


def _certify_entry(name: str, ctx: RunContext) -> Verdict:
    n = ctx.pick(QUICK_N, FULL_N)
    reports, lines, extra_status, extra_lines = [], [], [], []
    series: dict[str, list[Any]] = {"setting": [], "constant": [], "claimed": [],
                                    "tightness": [], "status": []}
    loose: dict[str, list[str]] = {}
    for i, setting in enumerate(SETTINGS[name]):
        rep = _certify_setting(name, i, ctx)
        reports.append(rep)
        label = _label(setting)
        tight = TIGHT.get(name, ({}, {}))[i]
        for c in rep.constants:
            lines.append(f"[{label}] {c.summary()}")
            series["setting"].append(label)
            series["constant"].append(c.key)
            series["claimed"].append(c.claimed)
            series["tightness"].append(c.tightness)
            series["status"].append(c.status)
            if (c.claimed is not None and not c.key.endswith(ATTAINED)
                    and c.constant != "unbiased" and c.key not in tight):
                loose.setdefault(c.key, []).append(
                    f"[{label}] tightness {c.tightness:.3g} at {c.worst_input}"
                    if c.tightness is not None else f"[{label}] tightness -")
        if name == "sign":
            st, bad = _degree_check(rep, ctx.theory)
            extra_status.append(st)
            extra_lines += [f"[{label}] {b}" for b in bad]
        ctx.report((i + 1) / len(SETTINGS[name]))
    status = joint_status([r.status for r in reports] + extra_status)
    counts = {s: sum(x == s for x in series["status"])
              for s in ("holds", "contradicted", "inconclusive")}
    tight_all = {k for t in TIGHT.get(name, ({}, {})) for k in t}
    undecidable = [f"{k}_x2" if k.split(".")[1] in UPPER else f"{k}_x1_2"
                   for k in loose if k not in tight_all]
    claimed_txt = "; ".join(
        f"[{_label(s)}] " + ", ".join(f"{c.key}={c.claimed:.4g}" for c in r.constants
                                      if c.claimed is not None and c.constant != "unbiased"
                                      and not c.key.endswith(ATTAINED))
        for s, r in zip(SETTINGS[name], reports, strict=True))
    first_bad = next((x for x in lines if "contradicted" in x), None) or (
        extra_lines[0] if extra_lines else None)
    measured = ", ".join(f"{k} {s}" for s, k in counts.items() if k)
    if first_bad:
        measured += f"; first contradiction: {first_bad}"
    return Verdict(
        claim_id=f"{PREFIX}.{name}", status=status,
        predicted=(f"claimed constants hold ({claimed_txt or 'sign-type'}) and are attained "
                   "where claimed tight"
                   + (f" [theory: {ctx.theory.name}]" if ctx.theory.is_mutant else "")),
        measured=measured,
        tolerance=reports[0].rule(), sample_size=f"{n} draws per input, "
        f"{len(reports[0].inputs)} inputs, dims {[r.dims for r in reports]}",
        seed=ctx.seed,
        details={"constants": lines,
                 "contradicted": [x for x in lines if "contradicted" in x] + extra_lines,
                 "tight": {_label(s): {k: list(v) for k, v in t.items()}
                           for s, t in zip(SETTINGS[name], TIGHT.get(name, ({}, {})),
                                           strict=True)},
                 "loose_by_design": loose,
                 "undecidable_mutants": undecidable},
        series=series)


def _small_input_law(spec: Any) -> tuple[float, float]:
    """``(predicted slope, h)``: -1 if 0 is a level, else -2 (a cell around 0), and the
    width ``h`` of the smallest cell next to 0 on either side."""
    lv = spec.levels_tensor.double()
    zero = lv.abs() <= 1e-6 * float(lv.abs().max())
    pos, neg = lv[(lv > 0) & ~zero], lv[(lv < 0) & ~zero]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("level grid does not surround 0")
    h = min(float(pos.min()), float(-neg.max()))
    return (-1.0 if bool(zero.any()) else -2.0), h


def _small_input_slope(name: str, i: int, n: int, seed: int
                       ) -> tuple[float, float, list[float], list[float], float, float]:
    """Measured ``(slope, se, means, ses, law, h)`` of ``E||C(t)||^2/||t||^2`` vs eps."""
    spec, d = _spec(name, SETTINGS[name][i])
    gen = torch.Generator().manual_seed(seed + 1000 * i)
    direction = torch.randn(d, generator=gen, dtype=torch.float64)
    direction /= direction.abs().max()
    law, h = _small_input_law(spec)
    means, ses = [], []
    for eps in SMALL_SCALES:
        x = (eps * h * direction).expand(n, d).clone()
        c = spec.apply(x, gen).to(torch.float64)
        ratio = (c**2).sum(-1) / (x**2).sum(-1)
        est = stats.mean_se(ratio.numpy())
        means.append(est.mean)
        ses.append(est.se)
    deterministic = min(ses) == 0.0
    slope = stats.loglog_slope(np.array(SMALL_SCALES), np.array(means),
                               None if deterministic else np.array(ses))
    return slope.slope, slope.se, means, ses, law, h


def _no_class_entry(name: str, ctx: RunContext) -> Verdict:
    """Entries claiming no class: the error ratio must blow up as x -> 0 with the derived
    log-log slope (-1 if 0 is a level, -2 otherwise), at both settings."""
    n = ctx.pick(QUICK_N, FULL_N)
    z = stats.bonferroni_z(len(SETTINGS[name]))
    verdicts, series = [], {"setting": [], "eps": [], "sq_ratio": [], "sq_se": []}
    for i, setting in enumerate(SETTINGS[name]):
        slope, se, means, ses, law, h = ctx.memo(
            ("small", name, i, n), lambda i=i: _small_input_slope(name, i, n, ctx.seed))
        predicted = law * ctx.theory.factor("slope")
        label = _label(setting)
        v = stats.agree(f"{PREFIX}.{name}", predicted, stats.Estimate(slope, se, n), z=z,
                        max_rel_se=None, model_tol=FLOAT_TOL,
                        model_tol_reason="float32 levels and probabilities", seed=ctx.seed,
                        details={"setting": label, "h": h, "law": law})
        verdicts.append(v)
        series["setting"] += [label] * len(SMALL_SCALES)
        series["eps"] += list(SMALL_SCALES)
        series["sq_ratio"] += means
        series["sq_se"] += ses
        ctx.report((i + 1) / len(SETTINGS[name]))
    status = joint_status([v.status for v in verdicts])
    return Verdict(
        claim_id=f"{PREFIX}.{name}", status=status,
        predicted=", ".join(f"{v.predicted:g}" for v in verdicts),
        measured=", ".join(f"{v.measured:.3f}" for v in verdicts),
        tolerance=verdicts[0].tolerance,
        sample_size=f"{n} draws at each eps in (1, 1/3, 1/9) x h",
        seed=ctx.seed,
        details={"statement": "no class holds: E||C(x)||^2/||x||^2 ~ ||x||^slope as x->0",
                 "per_setting": [{"setting": v.details["setting"], "predicted_slope":
                                  v.predicted, "slope": v.measured, "se": v.details["se"],
                                  "z": z, "status": v.status.value} for v in verdicts]},
        series=series)


def _missing_settings(name: str, ctx: RunContext) -> Verdict:
    return Verdict(f"{PREFIX}.{name}", Status.INCONCLUSIVE, "claimed constants hold", None,
                   details={"reason": f"no certification settings for {name!r} in "
                            "derivations/catalog_certification.py SETTINGS"})


def _has_classes(cls: type, setting: dict[str, Any]) -> bool:
    values = {k: v for k, v in setting.items() if k != "d"}
    return bool(cls(**values).classes())


def _broken(reason: str) -> Callable[[str, RunContext], Verdict]:
    def runner(name: str, ctx: RunContext) -> Verdict:
        return Verdict(f"{PREFIX}.{name}", Status.ERROR, "claimed constants hold", None,
                       details={"error": reason})
    return runner


def _register() -> None:
    for name, cls in catalog().items():
        settings = SETTINGS.get(name)
        mutants: tuple[Mutant, ...] = ()
        try:
            has_classes = settings is not None and _has_classes(cls, settings[0])
            if settings is not None:
                mutants = _mutants(name)
        except Exception as exc:  # a broken entry must not break the claim registry
            settings, has_classes = None, False
            broken = f"cannot instantiate with {SETTINGS[name][0]}: {type(exc).__name__}: {exc}"
        else:
            broken = ""
        if broken:
            runner, statement = _broken(broken), broken
        elif settings is None:
            runner, statement = _missing_settings, "no settings defined"
        elif has_classes:
            runner = _certify_entry
            tight = ", ".join(sorted({k for t in TIGHT.get(name, ({}, {})) for k in t}))
            statement = (f"Every class constant claimed for {name} holds for all x, and is "
                         f"attained where claimed tight ({tight or 'none: loose by design'})"
                         ": checked by Monte Carlo on random, adversarial and worst-case "
                         f"inputs at {', '.join(str(s) for s in settings)}.")
        else:
            runner = _no_class_entry
            statement = (f"{name} claims no class: E||C(x)||^2/||x||^2 grows like "
                         "||x||^-1 (0 a level) or ||x||^-2 (0 not a level) as x -> 0, so "
                         "no U/B1/B2/B3 constant holds for all x.")

        def run(ctx: RunContext, _name: str = name, _runner=runner) -> Verdict:
            return _runner(_name, ctx)

        run.__doc__ = statement
        claim(f"{PREFIX}.{name}", f"{cls.title or name}: claimed class constants",
              _source(name, cls), tags=("compressors", "certify"), statement=statement,
              mutants=mutants)(run)


_register()
