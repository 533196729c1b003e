"""Monte Carlo certifier: the empirical face of a :class:`CompressorSpec`.

For every claimed class membership (:mod:`theorykit.compressors.classes`, definitions of
Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for Distributed
Learning*, JMLR 24(276), 2023, Defs. 1–3 [recalled]) the certifier estimates, over a suite
of random and adversarial inputs ``x`` (:func:`input_suite`), the normalised statistics

    err   = ||C(x) - x||^2 / ||x||^2,   sq = ||C(x)||^2 / ||x||^2,
    inner = <C(x), x> / ||x||^2

from ``n`` independent draws of ``C(x)`` (one batched call ``spec.apply(X)`` with ``x``
repeated along a leading dimension, in float64) and tests every class inequality
``sum_s c_s E[stat_s] (<= | >=) rhs`` as the mean of the per-draw linear combination
(an unbiased estimator of the left-hand side, so the test is exact in the means).

Decision rule per (dimension, input, inequality) [derived; stated in every report]:

* ``violation`` = ``mean - rhs`` (for ``<=``) or ``rhs - mean`` (for ``>=``);
* ``threshold`` = ``z * SE + tol``, ``z = bonferroni_z(number of tests)`` at family-wise
  level ``alpha = 0.0027`` and ``tol = float_rtol * (|rhs| + sum_s |c_s| |mean_s|)``
  (``float_rtol = 1e-5``: floating-point allowance, the only tolerance of a deterministic
  compressor, whose SE is 0);
* ``violation > threshold`` -> *contradicted*, but for a randomized compressor only after
  confirmation: the input is re-drawn with ``confirm_factor`` times more samples and
  independent randomness and the contradiction must recur there with a trustworthy normal
  approximation (Cochran's rule ``n >= 25 G1^2`` on the sample skewness ``G1``; a
  degenerate sample with SE = 0 is accepted and noted). A non-confirmed rejection is
  recorded; an untrustworthy one makes the test *inconclusive*;
* otherwise *holds*, unless some draw is not finite or ``SE > max_rel_se * scale``
  (``scale = |rhs| + sum_s |c_s| |mean_s|``, ``max_rel_se = 0.5``): *inconclusive*.

Unbiasedness (class ``U``) is tested on the vector mean: with ``Y = (C(x) - x)/||x||`` and
``T = n ||mean Y||^2``, under H0 (``E C(x) = x``) ``T ≈ sum_j lambda_j chi^2_1`` with
``lambda`` the eigenvalues of ``Cov Y``; the Satterthwaite–Welch approximation
``T ≈ g chi^2_nu`` with ``g = tr(S^2)/tr S``, ``nu = (tr S)^2 / tr(S^2)`` (``S`` the sample
covariance) gives a p-value, compared with the Bonferroni level ``alpha / n_tests``. The
reported estimate is the bias ``||E C(x) - x||^2/||x||^2`` estimated without its
``tr S / n`` offset. The same confirmation stage applies (Cochran's rule on the projection
of ``Y`` onto the apparent bias direction).

Sign-type memberships (not positively homogeneous) are checked by comparing
``E||C(2x)||^2 / 4`` with ``E||C(x)||^2`` (two-sample z test): a difference is evidence of
non-homogeneity (*holds*); no difference is *inconclusive* (never contradicted: equal
second moments do not prove homogeneity).

Tightness (optional, ``tight=``): a one-sided test cannot tell a true constant from a
looser one (``omega`` x2 passes ``E||C - x||^2 <= omega ||x||^2`` whenever ``omega`` does).
Where a constant is claimed *attained* at known inputs (rand-k's ``d/k - 1`` at every x,
natural compression's ``1/8`` at ``|x_j| = (4/3) 2^j``), the caller names them and the
certifier adds the reverse inequality there (key ``KEY.attained``) under the same rule and
Bonferroni count, so the bound is judged two-sided where it is tight.

Per constant the report gives the verdict, the worst (d, input) — a contradicted one if any,
else the one closest to the bound — the *implied constant* there (the value that makes the
inequality tight, solved symbolically from the class definition) ± its delta-method SE,
and the *tightness*: implied/claimed for a constant that relaxes the inequality as it
grows (omega, beta, delta), claimed/implied otherwise (alpha, gamma) — at most 1 when the
claim holds at that input, 1 when the bound is attained.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import sympy as sp
import torch

from theorykit.check.claim import Status, Verdict
from theorykit.check.stats import bonferroni_z
from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.classes import CompressorClass, Inequality, SignType
from theorykit.errors import InputError

STATISTICS = ("err", "sq", "inner")
ALPHA = 0.0027
FLOAT_RTOL = 1e-5
MAX_REL_SE = 0.5
CONFIRM_FACTOR = 20
CONFIRM_MAX = 50_000
TINY = 1e-20
HUGE = 1e15

InputSuite = Callable[[int, torch.Generator], dict[str, torch.Tensor]]
ClaimedClasses = Callable[[int], Sequence[CompressorClass]]
"""``d -> numeric class memberships``: the constants to certify at dimension ``d`` (by
default ``spec.numeric_classes(d)``; a caller may certify other values, e.g. a mutant)."""
ATTAINED = ".attained"
"""Suffix of the key of a tightness test (``"U.omega.attained"``)."""


# --------------------------------------------------------------------------- inputs
def input_suite(d: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Named test inputs of shape ``(d,)`` in float64 (on the generator's device).

    Random: ``gaussian``, ``cauchy`` (heavy tails, infinite variance), ``student_t3``,
    ``sparse`` (10% non-zeros, at least one). Adversarial: ``one_hot`` (all mass on one
    coordinate: worst case of rand-k and of many omegas), ``constant`` (all ties: top-k tie
    breaking, the worst case of scaled sign's B3 bound is its opposite), ``alternating``
    signs, ``spike_noise`` (one coordinate of size d over small noise), ``spike_flat``
    (``(1, ±a, ..., ±a)`` with ``a = 1/(sqrt(d)+1)``: the maximiser of TernGrad's variance
    ratio, see :func:`theorykit.compressors.catalog.sign.terngrad_omega`), ``geometric``
    (magnitudes spanning 8 octaves), ``grid_midpoints`` (|x_i| = 1.5 * 2^j: the worst case of
    nearest power-of-2 rounding), ``harmonic_points`` (|x_i| = (4/3) * 2^j, the harmonic mean
    of 2^j and 2^(j+1): the worst case of unbiased power-of-2 rounding), ``tiny`` (Gaussian
    times 1e-20) and ``huge`` (Gaussian times 1e15).
    """
    if d < 1:
        raise InputError(f"dimension d must be >= 1, got {d}")
    dev = generator.device
    f64 = torch.float64

    def randn() -> torch.Tensor:
        return torch.randn(d, generator=generator, dtype=f64, device=dev)

    def rand() -> torch.Tensor:
        return torch.rand(d, generator=generator, dtype=f64, device=dev)

    def signs() -> torch.Tensor:
        return torch.where(rand() < 0.5, -1.0, 1.0).to(f64)

    def octaves(lo: int, hi: int) -> torch.Tensor:
        return torch.randint(lo, hi + 1, (d,), generator=generator, device=dev).to(f64)

    out: dict[str, torch.Tensor] = {}
    out["gaussian"] = randn()
    hot = int(torch.randint(0, d, (1,), generator=generator, device=dev))
    one_hot = torch.zeros(d, dtype=f64, device=dev)
    one_hot[hot] = 1.0
    out["one_hot"] = one_hot
    out["constant"] = torch.ones(d, dtype=f64, device=dev)
    out["alternating"] = torch.tensor([(-1.0) ** i for i in range(d)], dtype=f64, device=dev)
    u = rand().clamp(1e-12, 1 - 1e-12)
    out["cauchy"] = torch.tan(math.pi * (u - 0.5))
    # Student-t(3) = Z / sqrt(chi2_3 / 3)
    chi2 = (torch.randn(3, d, generator=generator, dtype=f64, device=dev) ** 2).sum(0)
    out["student_t3"] = randn() / torch.sqrt(chi2 / 3)
    sparse = randn() * (rand() < 0.1)
    if not bool(sparse.ne(0).any()):
        sparse[int(torch.randint(0, d, (1,), generator=generator, device=dev))] = 1.0
    out["sparse"] = sparse
    spike = 0.01 * randn()
    spike[int(torch.randint(0, d, (1,), generator=generator, device=dev))] = float(d)
    out["spike_noise"] = spike
    flat = signs() / (math.sqrt(d) + 1.0)
    flat[0] = 1.0
    out["spike_flat"] = flat
    out["geometric"] = signs() * torch.pow(2.0, -8.0 * torch.arange(d, dtype=f64,
                                                                    device=dev) / d)
    out["grid_midpoints"] = signs() * 1.5 * torch.pow(2.0, octaves(-4, 4))
    out["harmonic_points"] = signs() * (4.0 / 3.0) * torch.pow(2.0, octaves(-4, 4))
    g = randn()
    out["tiny"] = g * TINY
    out["huge"] = g * HUGE
    return out


