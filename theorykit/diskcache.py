"""A small on-disk cache for expensive symbolic derivations.

Some derivations (SymPy integrals of a density family, closed-form optima) take about a
second the first time and are the same in every later process. They are cached in memory
by their modules and, through :func:`load` / :func:`store`, on disk as pickles under
``$THEORYKIT_CACHE_DIR`` (default ``~/.cache/theorykit``), one file per key. The key
includes the theorykit and SymPy versions, so an upgrade never reads a stale result; a file
that cannot be read is ignored and rewritten. ``THEORYKIT_DISK_CACHE=0`` turns the disk
cache off (the benchmarks use it to time a derivation from scratch).

Writes go to a temporary file first and are renamed into place, so concurrent processes
(pytest-xdist workers, ranks) never see half a file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import sympy

from theorykit import __version__

_MISSING = object()


def enabled() -> bool:
    return os.environ.get("THEORYKIT_DISK_CACHE", "1") not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    return Path(os.environ.get("THEORYKIT_CACHE_DIR") or Path.home() / ".cache" / "theorykit")


def _path(namespace: str, key: str) -> Path:
    digest = hashlib.sha256(f"{__version__}|{sympy.__version__}|{key}".encode()).hexdigest()
    return cache_dir() / namespace / f"{digest[:40]}.pkl"


def load(namespace: str, key: str) -> Any:
    """The cached value, or a sentinel (test it with :func:`missing`) when absent, disabled
    or unreadable."""
    if not enabled():
        return _MISSING
    try:
        with _path(namespace, key).open("rb") as fh:
            return pickle.load(fh)
    except Exception:  # absent, truncated, from an incompatible version: recompute
        return _MISSING


def store(namespace: str, key: str, value: Any) -> None:
    """Cache ``value`` (best effort: an unwritable cache directory is silently skipped)."""
    if not enabled():
        return
    path = _path(namespace, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False) as fh:
            pickle.dump(value, fh)
        os.replace(fh.name, path)
    except OSError:
        pass


def missing(value: Any) -> bool:
    return value is _MISSING
