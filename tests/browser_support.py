"""Shared set-up of the browser tests: Debian's Chromium driven by Playwright, and screenshots.

Outside CI a machine without Chromium skips the browser tests; in CI (``CI`` set) they fail.
Screenshots are always taken (and checked to be PNGs); they are written to
``docs/screenshots/`` only when ``KANTINE_SCREENSHOTS=1``, so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KANTINE_CHROMIUM", "/usr/bin/chromium")
DOCS_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)

from playwright.async_api import Browser, BrowserContext, Page, async_playwright  # noqa: E402

__all__ = ["Browser", "BrowserContext", "Page", "browser_fixture", "shot"]


@pytest.fixture(name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    """A fresh Chromium (``launch()`` makes a new ``--user-data-dir`` each time)."""
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str, tmp_path: Path | None = None) -> Path:
    """Screenshot the whole page; into docs/ when ``KANTINE_SCREENSHOTS=1``."""
    folder = DOCS_SHOTS if os.environ.get("KANTINE_SCREENSHOTS") == "1" else tmp_path
    if folder is None:
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / "kantine-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
