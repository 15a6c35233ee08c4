"""The embedded metadata backend: one SQLite file in WAL mode (see :mod:`.sqlite_conn`).

Only a run's scheduler writes that run's rows; the client writes tags; everyone else reads.
All SQL text lives in :mod:`.sqlite_sql`; the methods that bind parameters and build rows are
shared with the PostgreSQL backend in :mod:`.sql_store`.
"""

from __future__ import annotations

from headwater.meta import sqlite_sql
from headwater.meta.sql_store import SQLMetadata
from headwater.meta.sqlite_conn import SQLiteConnections


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
