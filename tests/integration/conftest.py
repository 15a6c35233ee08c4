"""Integration fixtures: the in-process client is reset around every test; the browser tests
share one way to start Debian's Chromium (one browser per test module); the web UI's tests share
their server (over the module's own ``home``) and their browser contexts."""

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


@pytest.fixture(scope="module")
def ui(home):
    """``headwater ui`` over the module's ``home`` fixture (the folder its runs were made in)."""
    from .uiserver import ui_server

    with ui_server(home) as server:
        yield server


@pytest.fixture
def context(browser):
    """A fresh browser context for one test (see :func:`.uiserver.new_context`)."""
    from .uiserver import new_context

    context = new_context(browser)
    yield context
    context.close()
