"""The law registry: name -> :class:`~theorykit.distributions.base.SymmetricLaw` class
(a :class:`~theorykit.registry.Registry`).

Family modules of :mod:`theorykit.distributions` register their classes with
:func:`register`; every module of the package is imported on first use, so adding a law is
one new file. A user's law is loaded by ``module.path:Object`` (see :func:`resolve`), the
same convention as :func:`theorykit.compressors.registry.resolve`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from theorykit.registry import Registry, import_submodules

if TYPE_CHECKING:
    from theorykit.distributions.base import SymmetricLaw

ALIASES = {"normal": "gaussian", "student-t": "student_t", "t": "student_t",
           "studentt": "student_t", "cauchy": "student_t", "pareto-ii": "lomax",
           "power": "pareto", "power-law": "pareto"}
"""Alternative spellings (``cauchy`` is Student-t with nu = 1)."""

REGISTRY: Registry[type[SymmetricLaw]] = Registry(
    "law", base="theorykit.distributions.base:SymmetricLaw", key=str.lower, aliases=ALIASES,
    loader=import_submodules("theorykit.distributions"))
"""Every law class by name (sorted; case-insensitive, :data:`ALIASES` accepted)."""


# register(cls), catalog(), resolve(name): the registry's own methods.
register = REGISTRY.register
catalog = REGISTRY.catalog
resolve = REGISTRY.resolve


def make(name: str, **params: Any) -> SymmetricLaw:
    """A law by name (or ``module:Object``) with validated parameters (``cauchy``: nu = 1)."""
    if name.lower() == "cauchy":
        params.setdefault("nu", 1)
    return REGISTRY.make(name, **params)