# --------------------------------------------------------------------------- results
@dataclass
class TestRow:
    """One (dimension, input, inequality) test."""

    d: int
    input: str
    key: str
    mean: float
    se: float
    rhs: float
    violation: float
    threshold: float
    status: str
    n: int
    scale: float = math.nan
    claimed: float | None = None
    implied: float | None = None
    implied_se: float | None = None
    tightness: float | None = None
    note: str = ""


@dataclass
class ConstantResult:
    """The verdict on one claimed constant (e.g. ``B1.beta``) over all dims and inputs."""

    key: str
    cls: str
    constant: str
    formula: str
    text: str
    status: str
    claimed: float | None
    worst_d: int | None
    worst_input: str | None
    estimate: float | None
    se: float | None
    tightness: float | None
    n: int | None
    seed: int
    note: str = ""
    rows: list[TestRow] = field(default_factory=list)

    def summary(self) -> str:
        est = "-" if self.estimate is None else f"{self.estimate:.4g} ± {self.se or 0:.2g}"
        tight = "-" if self.tightness is None else f"{self.tightness:.3g}"
        return (f"{self.key}: {self.status} (claimed {_fmt(self.claimed)}, implied {est} at "
                f"{self.worst_input}, d={self.worst_d}, tightness {tight}, n={self.n})")


