r"""The simulation driver: the real discrete optimizer and its SDE, run side by side with the
same statistics. The code lives in :mod:`theorykit.run`; this module is the stable entry
point (same names, same numbers).

* :func:`run_discrete` runs a :class:`~theorykit.methods.base.Method` (DSGD, DCSGD with real
  compressors, DSignSGD, ...) on a :class:`~theorykit.problems.Problem` with gradient noise
  from a :class:`~theorykit.noise.NoiseModel`, vectorized over R replicas and N workers:

  .. math:: x_{k+1} = x_k - \eta\,m_k\,D\big(\nabla f(x_k) + Z_{k,1}, \dots,
            \nabla f(x_k) + Z_{k,N}\big),

  with tensors ``X (R, d)``, per-worker gradients ``(R, N, d)`` and the schedule multiplier
  :math:`m_k` (:mod:`theorykit.schedules`).
* :func:`run_sde` solves an :class:`~theorykit.sde.sde.SDE` (from
  :func:`theorykit.sde.derive`) or a pair of callables with the batched solvers of
  :mod:`theorykit.sde.solvers`, in SDE time :math:`t = k\eta` with step ``dt = eta`` (or a
  divisor of it), reporting at the same discrete step indices k.

Both return a :class:`SimResult`: for every requested statistic the mean and standard error
across replicas at the recorded steps, optionally the per-replica time average over a tail
window (the stationary estimate), the final state and divergence information ("diverged
at step k", never NaN in a table). Everything is driven by one ``torch.Generator``, so a
run is reproducible from its seed.

Statistics (names accepted in ``stats=``; or pass ``{name: fn(X) -> (R,)}``):
``loss`` f(x), ``subopt`` f(x) - f*, ``sqnorm`` ||x||², ``dist2`` ||x - x*||²,
``gradnorm2`` ||∇f(x)||².
"""

from __future__ import annotations

from theorykit.run.discrete import run_discrete
from theorykit.run.result import STATS, SimResult, resolve_stats
from theorykit.run.sde import run_sde

__all__ = ["STATS", "SimResult", "resolve_stats", "run_discrete", "run_sde"]
