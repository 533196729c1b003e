"""Compressors as certified mathematical objects (symbolic, runtime and empirical faces)."""

from theorykit.compressors.base import CompressorSpec, D, PackedField, Param, Payload
from theorykit.compressors.classes import B1, B2, B3, CompressorClass, SignType, Unbiased
from theorykit.compressors.registry import catalog, make, register, resolve

__all__ = [
    "B1",
    "B2",
    "B3",
    "CompressorClass",
    "CompressorSpec",
    "D",
    "PackedField",
    "Param",
    "Payload",
    "SignType",
    "Unbiased",
    "catalog",
    "make",
    "register",
    "resolve",
]
