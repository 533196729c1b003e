"""The README's measured figures are generated from committed result files: it must be
what ``tools/update_readme.py`` renders from them (no typed-in number can go stale)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_matches_the_result_files() -> None:
    r = subprocess.run([sys.executable, "tools/update_readme.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_every_generated_block_is_known() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import update_readme
    finally:
        sys.path.pop(0)
    text = (ROOT / "README.md").read_text()
    for name in update_readme.BLOCKS:
        assert f"<!-- BEGIN generated:{name} -->" in text
    assert update_readme.render(text).count("<!-- BEGIN generated:") == len(update_readme.BLOCKS)
