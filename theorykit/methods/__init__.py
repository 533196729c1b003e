"""Discrete distributed methods: a torch face (vectorized over replicas x workers) and a
symbolic face (one-step moments for the SDE derivation). See :mod:`theorykit.methods.base`.
"""

from __future__ import annotations

from typing import Any

from theorykit.errors import InputError
from theorykit.methods.base import Method, StepMoments
from theorykit.methods.dcsgd import DCSGD, GenericUnbiased
from theorykit.methods.dsgd import DSGD
from theorykit.methods.dsignsgd import DSignSGD

__all__ = ["DCSGD", "DSGD", "METHODS", "DSignSGD", "GenericUnbiased", "Method",
           "StepMoments", "make_method"]

METHODS: dict[str, type[Method]] = {"dsgd": DSGD, "dcsgd": DCSGD, "dsignsgd": DSignSGD}
"""Methods by CLI name."""


def make_method(name: str, compressor: Any = None, **options: Any) -> Method:
    """A method by name: ``dsgd``, ``dcsgd`` (needs ``compressor``: a spec, a list of N
    specs, or an omega), ``dsignsgd`` (``vote="mean"|"majority"``)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in METHODS:
        raise InputError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    if key == "dcsgd":
        return DCSGD(compressor, **options)
    if compressor is not None:
        raise InputError(f"{key} takes no compressor (use dcsgd)")
    try:
        return METHODS[key](**options)
    except TypeError as exc:
        raise InputError(f"{key}: {exc}") from None
