"""The lines that point a notebook's client at the metadata and datastore this UI reads.

An artifact's "copy code" is pasted into Python anywhere: another folder, another machine's
notebook with the same shared store. Read by the client's own resolution (the nearest
``.headwater/`` of the notebook's folder, its environment) it found another datastore, or none,
and the pasted code failed with "no flow". So the code names where this UI reads, in the
client's public words:

- a local datastore with its database inside (the default): ``metadata("local@<root>")``;
- anything else (a remote root, a database file elsewhere, PostgreSQL): the root as
  ``HEADWATER_DATASTORE_ROOT`` before the import (the client reads it when ``metadata`` is
  called), then ``metadata(<database>)``.

A database URL's password is left out (the code is shown on the page and lands in notebooks);
the client then takes it from ``PGPASSWORD`` or ``~/.pgpass``, as a deployed task does.
"""

from __future__ import annotations

import json
import os

from headwater.redaction import redact, without_password
from headwater.settings import Settings

IMPORT = "from headwater import Task, metadata, namespace"


def _is_url(where: str) -> bool:
    return "://" in where


def _literal(text: str) -> str:
    """A Python string literal (JSON's string literals are Python's too)."""
    return json.dumps(text, ensure_ascii=False)


def client_setup(settings: Settings) -> str:
    """The import and the lines choosing this UI's metadata and datastore, one per line."""
    root = settings.datastore_root
    root = redact(root) if _is_url(root) else os.path.abspath(root)
    meta = settings.metadata_url
    if meta.startswith(("postgresql://", "postgres://")):
        database, note = without_password(meta), "  # its password: PGPASSWORD or ~/.pgpass"
    else:
        path = meta.partition("://")[2] if meta.startswith("sqlite://") else meta
        database, note = os.path.abspath(path), ""
        if not _is_url(root) and database == os.path.join(root, "meta.sqlite"):
            return f"{IMPORT}\nmetadata({_literal('local@' + root)})  # the datastore the UI reads"
    return ("import os\n"
            f"os.environ[\"HEADWATER_DATASTORE_ROOT\"] = {_literal(root)}  # the UI's datastore\n"
            f"{IMPORT}\nmetadata({_literal(database)}){note}")
