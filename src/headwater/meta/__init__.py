"""The metadata database: flows, runs, steps, tasks, attempts, artifacts and tags.

``open_metadata(url)`` picks a backend from the URL: SQLite (a path, or ``sqlite:///path``), the
embedded default, or PostgreSQL (``postgresql://user@host:port/db``, needs
``pip install 'headwater[postgres]'``), shared by a team. Both sit behind :class:`MetadataStore`
with the same rows and guarantees, so the scheduler and the client do not change.

Run liveness: a run recorded as 'running' whose scheduler died reads as 'failed'
(``RunRow.live_status``); see :mod:`headwater.meta.liveness` for the two rules.
"""

from __future__ import annotations

import re

from headwater.meta.base import MetadataStore
from headwater.meta.rows import AttemptRow, FlowRow, RunRow, StepRow, TaskRow

# libpq's "host=db user=hw password=..." form: a known keyword, '=', and no path separator before.
_KEY_VALUE_DSN = re.compile(
    r"^\s*(host|hostaddr|port|dbname|user|password|sslmode|service|connect_timeout)\s*=", re.I
)

__all__ = [
    "AttemptRow",
    "FlowRow",
    "MetadataStore",
    "RunRow",
    "StepRow",
    "TaskRow",
    "open_metadata",
]


def open_metadata(url: str, *, readonly: bool = False) -> MetadataStore:
    """Open the metadata store at ``url``: a SQLite path, ``sqlite:///path``, or
    ``postgresql://user@host:port/db`` (``postgres://`` too).

    Readers pass ``readonly=True``: they never create the file and never take the write lock.
    Opening is cheap (connections are made on first use), so callers need not cache it hard.
    """
    from headwater.meta.sqlite import SQLiteMetadata

    scheme, sep, rest = url.partition("://")
    if not sep and _KEY_VALUE_DSN.match(url):
        from headwater.exceptions import HeadwaterException
        from headwater.redaction import redact

        raise HeadwaterException(
            f"the metadata setting {redact(url)!r} is a key=value connection string, which "
            "headwater does not take (it would be read as a SQLite file name)",
            fix="give a URL instead: postgresql://USER@HOST:PORT/DB (a password is best kept "
            "in ~/.pgpass or PGPASSWORD)",
        )
    if not sep:
        return SQLiteMetadata(url, readonly=readonly)
    if scheme == "sqlite":
        return SQLiteMetadata(rest, readonly=readonly)  # sqlite:///abs/path -> /abs/path
    if scheme == "file":
        return SQLiteMetadata(rest, readonly=readonly)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, readonly=readonly)
    from headwater.redaction import redact

    raise ValueError(
        f"no metadata backend for {redact(url)!r}: use a SQLite file path or a postgresql:// URL "
        "(set HEADWATER_METADATA, or leave it unset)"
    )


def _postgres(url: str, *, readonly: bool) -> MetadataStore:
    try:
        from headwater.meta.postgres import PostgresMetadata
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        from headwater.exceptions import HeadwaterException

        raise HeadwaterException(
            "a postgresql:// metadata URL needs the psycopg driver, which is not installed",
            fix="pip install 'headwater[postgres]'",
        ) from None
    return PostgresMetadata(url, readonly=readonly)