@dataclass
class CertificationReport:
    """All verdicts of one certification, with the settings that produced them."""

    compressor: str
    values: dict[str, Any]
    dims: list[int]
    n_samples: int
    seed: int
    z: float
    alpha: float
    n_tests: int
    float_rtol: float
    max_rel_se: float
    inputs: list[str]
    constants: list[ConstantResult]
    elapsed_s: float = 0.0

    @property
    def status(self) -> Status:
        """Contradicted if any constant is, else inconclusive if any is, else holds."""
        st = {c.status for c in self.constants}
        if Status.CONTRADICTED.value in st:
            return Status.CONTRADICTED
        if Status.INCONCLUSIVE.value in st or not self.constants:
            return Status.INCONCLUSIVE
        return Status.HOLDS

    @property
    def contradicted(self) -> list[ConstantResult]:
        return [c for c in self.constants if c.status == Status.CONTRADICTED.value]

    def constant(self, key: str) -> ConstantResult:
        for c in self.constants:
            if c.key == key:
                return c
        raise KeyError(key)

    def rule(self) -> str:
        return (f"violation > z·SE + tol, z={self.z:.3g} (Bonferroni over {self.n_tests} tests, "
                f"family-wise alpha={self.alpha:g}), tol={self.float_rtol:g}·scale; "
                f"randomized rejections confirmed on {CONFIRM_FACTOR}x fresh samples with "
                f"Cochran's rule; inconclusive if SE > {self.max_rel_se:g}·scale or non-finite"
                + ("; KEY.attained: the reverse inequality at the inputs where the constant "
                   "is claimed attained, same rule (two-sided at those inputs)"
                   if any(c.key.endswith(ATTAINED) for c in self.constants) else ""))

    def to_json(self, *, rows: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["rule"] = self.rule()
        if not rows:
            for c in out["constants"]:
                c.pop("rows")
        return _finite_json(out)

    def verdict(self, claim_id: str) -> Verdict:
        """A claim verdict: holds iff every claimed constant holds."""
        counts = {s: sum(c.status == s for c in self.constants)
                  for s in ("holds", "contradicted", "inconclusive")}
        measured = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return Verdict(
            claim_id=claim_id,
            status=self.status,
            predicted=f"all {len(self.constants)} claimed constants hold",
            measured=measured,
            tolerance=self.rule(),
            sample_size=self.n_samples,
            seed=self.seed,
            details={
                "compressor": self.compressor,
                "values": self.values,
                "dims": self.dims,
                "constants": [c.summary() for c in self.constants],
            },
            series={
                "constant": [c.key for c in self.constants],
                "tightness": [c.tightness for c in self.constants],
                "status": [c.status for c in self.constants],
            },
        )


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _finite_json(o: Any) -> Any:
    if isinstance(o, float):
        return o if math.isfinite(o) else str(o)
    if isinstance(o, dict):
        return {k: _finite_json(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite_json(v) for v in o]
    return o


# --------------------------------------------------------------------------- helpers
def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def _to_float(expr: Any, what: str) -> float:
    e = sp.sympify(expr)
    if e.free_symbols:
        names = sorted(str(s) for s in e.free_symbols)
        raise InputError(f"{what} = {sp.sstr(e)} still depends on {names}; give their values")
    try:
        return float(sp.N(e))
    except (TypeError, ValueError):
        raise InputError(f"{what} = {sp.sstr(e)} is not a real number") from None


@dataclass
class _Numeric:
    key: str
    cls: CompressorClass
    ineq: Inequality
    coeffs: dict[str, float]
    rhs: float
    formula: str


def _numeric_tests(spec: CompressorSpec, d: int,
                   claimed: ClaimedClasses | None = None
                   ) -> tuple[list[_Numeric], list[str], bool]:
    """The numeric inequalities claimed at dimension ``d`` (``spec.numeric_classes(d)``, or
    ``claimed(d)`` when given); the unbiased class keys; and whether a sign-type membership
    is claimed."""
    tests: list[_Numeric] = []
    unbiased: list[str] = []
    sign = False
    seen: dict[str, int] = {}
    symbolic: dict[str, list[CompressorClass]] = {}
    for c in spec.classes():
        symbolic.setdefault(c.name, []).append(c)
    for c in (spec.numeric_classes(d) if claimed is None else claimed(d)):
        if isinstance(c, SignType):
            sign = True
            continue
        seen[c.name] = seen.get(c.name, 0) + 1
        cname = c.name if seen[c.name] == 1 else f"{c.name}#{seen[c.name]}"
        same = symbolic.get(c.name, [])
        # the formula: the symbolic membership of the same name and rank, if any (a derived
        # spec may add conditional memberships whose condition holds only at these numbers)
        sym = same[seen[c.name] - 1] if len(same) >= seen[c.name] else c
        for q in c.inequalities():
            bad = set(q.coeffs) - set(STATISTICS)
            if bad:
                raise InputError(f"{spec.name}: inequality {q.label} of {c.name} uses unknown "
                                 f"statistics {sorted(bad)}; known: {STATISTICS}")
            key = f"{cname}.{q.label}"
            coeffs = {s: _to_float(v, f"{spec.name} {key} coefficient")
                      for s, v in q.coeffs.items()}
            formula = sp.sstr(sym.constants().get(q.label, ""))
            tests.append(_Numeric(key, c, q, coeffs, _to_float(q.rhs, f"{spec.name} {key}"),
                                  formula))
        if c.requires_unbiased:
            unbiased.append(f"{cname}.unbiased")
    return tests, unbiased, sign


@functools.lru_cache(maxsize=256)
def _implied_solver(cls_type: type[CompressorClass], label: str, others: tuple[str, ...]):
    """Symbolic solve of the inequality ``label`` of ``cls_type`` at equality for its
    constant ``label``; returns lambdified (value, gradient wrt means, d slack/d constant)
    as functions of (means..., other constants...), or ``None``."""
    t = sp.Symbol("t_", positive=True)
    ms = sp.symbols("m_err m_sq m_inner", real=True)
    oth = sp.symbols([f"o_{o}" for o in others], positive=True) if others else []
    try:
        trial = cls_type(**{label: t, **dict(zip(others, oth, strict=True))})
        ineq = next(q for q in trial.inequalities() if q.label == label)
    except (StopIteration, TypeError):
        return None
    lhs = sum((sp.sympify(ineq.coeffs.get(s, 0)) * m for s, m in zip(STATISTICS, ms,
                                                                       strict=True)),
              sp.Integer(0))
    f = lhs - sp.sympify(ineq.rhs)
    slack = -f if ineq.sense == "le" else f
    try:
        sols = sp.solve(sp.Eq(f, 0), t)
    except NotImplementedError:
        return None
    if len(sols) != 1:
        return None
    sol = sols[0]
    args = [*ms, *oth]
    value = sp.lambdify(args, sol, "math")
    grad = [sp.lambdify(args, sp.diff(sol, m), "math") for m in ms]
    dslack = sp.lambdify([*args, t], sp.diff(slack, t), "math")
    return value, grad, dslack


def _implied(test: _Numeric, means: np.ndarray, cov_means: np.ndarray
             ) -> tuple[float | None, float | None, float | None]:
    """Implied constant, its SE and the tightness at one input (None if not solvable)."""
    consts = test.cls.constants()
    label = test.ineq.label
    if label not in consts:
        return None, None, None
    others = tuple(sorted(k for k in consts if k != label))
    solver = _implied_solver(type(test.cls), label, others)
    if solver is None:
        return None, None, None
    value, grad, dslack = solver
    try:
        oth = [float(consts[o]) for o in others]
        claimed = float(consts[label])
        args = [*map(float, means), *oth]
        v = float(value(*args))
        g = np.array([float(gf(*args)) for gf in grad])
        se = float(math.sqrt(max(float(np.einsum("i,ij,j->", g, cov_means, g)), 0.0)))
        upper = float(dslack(*args, claimed)) > 0
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None, None, None
    if claimed == 0:
        return v, se, None  # tightness undefined for a zero constant (e.g. omega = 0)
    if not math.isfinite(v) or v < 0:
        # no positive constant makes the inequality hold with equality: e.g. err > 1
        # leaves no finite delta; the bound is exceeded at any value of the constant
        return v if math.isfinite(v) else None, se, math.inf
    if upper:
        return v, se, v / claimed
    return v, se, claimed / v if v > 0 else math.inf


def _sample_stats(spec: CompressorSpec, x: torch.Tensor, n: int, seed: int
                  ) -> tuple[np.ndarray, torch.Tensor | None, str]:
    """Per-draw (err, sq, inner) as an (n, 3) array, the normalised deviations
    ``(C - x)/||x||`` as (n, d), and an error note ('' if fine)."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    X = x.expand(n, -1).clone()
    try:
        with torch.no_grad():
            C = spec.apply(X, gen)
    except Exception as exc:  # a failing compressor is reported, not raised
        return np.full((n, 3), np.nan), None, f"apply failed: {type(exc).__name__}: {exc}"
    if tuple(C.shape) != tuple(X.shape):
        return (np.full((n, 3), np.nan), None,
                f"apply returned shape {tuple(C.shape)}, expected {tuple(X.shape)}")
    C = C.to(torch.float64)
    nx = torch.dot(x, x)
    # normalise first so that tiny (1e-20) and huge (1e15) inputs stay in range
    scale = torch.sqrt(nx)
    xn = x / scale
    Cn = C / scale
    Y = Cn - xn
    err = (Y * Y).sum(-1)
    sq = (Cn * Cn).sum(-1)
    inner = (Cn * xn).sum(-1)
    stats = torch.stack([err, sq, inner], dim=1).cpu().numpy()
    return stats, Y, ""


def _cochran_ok(samples: np.ndarray) -> tuple[bool, str]:
    """Cochran's rule for the normal approximation of a mean: n >= 25 G1^2."""
    n = samples.shape[0]
    sd = samples.std(ddof=1)
    if sd == 0 or not math.isfinite(sd):
        return True, f"all {n} draws give the same value"
    g1 = float(np.mean(((samples - samples.mean()) / samples.std()) ** 3))
    need = 25 * g1 * g1
    if n >= need:
        return True, ""
    return False, f"normal approximation doubtful: skewness {g1:.3g} needs n >= {need:.0f}"


def _linear_test(test: _Numeric, stats: np.ndarray, z: float, float_rtol: float,
                 max_rel_se: float) -> dict[str, Any]:
    c = np.array([test.coeffs.get(s, 0.0) for s in STATISTICS])
    finite = bool(np.isfinite(stats).all())
    L = np.einsum("ns,s->n", stats, c)
    n = L.shape[0]
    mean = float(L.mean()) if finite else math.nan
    se = float(L.std(ddof=1) / math.sqrt(n)) if finite else math.nan
    means = stats.mean(0)
    scale = abs(test.rhs) + float(np.abs(c * means).sum()) if finite else math.nan
    violation = mean - test.rhs if test.ineq.sense == "le" else test.rhs - mean
    threshold = z * se + float_rtol * scale
    if not finite:
        status = Status.INCONCLUSIVE
        note = "non-finite values among the draws"
    elif violation > threshold:
        status = Status.CONTRADICTED
        note = ""
    elif se > max_rel_se * scale:
        status = Status.INCONCLUSIVE
        note = f"SE {se:.3g} > {max_rel_se:g}·scale {scale:.3g}"
    else:
        status = Status.HOLDS
        note = ""
    return {"mean": mean, "se": se, "violation": violation, "threshold": threshold,
            "status": status, "note": note, "L": L, "means": means, "stats": stats,
            "scale": scale}


def _unbiased_test(stats: np.ndarray, Y: torch.Tensor | None, n_tests: int, alpha: float,
                   float_rtol: float) -> dict[str, Any]:
    from scipy.stats import chi2

    n = stats.shape[0]
    if Y is None or not bool(torch.isfinite(Y).all()):
        return {"mean": math.nan, "se": math.nan, "violation": math.nan, "threshold": math.nan,
                "status": Status.INCONCLUSIVE, "note": "non-finite values among the draws",
                "proj": None, "p": math.nan}
    Ynp = Y.cpu().numpy()
    ybar = Ynp.mean(0)
    Yc = Ynp - ybar
    # tr S and tr S^2 from the smaller Gram matrix (einsum: no BLAS threads, which are
    # very slow for these small products on a loaded machine)
    if n <= Ynp.shape[1]:
        G = np.einsum("ni,mi->nm", Yc, Yc) / (n - 1)
    else:
        G = np.einsum("ni,nj->ij", Yc, Yc) / (n - 1)
    tr = float(np.trace(G))
    tr2 = float((G * G).sum())
    b2 = float(np.einsum("i,i->", ybar, ybar))
    T = n * b2
    bias = b2 - tr / n  # unbiased estimate of ||E C - x||^2 / ||x||^2
    # Var ||mean Y||^2 ≈ 4 b' S b / n + 2 tr(S^2) / n^2 (b = E Y; the second term alone
    # under H0)
    yb = np.einsum("ni,i->n", Yc, ybar)
    bsb = float(np.einsum("n,n->", yb, yb)) / (n - 1)
    se = math.sqrt(max(4 * bsb / n + 2 * tr2 / n**2, 0.0))
    ftol = float_rtol * (1 + math.sqrt(max(float(stats[:, 1].mean()), 0.0)))
    level = alpha / max(n_tests, 1)
    if tr2 <= 0 or tr <= 0:
        p = 0.0 if math.sqrt(b2) > ftol else 1.0
    else:
        g = tr2 / tr
        nu = tr * tr / tr2
        p = float(chi2.sf(T / g, nu))
    rejected = p < level and math.sqrt(b2) > ftol
    proj = np.einsum("ni,i->n", Ynp, ybar / math.sqrt(b2)) if b2 > 0 else None
    return {"mean": bias, "se": se, "violation": math.sqrt(b2), "threshold": ftol,
            "status": Status.CONTRADICTED if rejected else Status.HOLDS,
            "note": f"T={T:.4g}, p={p:.3g} vs level {level:.3g}", "proj": proj, "p": p}


# --------------------------------------------------------------------------- certify
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
    """Certify every claimed constant of ``spec`` by Monte Carlo (see the module docstring
    for the statistics). ``d`` defaults to ``spec.d`` or 64; ``inputs`` is a function
    ``(d, generator) -> {name: tensor}`` (default :func:`input_suite`) or a fixed mapping of
    inputs of one dimension. Runs the compressor in float64 on ``device``.

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


def _attained_test(t: _Numeric, inputs: Sequence[str]) -> _Numeric:
    """The reverse inequality of ``t`` (its violation is the slack of ``t``): rejected when
    the claimed bound is not attained at an input where it is claimed to be."""
    q = t.ineq
    flipped = Inequality(q.label, q.coeffs, "ge" if q.sense == "le" else "le", q.rhs,
                         f"attained ({q.text.replace('<=', '=').replace('>=', '=')}) at "
                         f"{', '.join(inputs)}")
    return _Numeric(t.key + ATTAINED, t.cls, flipped, t.coeffs, t.rhs, t.formula)


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
            return _sample_stats(spec, x, m, s)
        key = (spec.name, repr(sorted(spec.values.items())), x.cpu().numpy().tobytes(), m, s)
        if key not in sample_cache:
            sample_cache[key] = _sample_stats(spec, x, m, s)
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
        tests, unb, sign = _numeric_tests(spec, dd, claimed)
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
                a = _attained_test(t, tight[t.key])
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
                    a = _attained_test(t, tight[t.key])
                    rows.setdefault(a.key, []).append(_run_linear(
                        spec, a, x, name, dd, stats, err, n, z, float_rtol, max_rel_se,
                        confirm, _seed(seed, dd, di, ii, 2), sample))
            for k in unb:
                rows.setdefault(k, []).append(_run_unbiased(
                    spec, k, x, name, dd, stats, Y, err, n, n_tests, alpha, float_rtol,
                    confirm, _seed(seed, dd, di, ii, 3), sample))
            if sign:
                rows.setdefault("sign-type.nonhomogeneous", []).append(_run_homogeneity(
                    spec, x, name, dd, stats, n, z, float_rtol, _seed(seed, dd, di, ii, 4),
                    sample))

    constants = [_summarise(key, meta[key], rows[key], seed) for key in meta if key in rows]
    return CertificationReport(
        compressor=spec.name, values=dict(spec.values), dims=dims, n_samples=n, seed=seed,
        z=z, alpha=alpha, n_tests=n_tests, float_rtol=float_rtol, max_rel_se=max_rel_se,
        inputs=list(plan[0][1]), constants=constants,
        elapsed_s=round(time.perf_counter() - t0, 3))


def _run_linear(spec, t: _Numeric, x, name, dd, stats, err, n, z, float_rtol, max_rel_se,
                confirm, seed2, sample=None) -> TestRow:
    sample = sample or functools.partial(_sample_stats, spec)
    res = _linear_test(t, stats, z, float_rtol, max_rel_se)
    note = err or res["note"]
    used_n, used = n, res
    if res["status"] == Status.CONTRADICTED and spec.randomized and confirm:
        n2 = min(max(CONFIRM_FACTOR * n, 2000), max(CONFIRM_MAX, n))
        stats2, _, err2 = sample(x, n2, seed2)
        res2 = _linear_test(t, stats2, z, float_rtol, max_rel_se)
        used_n, used = n2, res2
        if res2["status"] == Status.CONTRADICTED:
            ok, why = _cochran_ok(res2["L"])
            if not ok:
                used["status"] = Status.INCONCLUSIVE
            note = f"confirmed on {n2} fresh draws" + (f"; {why}" if why else "")
        else:
            note = (f"first-stage rejection (n={n}) not confirmed on {n2} fresh draws"
                    + (f"; {err2}" if err2 else ""))
    implied, implied_se, tight = (None, None, None)
    if np.isfinite(used["stats"]).all():
        st = used["stats"] - used["stats"].mean(0)
        cov = np.einsum("ni,nj->ij", st, st) / (used_n - 1) / used_n
        implied, implied_se, tight = _implied(t, used["means"], cov)
    claimed = t.cls.constants().get(t.ineq.label)
    return TestRow(d=dd, input=name, key=t.key, mean=used["mean"], se=used["se"], rhs=t.rhs,
                   violation=used["violation"], threshold=used["threshold"],
                   status=used["status"].value, n=used_n, scale=used["scale"],
                   claimed=None if claimed is None else float(claimed), implied=implied,
                   implied_se=implied_se, tightness=tight, note=note)


def _run_unbiased(spec, key, x, name, dd, stats, Y, err, n, n_tests, alpha, float_rtol,
                  confirm, seed2, sample=None) -> TestRow:
    sample = sample or functools.partial(_sample_stats, spec)
    res = _unbiased_test(stats, Y, n_tests, alpha, float_rtol)
    note = err or res["note"]
    used_n, used = n, res
    if res["status"] == Status.CONTRADICTED and spec.randomized and confirm:
        n2 = min(max(CONFIRM_FACTOR * n, 2000), max(CONFIRM_MAX, n))
        stats2, Y2, err2 = sample(x, n2, seed2)
        res2 = _unbiased_test(stats2, Y2, n_tests, alpha, float_rtol)
        used_n, used = n2, res2
        if res2["status"] == Status.CONTRADICTED:
            ok, why = (True, "") if res2["proj"] is None else _cochran_ok(res2["proj"])
            if not ok:
                used["status"] = Status.INCONCLUSIVE
            note = f"confirmed on {n2} fresh draws ({res2['note']})" + (f"; {why}" if why
                                                                          else "")
        else:
            note = (f"first-stage rejection (n={n}, {res['note']}) not confirmed on {n2} fresh "
                    f"draws ({res2['note']})" + (f"; {err2}" if err2 else ""))
    return TestRow(d=dd, input=name, key=key, mean=used["mean"], se=used["se"], rhs=0.0,
                   violation=used["violation"], threshold=used["threshold"],
                   status=used["status"].value, n=used_n, claimed=0.0, implied=used["mean"],
                   implied_se=used["se"], tightness=None, note=note)


def _run_homogeneity(spec, x, name, dd, stats, n, z, float_rtol, seed2, sample=None
                     ) -> TestRow:
    sample = sample or functools.partial(_sample_stats, spec)
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


def _summarise(key: str, meta: tuple[str, str, str, str], rows: list[TestRow],
               seed: int) -> ConstantResult:
    cls, label, text, formula = meta
    statuses = {r.status for r in rows}
    if key == "sign-type.nonhomogeneous":
        status = Status.HOLDS if Status.HOLDS.value in statuses else Status.INCONCLUSIVE
    elif Status.CONTRADICTED.value in statuses:
        status = Status.CONTRADICTED
    elif Status.INCONCLUSIVE.value in statuses:
        status = Status.INCONCLUSIVE
    else:
        status = Status.HOLDS

    def badness(r: TestRow) -> tuple:
        if key == "sign-type.nonhomogeneous":
            rank = {"holds": 1, "inconclusive": 0, "contradicted": 0}[r.status]
            return (rank, r.violation / r.threshold if r.threshold > 0 else math.inf)
        rank = {"contradicted": 2, "inconclusive": 1, "holds": 0}[r.status]
        if not (math.isfinite(r.violation) and math.isfinite(r.threshold)):
            return (rank, -math.inf)
        if rank == 2:  # the clearest contradiction: largest violation in thresholds
            return (rank, r.violation / r.threshold if r.threshold > 0 else math.inf)
        # otherwise the input whose estimate comes closest to the bound (relative to the
        # size of the terms; the point estimate may exceed it by less than the threshold)
        sc = r.scale if math.isfinite(r.scale) and r.scale > 0 else 1.0
        return (rank, r.violation / sc)

    worst = max(rows, key=badness)
    notes = sorted({part for r in rows if r.note and r.status != "holds"
                    for part in r.note.split("; ")})
    has_implied = worst.implied is not None
    return ConstantResult(
        key=key, cls=cls, constant=label, formula=formula, text=text, status=status.value,
        claimed=worst.claimed, worst_d=worst.d, worst_input=worst.input,
        estimate=worst.implied if has_implied else worst.mean,
        se=worst.implied_se if has_implied else worst.se, tightness=worst.tightness,
        n=worst.n, seed=seed, note="; ".join(notes[:3]) or worst.note, rows=rows)
