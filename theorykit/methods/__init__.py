"""Distributed methods: one :class:`~theorykit.methods.base.Method` abstraction with a
worker/server torch face (the simulator, the torch.distributed trainer) and a symbolic face
(one-step moments for the SDE derivation), registered by name like the compressors and
resolvable as ``module.path:Object`` (:mod:`theorykit.methods.registry`).
"""

from __future__ import annotations

from theorykit.methods.base import Method, StepMoments
from theorykit.methods.dcsgd import DCSGD, GenericUnbiased
from theorykit.methods.diana import DIANA
from theorykit.methods.dsgd import DSGD
from theorykit.methods.dsignsgd import DSignSGD
from theorykit.methods.ef import EF
from theorykit.methods.ef21 import EF21
from theorykit.methods.registry import _CATALOG as METHODS
from theorykit.methods.registry import catalog, make_method, resolve

__all__ = ["DCSGD", "DIANA", "DSGD", "EF", "EF21", "METHODS", "DSignSGD", "GenericUnbiased",
           "Method", "StepMoments", "catalog", "make_method", "resolve"]
