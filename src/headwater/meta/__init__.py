"""The metadata database: flows, runs, steps, tasks, attempts, artifacts and tags.

``open_metadata(url)`` picks a backend from the URL: SQLite (a path, or ``sqlite:///path``), the
embedded default, or PostgreSQL (``postgresql://user@host:port/db``, needs
``pip install 'headwater[postgres]'``), shared by a team. Both sit behind :class:`MetadataStore`
with the same rows and guarantees, so the scheduler and the client do not change.

Run liveness: a run recorded as 'running' whose scheduler died reads as 'failed'
(``RunRow.live_status``); see :mod:`headwater.meta.liveness` for the two rules.
"""

from __future__ import annotations

from headwater.meta.base import MetadataStore
from headwater.meta.rows import AttemptRow, FlowRow, RunRow, StepRow, TaskRow

# libpq's "host=db user=hw password=..." form: one of its keywords, then '='.
_KEY_VALUE_DSN = r"^\s*(host|hostaddr|port|dbname|user|password|sslmode|service|connect_timeout)\s*="


def _is_key_value_dsn(url: str) -> bool:
    """Checked only for a setting with an '=' in it: a plain path compiles no pattern."""
    if "://" in url or "=" not in url:
        return False
    import re

    return re.match(_KEY_VALUE_DSN, url, re.I) is not None

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
    ``postgresql://user@host:port/db`` (``postgres://`` too), or the scheme of a metadata backend
    a package registered (see :mod:`headwater.backends`).

    Readers pass ``readonly=True``: they never create the file and never take the write lock.
    Opening is cheap (connections are made on first use), so callers need not cache it hard.
    The store is a context manager: ``with open_metadata(url) as meta: ...`` closes it.
    """
    from headwater import backends

    if url == "service":  # Metaflow's provider name, else taken for a SQLite file of that name
        raise _metadata_service(url)
    if _is_key_value_dsn(url):
        from headwater.exceptions import HeadwaterException
        from headwater.redaction import redact

        raise HeadwaterException(
            f"the metadata setting {redact(url)!r} is a key=value connection string, which "
            "headwater does not take (it would be read as a SQLite file name)",
            fix="give a URL instead: postgresql://USER@HOST:PORT/DB (a password is best kept "
            "in ~/.pgpass or PGPASSWORD)",
        )
    try:
        backend, scheme = backends.for_url("metadata", url)
    except backends.UnknownBackendError:
        from headwater.redaction import redact

        if url.startswith(("http://", "https://")):
            raise _metadata_service(url) from None
        raise ValueError(
            f"no metadata backend for {redact(url)!r}: use a SQLite file path or a postgresql:// URL "
            "(set HEADWATER_METADATA, or leave it unset)"
        ) from None
    if scheme in ("sqlite", "file"):
        url = url.partition("://")[2]  # sqlite:///abs/path -> /abs/path
    return backend.load()(url, readonly=readonly)


def _metadata_service(url: str) -> Exception:
    """The error for Metaflow's metadata service (``--metadata service`` or its URL), which no
    backend here serves: a SQLite file called ``service`` was made in the current folder before,
    and the run recorded there."""
    from headwater.exceptions import MetadataError
    from headwater.redaction import redact

    return MetadataError(
        f"the metadata setting {redact(url)!r} names Metaflow's metadata service, which "
        "headwater does not talk to: its metadata is a SQLite file or a PostgreSQL database",
        fix="leave --metadata out (or say local) for this folder's runs, or give "
        "postgresql://USER@HOST:PORT/DB for a store several people share",
    )
