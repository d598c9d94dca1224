"""Headless Debian chromium for the tests that render a page in a real browser.

`.ci/run` installs `/usr/bin/chromium`; Playwright drives it (no browser is downloaded).
Without it a test skips and says why; under CI (which installs it) it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """A launched chromium browser (Playwright's), closed afterwards."""
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (Debian's chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
