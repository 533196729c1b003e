"""The claim registry. Paper modules in :mod:`derivations` call :func:`claim` (a
decorator) at import time; :func:`all_claims` imports every module of that package, so a
new paper module never edits this file."""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable

from theorykit.check.claim import Claim, RunContext, Source, Verdict

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
) -> Callable[[Callable[[RunContext], Verdict]], Callable[[RunContext], Verdict]]:
    """Decorator registering ``fn(ctx) -> Verdict`` as a claim."""

    def deco(fn: Callable[[RunContext], Verdict]) -> Callable[[RunContext], Verdict]:
        add(Claim(id=id, title=title, source=source, run=fn, tags=tags, quick=quick,
                  statement=statement or (fn.__doc__ or "").strip()))
        return fn

    return deco


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    import derivations

    for mod in pkgutil.iter_modules(derivations.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"derivations.{mod.name}")
    _LOADED = True


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
