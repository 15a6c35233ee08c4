"""Every test gets a clean environment and its own working directory.

Nothing a test does may land in the repository (a stray ``.headwater/``) or depend on the developer's
shell (a HEADWATER_DATASTORE_ROOT left exported, METAFLOW_USER, ...).
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in list(os.environ):
        if name.startswith(("HEADWATER_", "METAFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEADWATER_USER", "tester")
    monkeypatch.chdir(tmp_path)
