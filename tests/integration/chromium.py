"""Debian's Chromium, launched headless by Playwright the one way every browser test needs here:
no sandbox (the tests run as root), and none of the background connections a closed network
would refuse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def launched() -> Iterator[Any]:
    """A running Chromium (Playwright's Browser), closed on leaving."""
    assert Path(CHROMIUM).is_file(), "Chromium is missing: apt-get install -y chromium"
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
