"""The law registry: name -> :class:`~theorykit.distributions.base.SymmetricLaw` class.

Family modules of :mod:`theorykit.distributions` register their classes with
:func:`register`; every module of the package is imported on first use, so adding a law is
one new file. A user's law is loaded by ``module.path:Object`` (see :func:`resolve`), the
same convention as :func:`theorykit.compressors.registry.resolve`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from theorykit.errors import InputError

if TYPE_CHECKING:
    from theorykit.distributions.base import SymmetricLaw

_CATALOG: dict[str, type[SymmetricLaw]] = {}
_LOADED = False
T = TypeVar("T")

ALIASES = {"normal": "gaussian", "student-t": "student_t", "t": "student_t",
           "studentt": "student_t", "cauchy": "student_t", "pareto-ii": "lomax",
           "power": "pareto", "power-law": "pareto"}
"""Alternative spellings (``cauchy`` is Student-t with nu = 1)."""


def register(cls: T) -> T:
    """Class decorator adding a law to the registry under ``cls.name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name in _CATALOG and _CATALOG[name] is not cls:
        raise ValueError(f"law name {name!r} registered twice")
    _CATALOG[name] = cls  # type: ignore[assignment]
    return cls


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    pkg = importlib.import_module("theorykit.distributions")
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    _LOADED = True


def catalog() -> dict[str, type[SymmetricLaw]]:
    """All registered laws, by name (sorted)."""
    _load()
    return dict(sorted(_CATALOG.items()))


def resolve(name: str) -> type[SymmetricLaw]:
    """A law class from a registered name (or alias) or a ``module.path:Object``."""
    from theorykit.distributions.base import SymmetricLaw

    if ":" in name:
        mod_name, _, attr = name.partition(":")
        if os.getcwd() not in sys.path:  # a user's module in the current directory
            sys.path.insert(0, os.getcwd())
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot load law {name!r}: {exc}") from None
        if not (isinstance(obj, type) and issubclass(obj, SymmetricLaw)):
            raise InputError(f"{name!r} is not a SymmetricLaw subclass")
        return obj
    cat = catalog()
    key = ALIASES.get(name.lower(), name.lower())
    if key not in cat:
        raise InputError(f"unknown law {name!r}; known: {', '.join(cat)}")
    return cat[key]


def make(name: str, **params: Any) -> SymmetricLaw:
    """A law by name (or ``module:Object``) with validated parameters (``cauchy``: nu = 1)."""
    if name.lower() == "cauchy":
        params.setdefault("nu", 1)
    return resolve(name)(**params)
