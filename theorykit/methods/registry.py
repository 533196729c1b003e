"""The method registry: name -> :class:`~theorykit.methods.base.Method` class.

Built-in methods register themselves with :func:`register` when :mod:`theorykit.methods`
is imported; a user's method is loaded by ``module.path:Object`` (see :func:`resolve`), the
same convention as :func:`theorykit.compressors.registry.resolve`. Every reader -- the
simulator, the SDE derivation, the trainer, the CLI -- builds methods through
:func:`make_method`, so adding a method never touches them.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from theorykit.errors import InputError

if TYPE_CHECKING:
    from theorykit.methods.base import Method

_CATALOG: dict[str, type[Method]] = {}
T = TypeVar("T")


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def register(cls: T) -> T:
    """Class decorator adding a method under ``cls.name`` (case, ``-`` and ``_`` ignored)."""
    key = _key(cls.name)  # type: ignore[attr-defined]
    if key in _CATALOG and _CATALOG[key] is not cls:
        raise ValueError(f"method name {cls.name!r} registered twice")  # type: ignore[attr-defined]
    _CATALOG[key] = cls  # type: ignore[assignment]
    return cls


def catalog() -> dict[str, type[Method]]:
    """All registered methods, by name (in registration order)."""
    import theorykit.methods  # noqa: F401  (registers the built-in methods)

    return dict(_CATALOG)


def names() -> list[str]:
    """Registered method names (the CLI's ``--method`` choices)."""
    return list(catalog())


def resolve(name: str) -> type[Method]:
    """A method class from a registered name or a ``module.path:Object`` reference."""
    from theorykit.methods.base import Method

    if ":" in name:
        mod_name, _, attr = name.partition(":")
        if os.getcwd() not in sys.path:  # a user's module in the current directory
            sys.path.insert(0, os.getcwd())
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot load method {name!r}: {exc}") from None
        if not (isinstance(obj, type) and issubclass(obj, Method)):
            raise InputError(f"{name!r} is not a Method subclass")
        return obj
    cat = catalog()
    key = _key(name)
    if key not in cat:
        raise InputError(f"unknown method {name!r}; known: {', '.join(cat)} "
                         "(or module.path:Object)")
    return cat[key]


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
