"""Exit 0 if the running interpreter already has this checkout installed with all of its
requirements (``project.dependencies`` and the extras named in argv[1], e.g.
``dev,book,ml``) satisfied; exit 1 otherwise. ``make venv`` uses it to reuse an existing
virtual environment instead of reinstalling into it. Standard library only (plus
``packaging`` when present; without it the check fails and make reinstalls).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
import tomllib
from pathlib import Path


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    extras = [e for e in (sys.argv[1] if len(sys.argv) > 1 else "").split(",") if e]
    try:
        from packaging.requirements import Requirement
    except ImportError:
        print("env_ok: 'packaging' is not installed", file=sys.stderr)
        return 1
    spec = importlib.util.find_spec("theorykit")
    if spec is None or spec.origin is None:
        print("env_ok: theorykit is not installed", file=sys.stderr)
        return 1
    if root not in Path(spec.origin).resolve().parents:
        print(f"env_ok: theorykit is installed from {spec.origin}, not from {root}",
              file=sys.stderr)
        return 1
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    reqs = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for e in extras:
        if e not in optional:
            print(f"env_ok: unknown extra {e!r}", file=sys.stderr)
            return 1
        reqs += optional[e]
    missing = []
    for text in reqs:
        r = Requirement(text)
        if r.marker is not None and not r.marker.evaluate():
            continue
        try:
            version = md.version(r.name)
        except md.PackageNotFoundError:
            missing.append(f"{r.name} (not installed)")
            continue
        if r.specifier and not r.specifier.contains(version, prereleases=True):
            missing.append(f"{r.name} {version} does not satisfy {r.specifier}")
    if missing:
        print("env_ok: " + "; ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
