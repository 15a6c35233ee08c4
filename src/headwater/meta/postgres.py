"""The shared metadata backend: a PostgreSQL database, for a team or a cluster.

``--metadata postgresql://user@host:port/db`` (or ``HEADWATER_METADATA``) selects it. It records
and returns exactly what :class:`~headwater.meta.sqlite.SQLiteMetadata` does: the methods are
shared (:mod:`.sql_store`), only the statements (:mod:`.postgres_sql`) and the connections differ.

The connection rules, and why:

* **Autocommit, explicit transactions.** A read is one statement and its own transaction, so no
  connection sits "idle in transaction" holding a snapshot; a write opens ``BEGIN`` ... ``COMMIT``
  (nested uses join the outer one, as with SQLite). One difference: after a failed statement
  PostgreSQL aborts the whole transaction, so an error caught inside an outer ``transaction()``
  block leaves nothing to commit; let it propagate (the block rolls back) and retry the batch.
* **Run ids under concurrency.** ``new_run`` bumps the flow's counter with an ``UPDATE`` inside
  its transaction; the row lock makes concurrent schedulers take numbers one at a time.
* **Schema created and migrated on first use**, under ``pg_advisory_xact_lock``: many processes
  opening a new database at once create it once; a newer schema than ours is refused.
* **One connection per thread, reopened after fork.** A libpq connection must not cross a fork:
  a child keeps the inherited ones referenced (closing them would end the parent's session) and
  opens its own.
* **Read-only** stores set ``default_transaction_read_only``, never create the schema, and read a
  database without one as empty ("no flows yet").
* **A lost connection is reopened** (the server restarted, a proxy dropped an idle session):
  before a transaction begins and for reads, which can be tried again as a whole, the store
  reconnects, retrying for up to ``HEADWATER_METADATA_RECONNECT_S`` seconds (60 by default). A
  connection lost in the middle of a write transaction cannot be replayed (its statements came
  from the caller): that is a :class:`MetadataError` naming the database and the fix, as is a
  server still down when the time is up; the run is then resumable.
* **No wait is unbounded** (:mod:`.postgres_waits`). Each session sets ``lock_timeout``
  (``HEADWATER_METADATA_LOCK_TIMEOUT_S``, 30 s as SQLite's busy timeout): a lock another
  client holds (an open transaction in ``psql``, a long migration) fails the statement with
  a :class:`MetadataError` naming the sessions holding locks and the fix, where PostgreSQL
  would wait for ever. The server's own ``statement_timeout``, a full server
  (``max_connections``) and a lost connection are each named in their own words.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import psycopg

from headwater.exceptions import HeadwaterException, MetadataError
from headwater.meta import postgres_sql as sql
from headwater.meta.nesting import joined_transaction
from headwater.meta.postgres_waits import bound_waits, failed, lock_timeout_s, refused_connection
from headwater.meta.sql_store import SQLMetadata
from headwater.redaction import password_needs_quoting, redact

# Connections inherited through fork: never used, never closed (see the module docstring).
_INHERITED: list[psycopg.Connection] = []

RECONNECT_ENV = "HEADWATER_METADATA_RECONNECT_S"
DEFAULT_RECONNECT_S = 60.0
RECONNECT_PAUSE_S = 0.5  # between two attempts to reach a server that is coming back


class PostgresMetadata(SQLMetadata):
    """Metadata in the PostgreSQL database at ``url`` (schema created on first write)."""

    _sql = sql

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.readonly = readonly
        self._db = PostgresConnections(url, readonly=readonly)

    def __repr__(self) -> str:
        mode = ", readonly=True" if self.readonly else ""
        return f"PostgresMetadata({redact(self.url)!r}{mode})"

    def __getstate__(self) -> dict:
        return {"url": self.url, "readonly": self.readonly}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"], readonly=state["readonly"])


class PostgresConnections:
    """Per-thread connections to ``url`` plus the write-transaction discipline."""

    def __init__(self, url: str, *, readonly: bool) -> None:
        self.url = url
        self.readonly = readonly
        self._pid = os.getpid()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[psycopg.Connection] = []
        # read now, so a bad value is named when the database is opened, not when it is lost
        self.reconnect_s = _reconnect_window()
        self.lock_timeout_s = lock_timeout_s()

    # -- reading ------------------------------------------------------------------------------

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one SELECT and return all rows (its own transaction, ended at once).

        A read is repeatable as a whole: on a lost connection it reconnects and runs again.
        A text holding a NUL (a pathspec or tag filter typed so) matches nothing: PostgreSQL
        refuses such text outright, and headwater never stores one (every read compares names).
        """
        if any(isinstance(p, str) and "\x00" in p for p in params):
            return []
        try:
            return self._query_once(statement, params)
        except psycopg.OperationalError as exc:
            if not self._lost():
                raise self._failed(exc) from exc
            self._reconnect(exc)
        try:
            return self._query_once(statement, params)
        except psycopg.OperationalError as exc:
            raise self._failed(exc) from exc

    def _query_once(self, statement: str, params: Sequence[Any]) -> list[tuple]:
        conn = self.connection()
        if not self._schema_ready(conn):
            return []  # read-only store on a database nobody has written to yet
        return conn.execute(statement, params).fetchall()

    def connection(self) -> psycopg.Connection:
        """This thread's connection, opened on first use."""
        self._forget_after_fork()
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        conn = self._open()
        self._local.conn = conn
        return conn

    # -- writing ------------------------------------------------------------------------------

    def write(self) -> AbstractContextManager[psycopg.Cursor]:
        """One write transaction; nested uses join the outer one."""
        if self.readonly:
            raise HeadwaterException(
                f"the metadata database {redact(self.url)} was opened read-only",
                fix="open it with open_metadata(url) (readonly=False) to write",
            )
        return joined_transaction(self._local, self._transaction)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        """BEGIN (reconnecting first if the connection was lost) ... COMMIT."""
        try:
            with ExitStack() as stack:
                yield self._begin(stack)
        except psycopg.OperationalError as exc:
            raise self._failed(exc, mid_transaction=True) from exc

    def _failed(self, exc: psycopg.OperationalError, *,
                mid_transaction: bool = False) -> MetadataError:
        """The error for a statement the server failed, with this thread's connection (if it
        still works) to ask who holds the locks it waited for."""
        conn = getattr(self._local, "conn", None)
        usable = conn if conn is not None and not conn.closed and not conn.broken else None
        return failed(self.url, exc, usable, mid_transaction=mid_transaction,
                      lock_timeout_s=self.lock_timeout_s)

    def _begin(self, stack: ExitStack) -> psycopg.Cursor:
        conn = self.connection()
        try:
            stack.enter_context(conn.transaction())
        except psycopg.OperationalError as exc:
            if not self._lost():
                raise
            self._reconnect(exc)
            conn = self.connection()
            stack.enter_context(conn.transaction())
        return stack.enter_context(conn.cursor())

    # -- losing the server ------------------------------------------------------------------------

    def _lost(self) -> bool:
        """Is this thread's connection gone (server restarted, network cut)?"""
        conn = getattr(self._local, "conn", None)
        return conn is None or conn.closed or conn.broken

    def _reconnect(self, cause: Exception) -> None:
        """Replace this thread's lost connection, waiting a bounded time for the server."""
        lost = getattr(self._local, "conn", None)
        self._local.conn = None
        if lost is not None:
            with self._lock:
                if lost in self._opened:
                    self._opened.remove(lost)
            lost.close()
        window = self.reconnect_s
        deadline = time.monotonic() + window
        while True:
            try:
                self._local.conn = self._open()
                return
            except HeadwaterException as exc:
                if time.monotonic() >= deadline:
                    raise MetadataError(
                        f"lost the connection to the metadata database {redact(self.url)} "
                        f"({_first_line(cause)}) and could not reconnect within {window:g} s "
                        f"({_first_line(exc.__cause__ or exc)})",
                        fix=f"check that the server is up and reachable (to wait longer, set "
                        f"{RECONNECT_ENV}); then `resume` the run if one failed",
                    ) from cause
            time.sleep(RECONNECT_PAUSE_S)

    def close(self) -> None:
        """Close every connection this process opened (any thread)."""
        with self._lock:
            opened, self._opened = self._opened, []
        if os.getpid() == self._pid:
            for conn in opened:
                conn.close()
        else:
            _INHERITED.extend(opened)  # the parent's sessions: freeing them would end them
        self._local = threading.local()

    def __del__(self) -> None:
        # A store dropped without close() still ends its sessions (in the process that opened
        # them only: a forked child's copies belong to the parent).
        try:
            self.close()
        except Exception:
            pass

    # -- opening ------------------------------------------------------------------------------

    def _open(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            if password_needs_quoting(self.url):  # the driver's error would quote a piece of it
                raise MetadataError(
                    f"cannot connect to the metadata database {redact(self.url)}: the password "
                    "in the URL holds a raw '@', '/', '?' or '#', so the URL is read wrongly",
                    fix="percent-encode those characters in the password (@ is %40, / is %2F, "
                    "? is %3F, # is %23), or keep the password in ~/.pgpass or PGPASSWORD",
                ) from None
            full = refused_connection(self.url, exc)
            if full is not None:
                raise full from exc
            raise MetadataError(
                redact(f"cannot connect to the metadata database {self.url}: {exc}".strip()),
                fix="check the URL given to --metadata / HEADWATER_METADATA and that the "
                "server is up",
            ) from exc
        with self._lock:
            self._opened.append(conn)
        bound_waits(conn, self.lock_timeout_s)
        if self.readonly:
            conn.execute(sql.SET_READONLY)
        else:
            _ensure_schema(conn, self.url)
            self._local.ready = True
        return conn

    def _schema_ready(self, conn: psycopg.Connection) -> bool:
        if getattr(self._local, "ready", False):
            return True
        version = _version(conn)
        if version == 0:
            return False
        _refuse_newer(version, self.url)
        if version < sql.SCHEMA_VERSION:
            self._upgrade_for_reader()
        self._local.ready = True
        return True

    def _upgrade_for_reader(self) -> None:
        """A reader met the schema of an older headwater: upgrade it on a session of its own
        (the migrations only add), so the reader's queries find the columns they name."""
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                _ensure_schema(conn, self.url)
        except psycopg.Error as exc:
            raise HeadwaterException(
                redact(f"the metadata database {self.url} was written by an older headwater "
                       f"and could not be upgraded ({exc})".strip()),
                fix="run any flow once with this headwater as a user allowed to alter its tables",
            ) from exc

    def _forget_after_fork(self) -> None:
        if os.getpid() == self._pid:
            return
        _INHERITED.extend(self._opened)
        self._opened = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()


def _version(conn: psycopg.Connection) -> int:
    """The schema version, 0 when there is no schema yet."""
    if not conn.execute(sql.HAS_VERSION_TABLE).fetchall()[0][0]:
        return 0
    rows = conn.execute(sql.GET_VERSION).fetchall()
    return int(rows[0][0]) if rows else 0


def _refuse_newer(version: int, url: str) -> None:
    if version > sql.SCHEMA_VERSION:
        raise HeadwaterException(
            f"the metadata database {redact(url)} has schema version {version}, newer than this "
            f"headwater understands ({sql.SCHEMA_VERSION})",
            fix="upgrade headwater",
        )


def _ensure_schema(conn: psycopg.Connection, url: str) -> None:
    """Create or upgrade the schema; safe when many processes open the database at once."""
    version = _version(conn)
    if version == sql.SCHEMA_VERSION:
        return
    _refuse_newer(version, url)
    with conn.transaction():
        conn.execute(sql.TAKE_SCHEMA_LOCK, (sql.SCHEMA_LOCK_KEY,))
        conn.execute(sql.CREATE_VERSION_TABLE)
        rows = conn.execute(sql.GET_VERSION).fetchall()
        version = int(rows[0][0]) if rows else 0  # another process may have done it meanwhile
        _refuse_newer(version, url)
        for step in range(version, sql.SCHEMA_VERSION):
            for statement in sql.MIGRATIONS[step]:
                conn.execute(statement)
        if rows:
            conn.execute(sql.SET_VERSION, (sql.SCHEMA_VERSION,))
        else:
            conn.execute(sql.INSERT_VERSION, (sql.SCHEMA_VERSION,))


def _reconnect_window() -> float:
    """``HEADWATER_METADATA_RECONNECT_S`` (0: never retry), else 60 s; read by the shared rule."""
    from headwater.env_numbers import env_seconds

    return env_seconds(RECONNECT_ENV, DEFAULT_RECONNECT_S, zero_ok=True, error=MetadataError)


def _first_line(exc: BaseException) -> str:
    """The first line of a driver's message, masked: a driver may echo its connection string."""
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])
