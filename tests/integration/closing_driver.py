"""Run a flow's command line, a Runner or client reads in this process; report what stays open.

Usage: ``python -X dev -W error::ResourceWarning closing_driver.py REPORT MODE ARGS...``

- ``cli FLOW_FILE ARGS...``: what ``python FLOW_FILE ARGS...`` does, then the exit code;
- ``runner FLOW_FILE``: ``Runner(FLOW_FILE).run()`` to the end;
- ``client FLOW_NAME``: read every run, step, task, artifact and log of the flow, twice;
- ``forget DATABASE``: open a metadata store, read it and leave it open (the check's own control).

After a Runner or client reads, the client's process-wide context is dropped (as switching it with
``metadata(...)`` does), and what it held must be closed then.

Every SQLite connection this process opens is tracked (a strong reference, so that one left open
is seen open rather than quietly collected), and every exception Python could not raise (a
``ResourceWarning`` from a finalizer, with warnings as errors) is kept. The report (JSON in
REPORT) lists the connections still open at the end, those the client held before its context
was dropped, and those exceptions.
"""

from __future__ import annotations

import _sqlite3
import gc
import json
import os
import runpy
import sqlite3
import sys
from typing import Any

MAIN_PID = os.getpid()
opened: list[sqlite3.Connection] = []
unraisable: list[str] = []


class TrackedConnection(sqlite3.Connection):
    """A connection that remembers whether it was closed."""

    was_closed = False

    def close(self) -> None:
        self.was_closed = True
        super().close()


def _tracked_connect(*args: Any, _connect: Any = sqlite3.connect, **kwargs: Any) -> Any:
    kwargs.setdefault("factory", TrackedConnection)
    conn = _connect(*args, **kwargs)
    if os.getpid() == MAIN_PID:
        opened.append(conn)
    return conn


def _keep_unraisable(info: Any) -> None:
    unraisable.append(f"{info.exc_type.__name__}: {info.exc_value} ({info.object!r})")


def still_open() -> list[str]:
    return [repr(c) for c in opened if not c.was_closed]


def run_cli(flow_file: str, *args: str) -> int:
    sys.argv = [flow_file, *args]
    try:
        runpy.run_path(flow_file, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    return 0


def run_runner(flow_file: str) -> int:
    from headwater import Runner

    with Runner(flow_file).run() as running:
        return 0 if running.run.successful else 1


def read_client(flow_name: str) -> int:
    from headwater import Flow, namespace

    namespace(None)
    for _ in range(2):  # a second pass must reuse what the first opened
        for run in Flow(flow_name):
            for step in run:
                for task in step:
                    _ = task.stdout, task.stderr, task.successful
                    for artifact in task:
                        _ = artifact.data
    return 0


def forget(database: str) -> int:
    from headwater.meta import open_metadata

    open_metadata(database, readonly=True).list_flows()
    return 0


def main() -> int:
    report, mode, *args = sys.argv[1:]
    # headwater's metadata store calls the C module's connect (meta/sqlite_conn.py): track both.
    sqlite3.connect = _sqlite3.connect = _tracked_connect
    sys.unraisablehook = _keep_unraisable
    modes = {"cli": run_cli, "runner": run_runner, "client": read_client, "forget": forget}
    code = modes[mode](*args)
    held = still_open()
    if mode in ("client", "runner"):
        from headwater.client import _context

        _context.reset()  # what switching the client elsewhere (metadata(...)) does
    gc.collect()
    with open(report, "w") as handle:
        json.dump({"code": code, "open": still_open(), "held_by_client": held,
                   "opened": len(opened), "unraisable": unraisable}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
