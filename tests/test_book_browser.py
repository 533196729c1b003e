"""What a reader of the built book sees, checked in a real headless Chromium, offline.

For every page of ``book/_build/html``, served from 127.0.0.1: every formula is typeset by
MathJax (each Sphinx math element holds a rendered ``mjx-container``, and no raw ``\\(`` or
``\\[`` is left in the visible text), every image has loaded (``naturalWidth > 0``), no
cell shows an error or a traceback, every internal link and anchor resolves, and no request
leaves the machine (the book needs no network).

Skips, with the reason, where Chromium, Playwright or a built book is missing; with
``THEORYKIT_REQUIRE_BROWSER=1`` (CI, after ``make book``) a skip is a failure instead.
``THEORYKIT_BOOK_SCREENSHOTS=DIR`` saves a full-page PNG of each page there.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
REQUIRE = os.environ.get("THEORYKIT_REQUIRE_BROWSER") == "1"
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _need(ok: bool, reason: str) -> None:
    if not ok:
        if REQUIRE:
            pytest.fail(f"THEORYKIT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


def _is_redirect(page: Path) -> bool:
    """Sphinx's ``index.html`` is only a meta-refresh to the root page, checked there."""
    return page.read_text(errors="replace").lstrip().startswith("<meta http-equiv=\"Refresh\"")


def _pages() -> list[Path]:
    if not HTML.is_dir():
        return []
    return sorted(p for p in HTML.glob("*.html")
                  if p.name not in SKIP_PAGES and not _is_redirect(p))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    _need(exe is not None, "no Chromium on this machine (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed (pip install -e '.[dev]')")
    _need(bool(_pages()), "the book is not built (make book)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


_READ = """() => {
  const text = document.body.innerText;
  const maths = [...document.querySelectorAll('.math')];
  return {
    math_elements: maths.length,
    math_unrendered: maths.filter(m => !m.querySelector('mjx-container')).length,
    mjx: document.querySelectorAll('mjx-container').length,
    raw_inline: (text.match(/\\\\\\(|\\\\\\[/g) || []).length,
    images: [...document.images].map(i => ({src: i.currentSrc || i.src,
                                            ok: i.complete && i.naturalWidth > 0})),
    errors: document.querySelectorAll('.output.error, .output.traceback').length,
    traceback: text.includes('Traceback (most recent call last)'),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
  };
}"""


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text(errors="replace")))


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in _pages()] or ["(no built book)"])
def test_page_as_a_reader_sees_it(name: str, server: str, browser) -> None:
    page_path = HTML / name
    _need(page_path.exists(), "the book is not built (make book)")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", None) else None)
    try:
        page.goto(f"{server}/{name}", wait_until="load")
        page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && "
                               "window.MathJax.startup.promise)", timeout=30_000)
        page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
        seen = page.evaluate(_READ)
        shots = os.environ.get("THEORYKIT_BOOK_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"{page_path.stem}.png"), full_page=True)
    finally:
        page.close()
    assert not outside, f"{name} requested outside hosts: {outside[:3]}"
    if seen["math_elements"]:
        assert seen["math_unrendered"] == 0, f"{name}: {seen['math_unrendered']} of " \
            f"{seen['math_elements']} formulas not typeset"
    assert seen["raw_inline"] == 0, f"{name}: raw \\( or \\[ left in the visible text"
    broken = [i["src"] for i in seen["images"] if not i["ok"]]
    assert not broken, f"{name}: images that did not load: {broken[:3]}"
    assert seen["errors"] == 0 and not seen["traceback"], f"{name}: a cell shows an error"
    bad = []
    for href in seen["links"]:
        u = urlparse(href)
        if u.scheme or href.startswith("mailto:"):
            continue
        target = page_path if not u.path else (page_path.parent / unquote(u.path)).resolve()
        missing_anchor = (target.exists() and u.fragment and target.suffix == ".html"
                          and unquote(u.fragment) not in _ids(target))
        if not target.exists() or missing_anchor:
            bad.append(href)
    assert not bad, f"{name}: internal links that do not resolve: {bad[:5]}"


def test_some_page_has_typeset_math(server: str, browser) -> None:
    """The check above could pass on a book without math; the SDE chapter has formulas."""
    page = browser.new_page()
    try:
        page.goto(f"{server}/sde.html", wait_until="load")
        page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
        assert page.evaluate("() => document.querySelectorAll('mjx-container').length") > 5
    finally:
        page.close()
