"""The metadata database: flows, runs, steps, tasks, attempts, artifacts and tags.

``open_metadata(url)`` picks a backend from the URL. Today that is SQLite (a path, or
``sqlite:///path``); a server database can be added behind :class:`MetadataStore` without the
scheduler or the client changing.

Run liveness: a run recorded as 'running' whose scheduler died reads as 'failed'
(``RunRow.live_status``); see :mod:`headwater.meta.liveness` for the two rules.
"""

from __future__ import annotations

from headwater.meta.base import MetadataStore
from headwater.meta.rows import AttemptRow, FlowRow, RunRow, StepRow, TaskRow

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
    """Open the metadata store at ``url`` (a SQLite path or ``sqlite:///path``).

    Readers pass ``readonly=True``: they never create the file and never take the write lock.
    Opening is cheap (connections are made on first use), so callers need not cache it hard.
    """
    from headwater.meta.sqlite import SQLiteMetadata

    scheme, sep, rest = url.partition("://")
    if not sep:
        return SQLiteMetadata(url, readonly=readonly)
    if scheme == "sqlite":
        return SQLiteMetadata(rest, readonly=readonly)  # sqlite:///abs/path -> /abs/path
    if scheme == "file":
        return SQLiteMetadata(rest, readonly=readonly)
    raise ValueError(
        f"no metadata backend for {url!r}: only SQLite paths are supported so far "
        "(set HEADWATER_METADATA to a file path, or leave it unset)"
    )
