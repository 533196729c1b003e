"""One name registry for every pluggable kind of object (compressors, laws, methods,
problems, noise models, schedules).

A :class:`Registry` maps names to classes (or factories). It

* registers a class under ``cls.name`` with the :meth:`Registry.register` decorator (or
  any callable under a given name with :meth:`Registry.add`);
* normalizes names with a ``key`` function (e.g. case-insensitive) and ``aliases``;
* loads the package's catalog modules lazily, once, on first lookup (``loader``);
* resolves a registered name, or a user's ``module.path:Object`` -- importable from the
  current directory too -- checked against a ``base`` class;
* fails with a one-line :class:`~theorykit.errors.InputError` that lists the known names::

      unknown compressor 'nosuch'; known: identity, natural, ... (or module.path:Object)

* lists its catalog in a stable order (sorted by name, or registration order).

Example::

    COMPRESSORS = Registry("compressor", base="theorykit.compressors.base:CompressorSpec",
                           loader=import_submodules("theorykit.compressors.catalog"))

    @COMPRESSORS.register
    class TopK(CompressorSpec):
        name = "topk"

    COMPRESSORS.make("topk", k=2)
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from theorykit.errors import InputError

__all__ = ["Registry", "import_submodules"]

T = TypeVar("T")
C = TypeVar("C")


def import_submodules(package: str) -> Callable[[], None]:
    """A ``loader`` importing every module of ``package`` (where catalog modules register)."""

    def load() -> None:
        pkg = importlib.import_module(package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{package}.{mod.name}")

    return load


def _import_object(ref: str) -> Any:
    """``module.path:Object`` -> the object (ImportError / AttributeError on failure)."""
    mod_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(mod_name), attr)


class Registry(Generic[T]):
    """Names -> ``T`` (classes or factories) for one ``kind`` of object.

    ``kind`` names the kind in messages ("compressor"). ``base`` is the class (or its
    ``"module:Class"`` reference, imported when first needed) that a ``module:Object``
    must subclass; ``None`` refuses ``module:Object`` references. ``key`` normalizes names
    (at registration and lookup); ``aliases`` maps normalized alternative spellings to
    registered keys. ``loader`` is called once, before the first lookup, to import the
    modules that register. ``sort``: the catalog is sorted by name (else registration
    order). ``entries``: initial ``name -> T`` pairs.
    """

    def __init__(self, kind: str, *, base: type | str | None = None,
                 key: Callable[[str], str] = str, aliases: Mapping[str, str] | None = None,
                 loader: Callable[[], object] | None = None, sort: bool = True,
                 entries: Mapping[str, T] | None = None) -> None:
        self.kind = kind
        self.base = base
        self.key_fn = key
        self.aliases: Mapping[str, str] = aliases if aliases is not None else {}
        self.loader = loader
        self.sort = sort
        self.entries: dict[str, T] = {}
        """The registered objects by normalized name (live; registration order)."""
        self._loaded = loader is None
        for name, obj in (entries or {}).items():
            self.add(name, obj)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- registering
    def add(self, name: str, obj: C) -> C:
        """Register ``obj`` under ``name``; a different object under the same name is a
        ValueError (registering the same object again is harmless)."""
        key = self.key_fn(name)
        if key in self.entries and self.entries[key] is not obj:
            raise ValueError(f"{self.kind} name {name!r} registered twice")
        self.entries[key] = obj  # type: ignore[assignment]
        return obj

    def register(self, cls: C) -> C:
        """Class decorator: register ``cls`` under ``cls.name``."""
        return self.add(cls.name, cls)  # type: ignore[attr-defined]

    # ----------------------------------------------------------------- listing
    def _load(self) -> None:
        if not self._loaded and self.loader is not None:
            self.loader()
            self._loaded = True

    def catalog(self) -> dict[str, T]:
        """All registered objects by name (sorted, or in registration order)."""
        self._load()
        items: Iterable[tuple[str, T]] = self.entries.items()
        return dict(sorted(items) if self.sort else items)

    def names(self) -> list[str]:
        """The registered names, in catalog order."""
        return list(self.catalog())

    def key(self, name: str) -> str:
        """The registered key a name stands for (normalized, aliases followed)."""
        k = self.key_fn(name)
        return self.aliases.get(k, k)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.key(name) in self.catalog()

    # ----------------------------------------------------------------- lookup
    def unknown(self, name: str, known: Iterable[str] | None = None) -> InputError:
        """The one-line error for an unknown name (``known``: the names to list)."""
        listed = ", ".join(self.catalog() if known is None else known)
        hint = " (or module.path:Object)" if self.base is not None else ""
        return InputError(f"unknown {self.kind} {name!r}; known: {listed}{hint}")

    def resolve(self, name: str) -> T:
        """The object registered as ``name``, or a user's ``module.path:Object`` (a
        subclass of ``base``; the current directory is importable)."""
        if ":" in name and self.base is not None:
            return self._load_reference(name)
        cat = self.catalog()
        key = self.key(name)
        if key not in cat:
            raise self.unknown(name)
        return cat[key]

    get = resolve

    def _load_reference(self, ref: str) -> T:
        if os.getcwd() not in sys.path:  # a user's module in the current directory
            sys.path.insert(0, os.getcwd())
        try:
            obj = _import_object(ref)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot load {self.kind} {ref!r}: {exc}") from None
        base = _import_object(self.base) if isinstance(self.base, str) else self.base
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise InputError(f"{ref!r} is not a {base.__name__} subclass")
        return obj  # type: ignore[return-value]

    def make(self, name: str, **params: Any) -> Any:
        """An instance: the object for ``name`` called with ``params`` (a wrong keyword
        becomes an :class:`InputError` naming the entry)."""
        factory: Callable[..., Any] = self.resolve(name)  # type: ignore[assignment]
        try:
            return factory(**params)
        except TypeError as exc:
            raise InputError(f"{self.kind} {self.key(name)}: {exc}") from None

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self.entries)} entries)"
