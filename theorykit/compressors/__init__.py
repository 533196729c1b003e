"""Compressors as certified mathematical objects (symbolic, runtime and empirical faces)."""

# The catalog subpackage is imported first, on purpose: the first import of a subpackage
# binds the package attribute of the same name (theorykit.compressors.catalog) to the
# module; binding the function catalog() below, after it, keeps that name the function no
# matter in which order user code imports catalog modules.
import theorykit.compressors.catalog as _catalog_package  # noqa: F401
from theorykit.compressors.base import (
    CompressorSpec,
    D,
    PackedField,
    Param,
    Payload,
    SymbolicSpec,
)
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
    "SymbolicSpec",
    "Unbiased",
    "catalog",
    "make",
    "register",
    "resolve",
]
