"""Which metadata database and datastore the client reads, resolved once per process.

Nothing is resolved at import time: the first client call resolves :class:`Settings` (explicit
``metadata()`` choice, else ``HEADWATER_DATASTORE_ROOT``, else the nearest ``.headwater/``) and
keeps the result. ``metadata()`` switches it, like Metaflow's function of the same name; tests
call :func:`reset` so each one resolves afresh from its own environment.

The metadata store is opened read-only (WAL reader: it never waits for a running scheduler).
A writable handle is opened only when the user changes tags.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from headwater.meta import MetadataStore, open_metadata
from headwater.redaction import redact
from headwater.settings import (
    DEFAULT_DIRNAME,
    SPIN_FOLDER,
    Settings,
    nearest_local_root,
    spin_settings,
)


class ClientContext:
    """The resolved settings plus lazily opened metadata reader, writer and datastore."""

    def __init__(self, settings: Settings, *, store: Any = None) -> None:
        self.settings = settings
        self.meta: MetadataStore = open_metadata(settings.metadata_url, readonly=True)
        self._store = store
        self._owns_store = store is None  # one handed in is its owner's to close
        self._writer: MetadataStore | None = None

    @classmethod
    def over(cls, settings: Settings, *, meta: MetadataStore, store: Any) -> ClientContext:
        """A context reading through handles another reader already opened (the web UI's):
        nothing is opened, and :meth:`close` must not be called on it (they are not its own)."""
        context = cls.__new__(cls)
        context.settings, context.meta, context._store = settings, meta, store
        context._owns_store, context._writer = False, None
        return context

    def store(self) -> Any:
        """The DataStore holding artifact blobs and logs (opened on first value read)."""
        if self._store is None:
            from headwater.store import open_datastore

            self._store = open_datastore(self.settings.datastore_root)
        return self._store

    def writer(self) -> MetadataStore:
        """A writable metadata handle, for tag changes only."""
        if self._writer is None:
            self._writer = open_metadata(self.settings.metadata_url)
        return self._writer

    def close(self) -> None:
        """Close what this context opened: the metadata reader, the writer, the datastore."""
        self.meta.close()
        if self._writer is not None:
            self._writer.close()
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None


_current: ClientContext | None = None
# A context that holds for a block only (a client object bound to a store of its own).
_pinned: ContextVar[ClientContext | None] = ContextVar("headwater_client_pinned", default=None)


def current() -> ClientContext:
    """The process-wide context, resolved on first use (or the one :func:`pinned` holds)."""
    global _current
    held = _pinned.get()
    if held is not None:
        return held
    if _current is None:
        _current = ClientContext(Settings.resolve())
    return _current


def use(settings: Settings, *, store: Any = None) -> ClientContext:
    """Switch the client to ``settings`` (and optionally an already opened datastore)."""
    global _current
    reset()
    _current = ClientContext(settings, store=store)
    return _current


def ensure(settings: Settings) -> ClientContext:
    """Read ``settings`` from now on, keeping the open context if it already reads them.

    The Runner calls this so that ``executing_run.run`` reads the datastore its child wrote, even
    when the child ran in another directory or environment (Metaflow's Runner, too, switches the
    process-wide metadata to the run's).
    """
    if _current is not None and _current.settings == settings:
        return _current
    return use(settings)


@contextlib.contextmanager
def pinned(context: ClientContext) -> Iterator[ClientContext]:
    """Read ``context`` inside the block, leaving the process-wide choice as it was: what a
    client object bound to another store (a spun task) reads through."""
    token = _pinned.set(context)
    try:
        yield context
    finally:
        _pinned.reset(token)


def reset() -> None:
    """Forget the resolved context; the next client call resolves it again."""
    global _current
    if _current is not None:
        _current.close()
    _current = None


def settings_for(spec: str) -> Settings:
    """Settings for a ``metadata()`` argument.

    Accepted: ``"local"`` (the default resolution), ``"local@<dir>"`` or ``"<dir>"`` (a datastore
    root, or a folder holding ``.headwater/``), or a path to a metadata database file
    (``*.sqlite``, ``*.db``, ``sqlite:///...``) or a ``postgresql://`` URL, whose datastore root
    resolves as usual. ``"spin@<dir>"`` reads the tasks ``spin`` recorded for that datastore.
    """
    if spec.startswith(("postgresql://", "postgres://")):
        return Settings.resolve(metadata=spec)  # the datastore root resolves as usual
    if spec.startswith(("http://", "https://")) or spec.startswith("service@"):
        # Metaflow's client page shows metadata('https://.../mymetaflowservice'): without this
        # the URL was taken for a folder and the client silently read the local runs.
        raise ValueError(f"metadata({redact(spec)!r}): headwater has no Metaflow metadata "
                         "service client; its metadata is SQLite or PostgreSQL. Use "
                         "metadata('postgresql://USER@HOST/DB') for a shared store, or "
                         "metadata('local@<folder>') for a folder's runs")
    kind, sep, where = spec.partition("@")
    if sep and kind == "spin":  # what `spin` recorded beside that datastore's runs
        return spin_settings(settings_for(_spun_in(where or ".")), cwd=where or None)
    if sep and kind != "local":
        raise ValueError(f"unknown metadata provider {kind!r} in {redact(spec)!r}; "
                         "use 'local@<path>' (or 'spin@<path>' for spun tasks)")
    path = where if sep else spec
    if path in ("", "local"):
        return Settings.resolve()
    if path.startswith("sqlite://") or path.endswith((".sqlite", ".db")) or os.path.isfile(path):
        return Settings.resolve(metadata=path)
    nested = os.path.join(path, DEFAULT_DIRNAME)
    return Settings.resolve(datastore_root=nested if os.path.isdir(nested) else path)


def _spun_in(folder: str) -> str:
    """The datastore a ``spin`` started in ``folder`` recorded its tasks in: ``folder`` when it
    is a datastore root or holds ``.headwater/``, else the nearest ``.headwater/`` above it (where
    the spin, like any run started there, found its datastore; Metaflow's suite spins its flows
    from a subfolder and then calls ``inspect_spin`` on that subfolder)."""
    if any(os.path.exists(os.path.join(folder, name))
           for name in (DEFAULT_DIRNAME, SPIN_FOLDER, "meta.sqlite")):
        return folder
    found = nearest_local_root(folder)
    return found if os.path.isdir(found) else folder


def describe(settings: Settings) -> str:
    """What ``get_metadata()`` prints: ``local@<root>``, or ``sqlite@<file>`` if it lives apart."""
    if settings.metadata_url.startswith(("postgresql://", "postgres://")):
        return f"postgresql@{redact(settings.metadata_url)}"
    default = os.path.join(settings.datastore_root, "meta.sqlite")
    spun = os.path.join(settings.datastore_root, SPIN_FOLDER, "meta.sqlite")
    if os.path.normpath(settings.metadata_url) == os.path.normpath(spun):
        return f"spin@{settings.datastore_root}"
    if os.path.normpath(settings.metadata_url) == os.path.normpath(default):
        return f"local@{settings.datastore_root}"
    return f"sqlite@{redact(settings.metadata_url)}"

