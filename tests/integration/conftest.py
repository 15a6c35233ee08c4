"""Integration fixtures: the in-process client is reset around every test; the browser tests
share one way to start Debian's Chromium (one browser per test module)."""

from __future__ import annotations

import pytest

from .flowrun import reset_client


@pytest.fixture(autouse=True)
def fresh_client():
    """No client state (datastore, namespace, open database) leaks from one test to the next."""
    reset_client()
    yield
    reset_client()


@pytest.fixture(scope="module")
def browser():
    """Chromium, driven by Playwright, for the tests of one module."""
    from . import chromium  # Playwright is loaded by the browser tests only

    with chromium.launched() as launched:
        yield launched
