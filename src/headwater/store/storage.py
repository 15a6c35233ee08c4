"""Where blob bytes live: the five-method interface every datastore backend fills.

Keys are relative, ``/``-separated paths (``blobs/ab/ab12...``); the content-addressed layout is
chosen once, in :mod:`headwater.store.datastore`, so a local root and a bucket hold the same tree
(a local root can be copied to S3 as is).

The backends, one module each, are found through :mod:`headwater.backends` by the root's URL
scheme and imported only when chosen:

- ``local_storage.LocalStorage`` talks to the OS directly: no fsspec import, memory-mapped reads.
- ``fsspec_storage.FsspecStorage`` serves every other fsspec URL (``gs://``, ``memory://``...).
- ``s3_storage.S3Storage`` (``s3://``) is an FsspecStorage whose large transfers headwater shapes
  itself: multipart uploads and ranged downloads with parts in flight side by side.

Every backend raises :class:`FileNotFoundError` from :meth:`Storage.read` for a missing key.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager

from headwater.exceptions import StoreError

Part = bytes | memoryview
Stat = tuple[str, int, float]
"""``(key, size in bytes, modification time as a Unix time)``."""

TEMP_PREFIX = ".tmp-"
"""Names of files being written start with this; readers and listings skip them."""


class Storage(ABC):
    """Minimal blob storage: five methods, each cheap to implement on an object store."""

    root: str
    """Where the backend keeps its blobs, as the datastore root named it (a folder or a URL)."""

    @abstractmethod
    def exists_many(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` that exist, found in one batch (never a round trip per key)."""

    @abstractmethod
    def put(self, key: str, parts: Sequence[Part]) -> None:
        """Store ``b"".join(parts)`` under ``key`` atomically: readers see all of it or nothing."""

    @abstractmethod
    def read(self, key: str) -> memoryview:
        """The bytes under ``key`` as writable memory private to the caller."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes of ``key``, or ``None`` if it does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted; unfinished writes are not listed."""

    def delete(self, key: str) -> None:  # noqa: B027 - optional: only scratch keys are deleted
        """Remove ``key`` if it exists. Blobs are never deleted; this is for scratch keys that
        stand in for something until it is final (a running task's log, see
        :mod:`headwater.runtime.live_logs`). The default keeps them."""

    def check_writable(self) -> None:  # noqa: B027 - optional hook, a no-op where writes can't fail early
        """Raise StoreError now if writes will fail (a remote store checks once, at launch)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        """Release what the backend holds (connections, threads); the default holds nothing."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove leftovers of writers killed mid-write; return how many were removed.

        Backends whose writes are atomic by themselves leave nothing behind, hence the no-op.
        """
        return 0

    # -- what garbage collection needs (see headwater.maintenance.sweep) -----------------------

    def touch(self, key: str) -> bool:
        """Mark ``key`` as just used, as a fresh write would (its modification time becomes now),
        so garbage collection's grace protects a blob a writer found already there; False if it
        does not exist. The default only checks existence: such a backend cannot be collected
        (:meth:`scan` refuses)."""
        return bool(self.exists_many([key]))

    def scan(self, prefix: str) -> Iterator[Stat]:
        """``(key, size, modified)`` of every key starting with ``prefix`` (unfinished writes
        excluded), in no particular order: what garbage collection sweeps."""
        raise StoreError(
            f"the datastore {self.root} cannot be garbage collected: its backend "
            f"({type(self).__name__}) cannot refresh a blob's modification time",
            fix="collect garbage on a local folder or an S3 bucket",
        )

    def delete_unless_newer(self, key: str, cutoff: float) -> int | None:
        """Delete ``key`` unless it was modified at or after ``cutoff`` (a writer touched it
        since it was scanned); return the bytes freed, or None when nothing was deleted."""
        raise StoreError(f"the datastore {self.root} cannot delete blobs")

    def delete_many_unless_newer(self, keys: Sequence[str], cutoff: float) -> list[int | None]:
        """:meth:`delete_unless_newer` for each of ``keys`` (a remote backend runs them side by
        side); the bytes freed by each, None where nothing was deleted."""
        return [self.delete_unless_newer(key, cutoff) for key in keys]

    def recover_deletions(self, cutoff: float, keep: Container[str]) -> int:
        """Finish what a killed collector left half done: put back what it was deleting if the
        file's name is in ``keep`` or it was modified at or after ``cutoff``, delete it
        otherwise; return how many keys were settled."""
        return 0


def _check_key(key: str) -> list[str]:
    parts = key.split("/")
    if not key or any(not p or p in (".", "..") or p.startswith(TEMP_PREFIX) for p in parts):
        raise StoreError(f"invalid storage key {key!r}")
    return parts


def _is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def _temp_name(name: str) -> str:
    return f"{TEMP_PREFIX}{name}.{os.getpid()}.{os.urandom(4).hex()}"


def store_message(exc: BaseException) -> str:
    """What the store said, as it said it: ``NoSuchBucket: The specified bucket does not exist``
    for an S3 error (s3fs keeps the server's reply as the cause), ``ContainerNotFound: The
    specified container does not exist.`` for Azure's, else the error's own text."""
    for err in (exc, exc.__cause__, exc.__context__):
        response = getattr(err, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            code, message = response["Error"].get("Code"), response["Error"].get("Message")
            if code or message:
                return ": ".join(str(x) for x in (code, message) if x)
        code, reason = getattr(err, "error_code", None), getattr(err, "reason", None)
        if isinstance(code, str) and isinstance(reason, str):  # Azure's reply, without its XML
            return f"{code}: {reason}"
    if isinstance(exc, FileNotFoundError) and not exc.strerror:  # gcsfs: the URL it asked for
        return f"not found: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


# Driver errors that mean the server did not answer in time, or could not be reached, by class
# name (botocore's, aiohttp's, fsspec's; the drivers are not imported here): each becomes an
# OSError with the errno the fix is chosen by (``store.datastore._write_fix``).
_TIMED_OUT = frozenset({"ReadTimeoutError", "ConnectTimeoutError", "FSTimeoutError",
                        "TimeoutError", "ServerTimeoutError", "timeout"})
_UNREACHABLE = frozenset({"EndpointConnectionError", "ConnectionClosedError",
                          "ClientConnectorError", "ServerDisconnectedError",
                          "ConnectionRefusedError", "ConnectionResetError"})


def _errno_of(exc: BaseException) -> int | None:
    import errno

    for err in (exc, exc.__cause__, exc.__context__):
        for cls in type(err).__mro__ if err is not None else ():
            if cls.__name__ in _TIMED_OUT:
                return errno.ETIMEDOUT
            if cls.__name__ in _UNREACHABLE:
                return errno.ECONNREFUSED
    return None


@contextmanager
def store_errors() -> Iterator[None]:
    """Let OSError (what fsspec drivers raise for a refusal) through; turn any other driver error
    (a connection that failed, a malformed reply) into one, keeping the driver's message. A
    server that did not answer in time, or could not be reached, keeps the errno that says so
    (ETIMEDOUT, ECONNREFUSED), so the fix can name it."""
    try:
        yield
    except StoreError:
        raise
    except OSError as exc:
        code = None if exc.errno else _errno_of(exc)
        if code is None:
            raise
        raise OSError(code, _said(exc, code)) from exc
    except Exception as exc:  # noqa: BLE001 - any driver error; the message is the store's own
        code = _errno_of(exc)
        if code is None:
            raise OSError(store_message(exc)) from exc
        raise OSError(code, _said(exc, code)) from exc


def _said(exc: BaseException, code: int) -> str:
    """The driver's message, or what the errno means when it said nothing (a bare timeout)."""
    said = store_message(exc)
    return said if said.strip() else f"{os.strerror(code)} ({type(exc).__name__})"


def open_storage(root: str) -> Storage:
    """The storage backend serving ``root``: a path or ``file://`` is a local folder, ``s3://``
    goes to S3, any other URL to fsspec (or to a backend a package registered for its scheme)."""
    from headwater import backends

    backend, scheme = backends.for_url("datastore", root)
    if scheme == "file":
        root = root[len("file://") :]
    return backend.load()(root)


# Names that lived here before each backend got a module of its own; resolved on first use, so
# importing this interface never imports a backend (nor fsspec, nor asyncio).
_MOVED = {
    "LocalStorage": "headwater.store.local_storage",
    "MMAP_MIN": "headwater.store.local_storage",
    "FsspecStorage": "headwater.store.fsspec_storage",
    "S3Storage": "headwater.store.s3_storage",
    "S3_PART_SIZE": "headwater.store.s3_storage",
    "S3_MAX_PARTS": "headwater.store.s3_storage",
    "S3_CONCURRENCY": "headwater.store.s3_storage",
    "_bytes_view": "headwater.store.s3_storage",
    "_window": "headwater.store.s3_storage",
}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
