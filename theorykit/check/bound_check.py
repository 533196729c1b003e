r"""Checking a convergence bound against simulation, two-sided.

One implementation, used by the claim ``resilience.bound.dcsgd_pl`` and by the user command
``theorykit check bound``:

1. :func:`run_trajectory` runs a method (the real discrete optimizer, or a derived SDE with
   Euler–Maruyama) along a problem with R independent replicas and returns
   :math:`E f(x_k) - f^\star` with its standard error (across replicas) at checkpoints
   :math:`t = k\eta`.
2. :func:`judge_bound` compares a bound :math:`b(t)` with the measured curve:

   * **upper side** (always): at every checkpoint ``measured <= b(t) + z·SE + allowance``,
     else *contradicted* (the bound is violated);
   * **tightness** (always reported): ``measured / b(t)`` with its SE at every checkpoint.
     When the bound is *claimed attained* in the setting (``tight=True``), the lower side is
     judged too: ``b(t) <= measured + z·SE + allowance`` at every checkpoint, else
     *contradicted* (the bound is looser than claimed). Otherwise a bound that is more than
     ``loose_factor`` (2) times loose at *every* checkpoint after t = 0 (significantly:
     ``measured + z·SE < b / 2``) is reported as ``"loose"`` — in the numbers, not as a
     contradiction.

``z`` is the Bonferroni z over all the tests made (checkpoints x sides) at family-wise level
``alpha`` (0.27 %, the z = 3 convention of :mod:`theorykit.check.stats`). ``allowance`` is a
*declared*, independently estimated systematic error per checkpoint (e.g. the Richardson
estimate of an SDE solver's weak error); it is never computed from the gap under test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theorykit.check import stats
from theorykit.check.claim import Status, Verdict

__all__ = ["BoundJudgement", "Trajectory", "judge_bound", "run_trajectory", "trajectory_from"]

ALPHA = 0.0027
LOOSE_FACTOR = 2.0
_FLOAT_REL = 1e-9  # relative float rounding allowed when the SE is 0 (t = 0: f(x_0) exactly)


@dataclass
class Trajectory:
    """Measured :math:`E f(x_k) - f^\\star` with its SE at checkpoints ``k`` (t = k·eta)."""

    kind: str
    k: np.ndarray
    t: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    replicas: int
    eta: float
    diverged_step: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


def run_trajectory(method: Any, problem: Any, noise: Any, *, eta: float, steps: int,
                   replicas: int, x0: Any, seed: int, n_workers: int = 1, batch: int = 1,
                   checkpoints: int = 20, sde: Any = None, dt: float | None = None,
                   params: Mapping[Any, Any] | None = None) -> Trajectory:
    """Run ``method`` (or, with ``sde``, the SDE with solver step ``dt``) for ``steps``
    steps of size ``eta`` on ``replicas`` copies from ``x0``; record E f - f* with its SE
    at about ``checkpoints`` evenly spaced steps (and at k = 0 and k = steps)."""
    from theorykit.simulate import run_discrete, run_sde

    every = max(1, steps // max(1, checkpoints))
    kw: dict[str, Any] = {"eta": eta, "steps": steps, "replicas": replicas, "x0": x0,
                          "seed": seed, "record_every": every, "stats": ("subopt",),
                          "progress": False}
    if sde is None:
        r = run_discrete(method, problem, noise, n_workers=n_workers, batch=batch, **kw)
        kind = "discrete"
    else:
        r = run_sde(sde, problem, dt=dt, params=params, **kw)
        kind = "sde"
    return Trajectory(kind=kind, k=np.asarray(r.steps), t=np.asarray(r.t, float),
                      mean=np.asarray(r.mean["subopt"], float),
                      se=np.asarray(r.se["subopt"], float), replicas=replicas, eta=eta,
                      diverged_step=r.diverged_step,
                      info={"dt": dt if sde is not None else None, "every": every})


def trajectory_from(result: Any, stat: str = "subopt") -> Trajectory:
    """A :class:`Trajectory` from a :class:`~theorykit.simulate.SimResult` that recorded
    ``stat`` (E f - f* by default)."""
    return Trajectory(kind=result.kind, k=np.asarray(result.steps), t=np.asarray(result.t,
                      float), mean=np.asarray(result.mean[stat], float),
                      se=np.asarray(result.se[stat], float), replicas=result.replicas,
                      eta=result.eta, diverged_step=result.diverged_step)


@dataclass
class BoundJudgement:
    """The outcome of :func:`judge_bound`: status, per-checkpoint rows and a summary."""

    status: Status
    z: float
    n_tests: int
    tight_claimed: bool
    tightness: str
    """``"attained"`` (within z·SE + allowance everywhere), ``"loose"`` (more than
    ``loose_factor`` times loose at every checkpoint), ``"within 2x"`` otherwise, or
    ``"violated"``."""
    rows: list[dict[str, Any]]
    reason: str

    @property
    def worst(self) -> dict[str, Any]:
        """The checkpoint with the largest |measured - bound| in units of its tolerance."""
        return max(self.rows, key=lambda r: abs(r["measured"] - r["bound"]) / r["tol"])

    def to_verdict(self, claim_id: str, *, seed: int | None, sample_size: Any,
                   details: dict[str, Any] | None = None) -> Verdict:
        w = self.worst
        sides = "two-sided (bound claimed attained here)" if self.tight_claimed else \
            "one-sided (measured <= bound), tightness reported"
        return Verdict(
            claim_id=claim_id, status=self.status, predicted=float(w["bound"]),
            measured=float(w["measured"]),
            interval=(w["measured"] - self.z * w["se"], w["measured"] + self.z * w["se"]),
            tolerance=(f"{sides}: at each of {len(self.rows)} checkpoints |measured - bound| "
                       f"within {self.z:.2f}·SE + allowance (Bonferroni over {self.n_tests} "
                       f"tests, family level {ALPHA:g}); reported point = worst (t = "
                       f"{w['t']:g})"),
            sample_size=sample_size, seed=seed,
            details={"reason": self.reason, "tightness": self.tightness,
                     "tightness_at_worst": w["ratio"], "z": self.z, **(details or {})})


def judge_bound(traj: Trajectory, bound: Sequence[float], *, tight: bool = False,
                allowance: Sequence[float] | float = 0.0, z: float | None = None,
                alpha: float = ALPHA, loose_factor: float = LOOSE_FACTOR) -> BoundJudgement:
    """Judge ``bound[i]`` (the bound at ``traj.t[i]``) against the measured curve (module
    doc): upper side always, lower side when ``tight`` (the bound is claimed attained)."""
    b = np.asarray(bound, float)
    n = len(traj.t)
    if b.shape != (n,):
        raise ValueError(f"bound has {b.shape} values, trajectory has {n} checkpoints")
    al = np.broadcast_to(np.asarray(allowance, float), (n,))
    n_tests = n * (2 if tight else 1)
    z = stats.bonferroni_z(n_tests, alpha) if z is None else float(z)
    rows: list[dict[str, Any]] = []
    over, under, loose_all = [], [], True
    for i in range(n):
        m, se, bi = float(traj.mean[i]), float(traj.se[i]), float(b[i])
        tol = z * se + float(al[i]) + _FLOAT_REL * max(abs(bi), abs(m), 1e-300)
        ratio = m / bi if bi != 0 else math.nan
        up_ok = m <= bi + tol
        lo_ok = bi <= m + tol
        loose_here = (m + z * se + float(al[i])) * loose_factor < bi
        if traj.k[i] > 0:  # x_0 is deterministic and a bound's value at t = 0 is f(x_0)
            loose_all = loose_all and loose_here
        if not up_ok:
            over.append(i)
        if not lo_ok:
            under.append(i)
        rows.append({"k": int(traj.k[i]), "t": float(traj.t[i]), "measured": m, "se": se,
                     "bound": bi, "allowance": float(al[i]), "tol": tol, "ratio": ratio,
                     "ratio_se": se / abs(bi) if bi != 0 else math.nan,
                     "upper_ok": up_ok, "lower_ok": lo_ok})
    if not all(math.isfinite(r["measured"]) for r in rows) or traj.diverged_step is not None:
        status, tightness = Status.INCONCLUSIVE, "n/a"
        reason = (f"the run diverged at step {traj.diverged_step}" if traj.diverged_step
                  is not None else "non-finite measurement")
    elif over:
        status, tightness = Status.CONTRADICTED, "violated"
        r = max((rows[i] for i in over), key=lambda q: (q["measured"] - q["bound"]) / q["tol"])
        reason = (f"bound violated at {len(over)}/{n} checkpoints; worst t = {r['t']:g}: "
                  f"measured {r['measured']:.4g} ± {r['se']:.2g} > bound {r['bound']:.4g} "
                  f"(+ tol {r['tol']:.2g})")
    else:
        lo = [rows[i] for i in under]
        tightness = "attained" if not under else ("loose" if loose_all else "within 2x")
        if tight and under:
            status = Status.CONTRADICTED
            r = max(lo, key=lambda q: (q["bound"] - q["measured"]) / q["tol"])
            reason = (f"bound claimed attained but looser at {len(under)}/{n} checkpoints; "
                      f"worst t = {r['t']:g}: measured/bound = {r['ratio']:.3g} (measured "
                      f"{r['measured']:.4g} ± {r['se']:.2g}, bound {r['bound']:.4g})")
        else:
            status = Status.HOLDS
            ratios = [q["ratio"] for q in rows if math.isfinite(q["ratio"])]
            reason = (f"bound holds at all {n} checkpoints; measured/bound from "
                      f"{min(ratios):.3g} to {max(ratios):.3g}"
                      + (f"; more than {loose_factor:g}x loose at every checkpoint"
                         if tightness == "loose" else ""))
    return BoundJudgement(status=status, z=z, n_tests=n_tests, tight_claimed=tight,
                          tightness=tightness, rows=rows, reason=reason)
