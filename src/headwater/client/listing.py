"""The latest runs as plain records, for ``headwater runs`` (a table, or JSON for scripts).

Unlike ``Flow.runs()`` this lists every user's runs (the table has a user column) and reads one
query per flow, never a task or an artifact.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from headwater.client._lookup import load_flow, meta


@dataclass(frozen=True)
class RunSummary:
    """One row of ``headwater runs``. ``status`` is the client's: running, succeeded or failed."""

    flow: str
    run_id: str
    status: str
    started_at: float
    finished_at: float | None
    duration_s: float | None  # to the end, or so far for a running run; None for a crashed one
    user: str
    tags: tuple[str, ...]

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"

    def as_json(self) -> dict[str, Any]:
        return {"pathspec": self.pathspec, **asdict(self), "tags": list(self.tags)}


def latest_runs(flow: str | None = None, limit: int = 10, *, status: str | None = None,
                tags: tuple[str, ...] = (), user: str | None = None) -> list[RunSummary]:
    """The ``limit`` newest runs of ``flow`` (or of every flow), newest first, all users; with
    ``status`` (running, succeeded, failed: a crashed run is failed), ``tags`` (all of them) or
    ``user``, only the runs that match, found by the metadata store's own paged query (one query
    in SQL backends, however many runs do not match)."""
    db = meta()
    if flow is not None:
        load_flow(flow, check=False)  # names the datastore when the flow is not there
    if status is not None or tags or user is not None:
        rows, _ = db.page_runs(flow=flow, tags=tags, user=user, status=status, limit=limit)
    else:
        flows = [flow] if flow is not None else db.list_flows()
        rows = [row for name in flows for row in db.list_runs(name, limit=limit)]
        rows.sort(key=lambda row: row.created_at, reverse=True)
    now = time.time()
    summaries = []
    for row in rows[:limit]:
        status = row.live_status
        end = row.finished_at if row.finished_at is not None else (
            now if status == "running" else row.heartbeat_at)
        summaries.append(RunSummary(
            flow=row.flow, run_id=row.run_id, status=status, started_at=row.created_at,
            finished_at=row.finished_at, duration_s=None if end is None else end - row.created_at,
            user=row.user, tags=tuple(row.tags),
        ))
    return summaries
