"""Helpers to run flow files as a user would: a real ``python flow.py ...`` process."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOWS = Path(__file__).resolve().parent / "flows"
TESTER = "tester"

# "2026-11-23 10:00:00.123 [3/start/1 (pid 4242)] text"
TASK_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
    r"\[(?P<run>[^/\]]+)/(?P<step>\w+)/(?P<task>[^ \]]+)(?: \(pid (?P<pid>\d+)\))?\] (?P<text>.*)$"
)


def hermetic_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any HEADWATER_/METAFLOW_ setting, as user ``tester``.

    Module-scoped fixtures run before the per-test ``clean_environ`` fixture, so they pass this
    explicitly instead of relying on ``os.environ`` having been cleaned.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
    env.pop("NO_COLOR", None)  # a test that wants it sets it
    env["HEADWATER_USER"] = TESTER
    env.update(extra or {})
    return env


def run_cli(flow_file: str | os.PathLike, *args: str, cwd: str | os.PathLike,
            timeout: float = 120, env: dict[str, str] | None = None,
            hermetic: bool = False) -> subprocess.CompletedProcess:
    """Run ``python FLOW_FILE ARGS`` in ``cwd`` and return the finished process (text output).

    ``hermetic=True`` starts from :func:`hermetic_env` instead of this process's environment.
    """
    full_env = hermetic_env() if hermetic else dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(flow_file), *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=timeout,
    )


def start_cli(flow_file: str | os.PathLike, *args: str, cwd: str | os.PathLike,
              env: dict[str, str] | None = None, **popen: object) -> subprocess.Popen:
    """Start ``python -u FLOW_FILE ARGS`` in ``cwd`` without waiting (stdout/stderr piped)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and file
        [sys.executable, "-u", str(flow_file), *args], cwd=cwd, env=full_env, text=True,
        **popen,  # type: ignore[arg-type]
    )


def example(name: str) -> Path:
    return EXAMPLES / name


def flow_file(name: str) -> Path:
    """A flow of ``tests/integration/flows``."""
    return FLOWS / name


def copy_example(name: str, folder: str | os.PathLike) -> Path:
    """Copy an example (or an example's data file) into ``folder``; returns the copy."""
    return Path(shutil.copy(EXAMPLES / name, folder))


def write_flow(folder: str | os.PathLike, name: str, source: str) -> Path:
    """Write dedented ``source`` as ``folder/name`` and return its path."""
    path = Path(folder) / name
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def line_of(path: str | os.PathLike, needle: str, nth: int = 0) -> int:
    """1-based number of the ``nth`` line of ``path`` containing ``needle``."""
    lines = Path(path).read_text().splitlines()
    return [i + 1 for i, text in enumerate(lines) if needle in text][nth]


def run_count(root: str | os.PathLike) -> int:
    """Runs recorded in the metadata database of datastore ``root`` (0 if there is none)."""
    db = Path(root) / "meta.sqlite"
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        conn.close()


@dataclass(frozen=True)
class TaskLine:
    run: str
    step: str
    task: str
    pid: int | None  # None: printed without its pid (see test_live_output's console-order test)
    text: str

    @property
    def pathspec(self) -> str:
        return f"{self.run}/{self.step}/{self.task}"


def task_lines(output: str) -> list[TaskLine]:
    """The ``[run/step/task (pid N)] text`` lines of a run's console output, in order."""
    found = []
    for line in output.splitlines():
        match = TASK_LINE.match(line)
        if match:
            found.append(TaskLine(match["run"], match["step"], match["task"], int(match["pid"]) if match["pid"] else None,
                                  match["text"]))
    return found


def point_client_at(root: str | os.PathLike) -> None:
    """Make this process's client read datastore ``root``, in the default namespace."""
    from headwater import metadata
    from headwater.client import _context
    from headwater.client.namespace import reset_namespace

    _context.reset()
    reset_namespace()
    metadata(str(root))


def reset_client() -> None:
    from headwater.client import _context
    from headwater.client.namespace import reset_namespace

    _context.reset()
    reset_namespace()


@contextmanager
def background(argv: list[str], *, cwd: str | os.PathLike,
               env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """``argv`` started with text pipes; killed on the way out if the test did not finish it."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,  # noqa: S603
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float | None = None) -> str:
    """The text of ``path`` once a task of ``proc``'s run wrote it; fails if the run ends first.

    Waits on the event, up to the fault tests' generous deadline (HEADWATER_TEST_DEADLINE_S,
    300 s): a loaded 2-core machine only makes it slower, a run that never gets there fails."""
    if timeout is None:
        timeout = float(os.environ.get("HEADWATER_TEST_DEADLINE_S", "300"))
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert proc.poll() is None, f"the run ended before {path.name} was written"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.05)
    return path.read_text()
