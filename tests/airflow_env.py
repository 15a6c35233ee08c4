"""A real Apache Airflow for the tests, in a virtualenv of its own (Airflow pins too much to
share headwater's test environment).

Made once and kept (``$HEADWATER_AIRFLOW_VENV``, default ``/tmp/headwater-airflow-venv``):
building it takes minutes, reusing it none. A folder made by someone else, or writable by
others, is refused rather than run. Airflow does not need headwater: ``airflow create
--operator local`` runs each task with the interpreter that has it (the test's).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

AIRFLOW_VERSION = "2.10.5"
# Without Airflow's constraints file (not reachable offline), these two keep its web stack sane.
REQUIREMENTS = [f"apache-airflow=={AIRFLOW_VERSION}", "flask-session<0.6", "connexion<3"]


def _folder() -> Path:
    return Path(os.environ.get("HEADWATER_AIRFLOW_VENV") or "/tmp/headwater-airflow-venv")


def _check_owned(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(f"{path} is not private to this user: remove it and run again")


def airflow_bin() -> Path:
    """The ``airflow`` executable of the cached virtualenv, made first if needed."""
    venv = _folder()
    ready = venv / ".headwater-ready"
    lock_path = venv.with_name(venv.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions never build it at once
        if venv.exists():
            _check_owned(venv)
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            os.chmod(venv, 0o700)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *REQUIREMENTS],
                           check=True, timeout=3600)
            ready.write_text(AIRFLOW_VERSION)
    return venv / "bin" / "airflow"
