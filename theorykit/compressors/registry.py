"""The compressor catalog: name -> spec class.

Catalog modules live in :mod:`theorykit.compressors.catalog` and register their classes
with :func:`register`; every module of that package is imported on first use, so adding a
compressor never touches this file. User-defined compressors are loaded by
``module.path:Object`` (see :func:`resolve`).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any, TypeVar

from theorykit.compressors.base import CompressorSpec
from theorykit.errors import InputError

_CATALOG: dict[str, type[CompressorSpec]] = {}
_LOADED = False
T = TypeVar("T", bound=type[CompressorSpec])


def register(cls: T) -> T:
    """Class decorator adding a compressor to the catalog under ``cls.name``."""
    if cls.name in _CATALOG and _CATALOG[cls.name] is not cls:
        raise ValueError(f"compressor name {cls.name!r} registered twice")
    _CATALOG[cls.name] = cls
    return cls


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    pkg = importlib.import_module("theorykit.compressors.catalog")
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    # Importing the subpackage rebinds the attribute ``theorykit.compressors.catalog`` to
    # the module; restore the public function ``theorykit.compressors.catalog()``.
    sys.modules["theorykit.compressors"].catalog = catalog  # type: ignore[attr-defined]
    _LOADED = True


def catalog() -> dict[str, type[CompressorSpec]]:
    """All registered compressors, by name (sorted)."""
    _load()
    return dict(sorted(_CATALOG.items()))


def resolve(name: str) -> type[CompressorSpec]:
    """A spec class from a catalog name or a ``module.path:Object`` reference."""
    if ":" in name:
        mod_name, _, attr = name.partition(":")
        # a user's module in the current directory (``theorykit ... mymod:MyCompressor``)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot load compressor {name!r}: {exc}") from None
        if not (isinstance(obj, type) and issubclass(obj, CompressorSpec)):
            raise InputError(f"{name!r} is not a CompressorSpec subclass")
        return obj
    cat = catalog()
    if name not in cat:
        raise InputError(f"unknown compressor {name!r}; known: {', '.join(cat)}")
    return cat[name]


def make(name: str, **params: Any) -> CompressorSpec:
    """Instantiate a compressor by name with parameters (validated)."""
    return resolve(name)(**params)
