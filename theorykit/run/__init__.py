"""Runs: the one discrete loop (:mod:`theorykit.run.loop`), method runs
(:mod:`theorykit.run.discrete`), SDE runs (:mod:`theorykit.run.sde`), the options and setup
they share (:mod:`theorykit.run.setup`), the one result type they fill
(:class:`~theorykit.run.result.SimResult`), and distributed SGD with a per-step compressor
hook on a diagonal quadratic (:mod:`theorykit.run.quantized`)."""

from theorykit.run.discrete import run_discrete
from theorykit.run.loop import FreezeDiverged, MethodStep, StopOnThreshold, iterate
from theorykit.run.quantized import run_quantized_sgd
from theorykit.run.result import STATS, Recorder, SimResult, resolve_stats
from theorykit.run.sde import run_sde
from theorykit.run.setup import RunOptions

__all__ = ["STATS", "FreezeDiverged", "MethodStep", "Recorder", "RunOptions", "SimResult",
           "StopOnThreshold", "iterate", "resolve_stats", "run_discrete",
           "run_quantized_sgd", "run_sde"]
