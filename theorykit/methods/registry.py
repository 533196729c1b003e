"""The method registry: name -> :class:`~theorykit.methods.base.Method` class.

Built-in methods register themselves with :func:`register` when :mod:`theorykit.methods`
is imported; a user's method is loaded by ``module.path:Object`` (see :func:`resolve`), the
same convention as :func:`theorykit.compressors.registry.resolve`. Every reader -- the
simulator, the SDE derivation, the trainer, the CLI -- builds methods through
:func:`make_method`, so adding a method never touches them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from theorykit.errors import InputError
from theorykit.registry import Registry

if TYPE_CHECKING:
    from theorykit.methods.base import Method


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _load() -> None:
    importlib.import_module("theorykit.methods")  # registers the built-in methods


REGISTRY: Registry[type[Method]] = Registry(
    "method", base="theorykit.methods.base:Method", key=_key, sort=False, loader=_load)
"""Every method class by name (registration order; case, ``-`` and ``_`` ignored)."""

_CATALOG = REGISTRY.entries


# register(cls), catalog(), names(), resolve(name): the registry's own methods.
register = REGISTRY.register
catalog = REGISTRY.catalog
names = REGISTRY.names
resolve = REGISTRY.resolve


def make_method(name: str | type[Method], compressor: Any = None, **options: Any) -> Method:
    """A method instance from a name, a ``module:Object`` reference or a class.
    ``compressor`` (a spec, a list of N specs, or an omega) goes to methods with
    ``needs_compressor``; the others refuse it. ``options`` are constructor keywords
    (e.g. ``vote="majority"`` for DSignSGD, ``shift_step`` for DIANA)."""
    cls = name if isinstance(name, type) else resolve(str(name))
    if cls.needs_compressor:
        if compressor is None:
            raise InputError(f"{cls.name} needs a compressor (--compressor NAME)")
        args: tuple[Any, ...] = (compressor,)
    else:
        if compressor is not None:
            raise InputError(f"{cls.name} takes no compressor")
        args = ()
    try:
        return cls(*args, **options)
    except TypeError as exc:
        raise InputError(f"{cls.name}: {exc}") from None


def describe_all() -> list[dict[str, Any]]:
    """One row per registered method: name, label, title, paper, stateful, has SDE."""
    return [{"name": key, "label": cls.label or cls.name, "title": cls.title,
             "paper": cls.reference, "stateful": bool(cls.stateful),
             "needs_compressor": bool(cls.needs_compressor), "has_sde": cls.has_sde()}
            for key, cls in catalog().items()]
