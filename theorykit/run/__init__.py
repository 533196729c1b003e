"""Runs: the one discrete loop (:mod:`theorykit.run.loop`), method runs
(:mod:`theorykit.run.discrete`), SDE runs (:mod:`theorykit.run.sde`), and the one result
type they fill (:class:`~theorykit.run.result.SimResult`)."""

from theorykit.run.discrete import run_discrete
from theorykit.run.loop import FreezeDiverged, MethodStep, StopOnThreshold, iterate
from theorykit.run.result import STATS, Recorder, SimResult, resolve_stats
from theorykit.run.sde import run_sde

__all__ = ["STATS", "FreezeDiverged", "MethodStep", "Recorder", "SimResult",
           "StopOnThreshold", "iterate", "resolve_stats", "run_discrete", "run_sde"]
