"""What a PostgreSQL metadata store waits for, how long, and what it says when a wait is over.

PostgreSQL waits for a lock for ever unless told otherwise, so a client holding one (a ``psql``
session left in an open transaction, a long ``ALTER TABLE``) would hang a run without a word.
Every session of the store therefore sets ``lock_timeout``; the server's own limits
(``statement_timeout``, ``max_connections``) are left as the administrator set them, but
reaching one is named in its own words, with the fix, instead of the driver's one line.
"""

from __future__ import annotations

from typing import Any

import psycopg

from headwater.exceptions import MetadataError
from headwater.redaction import redact

LOCK_TIMEOUT_ENV = "HEADWATER_METADATA_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 30.0
"""As long as SQLite's busy timeout: a write the run needs waits that long for a lock."""

MAX_HOLDERS_SHOWN = 5

_HOLDERS = """
    SELECT DISTINCT a.pid, a.usename, a.application_name, a.state,
           left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80)
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.granted AND l.locktype IN ('relation', 'transactionid', 'tuple', 'advisory')
      AND a.datname = current_database() AND a.pid <> pg_backend_pid()
      AND a.xact_start IS NOT NULL
    ORDER BY a.pid LIMIT %s
"""


def lock_timeout_s() -> float:
    """``HEADWATER_METADATA_LOCK_TIMEOUT_S`` (0: wait for ever, PostgreSQL's own default), else
    30 s; read by the shared rule, when the database is opened."""
    from headwater.env_numbers import env_seconds

    return env_seconds(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S, zero_ok=True,
                       error=MetadataError)


def bound_waits(conn: psycopg.Connection, timeout_s: float) -> None:
    """Set this session's ``lock_timeout`` (one statement, when the connection is opened)."""
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{round(timeout_s * 1000)}ms",))


def refused_connection(url: str, exc: psycopg.Error) -> MetadataError | None:
    """The error for a server that has no connection slot left, or None for another refusal."""
    said = str(exc)
    if "too many clients" not in said and "connection slots are reserved" not in said:
        return None
    return MetadataError(
        f"cannot connect to the metadata database {redact(url)}: the server has no connection "
        f"left for this client (max_connections reached: {_driver_line(exc)})",
        fix="close clients that need not be connected (SELECT usename, application_name, "
        "state FROM pg_stat_activity lists them), raise max_connections in the server's "
        "postgresql.conf (a restart), or put a pooler such as PgBouncer in front; then run "
        "again, or `resume` the run that failed",
    )


def failed(url: str, exc: psycopg.OperationalError, conn: psycopg.Connection | None, *,
           mid_transaction: bool, lock_timeout_s: float) -> MetadataError:
    """The error for a statement the server failed: a lock waited for too long, the server's
    statement timeout, or any other failure (a connection lost mid-write, a full disk)."""
    where = f"the metadata database {redact(url)}"
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return MetadataError(
            f"{where}: waited more than {lock_timeout_s:g} s for a lock another client holds"
            f"{_holders(conn)}",
            fix="end that client's transaction (COMMIT or ROLLBACK in its session, or SELECT "
            "pg_terminate_backend(PID)), or wait longer with "
            f"{LOCK_TIMEOUT_ENV}; then `resume` the run if one failed: what was recorded is kept",
        )
    if isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in str(exc):
        return MetadataError(
            f"{where}: a statement ran longer than the server's statement_timeout "
            f"({_setting(conn, 'statement_timeout')}) and was cancelled{_holders(conn)}",
            fix="raise statement_timeout for headwater's role or database (ALTER ROLE ... SET "
            "statement_timeout = '5min'), or end the transaction holding it up; then "
            "`resume` the run if one failed: what was recorded is kept",
        )
    when = " in the middle of a write" if mid_transaction else ""
    return MetadataError(
        f"{where} failed{when}: {_driver_line(exc)}",
        fix="check the server (its log says why); then `resume` the run if one failed",
    )


def _holders(conn: psycopg.Connection | None) -> str:
    """``; sessions holding locks: pid 123 (alice, psql, idle in transaction: UPDATE ...)``,
    asked of the server (best effort: empty when it cannot be asked)."""
    if conn is None:
        return ""
    try:
        rows: list[Any] = conn.execute(_HOLDERS, (MAX_HOLDERS_SHOWN,)).fetchall()
    except psycopg.Error:
        return ""
    if not rows:
        return ""
    shown = [f"pid {pid} ({', '.join(str(x) for x in (user, app or None, state, query) if x)})"
             for pid, user, app, state, query in rows]
    return "; sessions holding locks there now: " + "; ".join(redact(s) for s in shown)


def _setting(conn: psycopg.Connection | None, name: str) -> str:
    if conn is None:
        return "see SHOW " + name
    try:
        return str(conn.execute("SELECT current_setting(%s)", (name,)).fetchall()[0][0])
    except psycopg.Error:
        return "see SHOW " + name


def _driver_line(exc: BaseException) -> str:
    """The first line of a driver's message, masked: a driver may echo its connection string."""
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])
