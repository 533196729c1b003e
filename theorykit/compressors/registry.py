"""The compressor catalog: name -> spec class (a :class:`~theorykit.registry.Registry`).

Catalog modules live in :mod:`theorykit.compressors.catalog` and register their classes
with :func:`register`; every module of that package is imported on first use, so adding a
compressor never touches this file. User-defined compressors are loaded by
``module.path:Object`` (see :func:`resolve`).
"""

from __future__ import annotations

import sys

from theorykit.compressors.base import CompressorSpec
from theorykit.registry import Registry, import_submodules


def _load() -> None:
    import_submodules("theorykit.compressors.catalog")()
    # Importing the subpackage rebinds the attribute ``theorykit.compressors.catalog`` to
    # the module; restore the public function ``theorykit.compressors.catalog()``.
    sys.modules["theorykit.compressors"].catalog = catalog  # type: ignore[attr-defined]


REGISTRY: Registry[type[CompressorSpec]] = Registry("compressor", base=CompressorSpec,
                                                    loader=_load)
"""Every compressor spec class by name (sorted)."""


# The module's functions are the registry's own methods (same names and signatures):
# register(cls), catalog(), resolve(name), make(name, **params).
register = REGISTRY.register
catalog = REGISTRY.catalog
resolve = REGISTRY.resolve
make = REGISTRY.make
