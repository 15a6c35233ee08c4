"""Integration fixtures: the in-process client is reset around every test."""

from __future__ import annotations

import pytest

from .flowrun import reset_client


@pytest.fixture(autouse=True)
def fresh_client():
    """No client state (datastore, namespace, open database) leaks from one test to the next."""
    reset_client()
    yield
    reset_client()
