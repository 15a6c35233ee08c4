"""A real Apache Airflow for the tests, in a virtualenv of its own (Airflow pins too much to
share headwater's test environment).

Made once and kept (``$HEADWATER_AIRFLOW_VENV``, default ``/tmp/headwater-airflow-venv``):
building it takes minutes, reusing it none. A folder made by someone else, or writable by
others, is refused rather than run. Airflow does not need headwater: ``airflow create
--operator local`` runs each task with the interpreter that has it (the test's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tool_cache import built_once

AIRFLOW_VERSION = "2.10.5"
# Without Airflow's constraints file (not reachable offline), these two keep its web stack sane.
REQUIREMENTS = [f"apache-airflow=={AIRFLOW_VERSION}", "flask-session<0.6", "connexion<3"]


def _folder() -> Path:
    return Path(os.environ.get("HEADWATER_AIRFLOW_VENV") or "/tmp/headwater-airflow-venv")


def airflow_bin() -> Path:
    """The ``airflow`` executable of the cached virtualenv, made first if needed."""

    def build(venv: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *REQUIREMENTS],
                       check=True, timeout=3600)

    return built_once(_folder(), AIRFLOW_VERSION, build) / "bin" / "airflow"
