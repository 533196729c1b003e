"""The claim registry. Paper modules in :mod:`derivations` call :func:`claim` (a
decorator) at import time; :func:`all_claims` imports every module of that package, so a
new paper module never edits this file."""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable

from theorykit.check.claim import Claim, RunContext, Source, Verdict
from theorykit.check.mutants import Mutant

_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def add(c: Claim) -> Claim:
    if c.id in _REGISTRY and _REGISTRY[c.id].run is not c.run:
        raise ValueError(f"claim id {c.id!r} registered twice")
    _REGISTRY[c.id] = c
    return c


def claim(
    id: str,
    title: str,
    source: Source,
    *,
    tags: tuple[str, ...] = (),
    quick: bool = True,
    statement: str = "",
    mutants: tuple[Mutant, ...] | list[Mutant] = (),
) -> Callable[[Callable[[RunContext], Verdict]], Callable[[RunContext], Verdict]]:
    """Decorator registering ``fn(ctx) -> Verdict`` as a claim, with its ``mutants``
    (wrong theories read from ``ctx.theory``; see :mod:`theorykit.check.mutants`)."""

    def deco(fn: Callable[[RunContext], Verdict]) -> Callable[[RunContext], Verdict]:
        add(Claim(id=id, title=title, source=source, run=fn, tags=tags, quick=quick,
                  statement=statement or (fn.__doc__ or "").strip(),
                  mutants=tuple(mutants)))
        return fn

    return deco


ENTRY_POINT_GROUP = "theorykit.claims"
"""Claim modules are found through this entry-point group (``pyproject.toml``:
``[project.entry-points."theorykit.claims"]``), so a package can ship claims without the
library importing it. A value naming a package loads every public module in it."""
DEFAULT_CLAIM_PACKAGES = ("derivations",)


def _claim_packages() -> list[str]:
    from importlib.metadata import entry_points

    names = [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return names or list(DEFAULT_CLAIM_PACKAGES)


def _import_all(name: str) -> None:
    mod = importlib.import_module(name)
    for sub in pkgutil.iter_modules(getattr(mod, "__path__", [])):
        if not sub.name.startswith("_"):
            importlib.import_module(f"{name}.{sub.name}")


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    for name in _claim_packages():
        _import_all(name)
    _LOADED = True


def load_user_claims(target: str) -> list[Claim]:
    """Import a user's claim module — a dotted module path (``mypkg.claims``, found from
    the current directory too) or a ``.py`` file — and return the claims it registered.
    Raises :class:`InputError` with one line when it cannot be found or registers none."""
    import importlib.util
    import sys
    from pathlib import Path

    from theorykit.errors import InputError

    _load()
    before = set(_REGISTRY)
    path = Path(target)
    try:
        if target.endswith(".py"):
            if not path.is_file():
                raise InputError(f"claims file {target!r} not found")
            modname = f"theorykit_user_claims_{path.stem}"
            spec = importlib.util.spec_from_file_location(modname, path)
            if spec is None or spec.loader is None:
                raise InputError(f"cannot load claims file {target!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path and "." not in sys.path:
                sys.path.insert(0, "")
            _import_all(target)
    except ModuleNotFoundError as exc:
        raise InputError(f"claims module {target!r} not found ({exc.name})") from None
    except ValueError as exc:  # a duplicate claim id
        raise InputError(f"claims module {target!r}: {exc}") from None
    new = [c for k, c in _REGISTRY.items() if k not in before]
    if not new:
        raise InputError(f"claims module {target!r} registered no claim (use "
                         "theorykit.check.claim as a decorator)")
    return new


def all_claims() -> list[Claim]:
    _load()
    return list(_REGISTRY.values())


def select(pattern: str | None = None, *, quick_only: bool = False) -> list[Claim]:
    """Claims whose id matches the glob ``pattern`` (substring if no wildcard)."""
    out = []
    for c in all_claims():
        if quick_only and not c.quick:
            continue
        if pattern:
            pat = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
            if not (fnmatch.fnmatch(c.id, pat) or any(fnmatch.fnmatch(t, pat) for t in c.tags)):
                continue
        out.append(c)
    return out


def get(claim_id: str) -> Claim:
    _load()
    return _REGISTRY[claim_id]
