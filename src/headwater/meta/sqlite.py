"""The embedded metadata backend: one SQLite file in WAL mode (see :mod:`.sqlite_conn`).

Only a run's scheduler writes that run's rows; the client writes tags; everyone else reads.
All SQL text is in :mod:`.sqlite_sql` (most of it written once for both backends in
:mod:`.shared_sql`); the methods that bind parameters and build rows are shared with the
PostgreSQL backend in :mod:`.sql_store`.
"""

from __future__ import annotations

from headwater.meta import sqlite_sql
from headwater.meta.rows import RunRow
from headwater.meta.run_lock import RunLock, lock_held, lock_path
from headwater.meta.sql_store import SQLMetadata, _run_row
from headwater.meta.sqlite_conn import SQLiteConnections
from headwater.records import replace


class SQLiteMetadata(SQLMetadata):
    """Metadata in the SQLite file at ``path`` (created with its schema on first write)."""

    _sql = sqlite_sql

    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._db = SQLiteConnections(path, readonly=readonly)

    def __repr__(self) -> str:
        mode = ", readonly=True" if self.readonly else ""
        return f"SQLiteMetadata({self.path!r}{mode})"

    def __getstate__(self) -> dict:
        return {"path": self.path, "readonly": self.readonly}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], readonly=state["readonly"])

    # -- liveness: the run lock beside the database (see headwater.meta.run_lock) ---------------

    def run_lock(self, flow: str, run_id: str) -> RunLock:
        return RunLock(lock_path(self.path, flow, run_id))

    def _checked(self, row: RunRow) -> RunRow:
        if row.status != "running":
            return row
        held = lock_held(lock_path(self.path, row.flow, row.run_id))
        if held is None:
            return row
        if not held:
            # The scheduler records the end before it lets the lock go: read the row again, so
            # a run that has just finished is not mistaken for one that died.
            rows = self._db.query(self._sql.GET_RUN, (row.flow, row.run_id))
            if rows:
                row = _run_row(rows[0])
                if row.status != "running":
                    return row
        return replace(row, lock_held=held)
