"""Where blob bytes live: a five-method interface and its two backends.

Keys are relative, ``/``-separated paths (``blobs/ab/ab12...``); the content-addressed layout is
chosen once, in :mod:`headwater.store.datastore`, so a local root and a bucket hold the same tree
(a local root can be copied to S3 as is).

- :class:`LocalStorage` talks to the OS directly: no fsspec import, memory-mapped reads.
- :class:`FsspecStorage` serves every other fsspec URL (``s3://``, ``gs://``, ``memory://``...).

Every backend raises :class:`FileNotFoundError` from :meth:`Storage.read` for a missing key.
"""

from __future__ import annotations

import mmap
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from headwater.exceptions import StoreError

Part = bytes | memoryview

TEMP_PREFIX = ".tmp-"
"""Names of files being written start with this; readers and listings skip them."""

MMAP_MIN = 64 * 1024
"""Smaller files are read into a private buffer: mapping costs two syscalls and page faults."""

_ATOMIC_PUT_PROTOCOLS = frozenset({"memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
"""Backends whose single-object write is all-or-nothing; others write a temp name, then move."""

_REMOTE_CHECK_THREADS = 16


class Storage(ABC):
    """Minimal blob storage: five methods, each cheap to implement on an object store."""

    root: str

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

    def check_writable(self) -> None:  # noqa: B027 - optional hook, a no-op where writes can't fail early
        """Raise StoreError now if writes will fail (a remote store checks once, at launch)."""

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove leftovers of writers killed mid-write; return how many were removed.

        Backends whose writes are atomic by themselves leave nothing behind, hence the no-op.
        """
        return 0


def _check_key(key: str) -> list[str]:
    parts = key.split("/")
    if not key or any(not p or p in (".", "..") or p.startswith(TEMP_PREFIX) for p in parts):
        raise StoreError(f"invalid storage key {key!r}")
    return parts


def _is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def _temp_name(name: str) -> str:
    return f"{TEMP_PREFIX}{name}.{os.getpid()}.{secrets.token_hex(4)}"


class LocalStorage(Storage):
    """Blobs in a local folder.

    Writes go to a temp file in the target folder and are renamed into place (``os.replace`` is
    atomic on POSIX and Windows). Folders are created on the first write into them.

    Writes are not fsynced by default. A killed process cannot lose data already handed to the
    kernel, and a machine crash that loses page-cache data leaves a file whose content no longer
    matches its hash, which every verified read detects. Set ``HEADWATER_FSYNC=1`` (or pass
    ``fsync=True``) when the files must survive power loss, e.g. on a shared network filesystem.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool | None = None) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.fsync = os.environ.get("HEADWATER_FSYNC") == "1" if fsync is None else fsync

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *_check_key(key))

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        # A stat is ~1 us on a local disk: checking one by one is already the batch.
        return {key for key in keys if os.path.isfile(self._path(key))}

    def put(self, key: str, parts: Sequence[Part]) -> None:
        path = self._path(key)
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, _temp_name(name))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        if self.fsync:
            _fsync_dir(folder)

    def read(self, key: str) -> memoryview:
        """Memory-map the file copy-on-write: zero-copy, writable, and private to this process."""
        with open(self._path(key), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size >= MMAP_MIN:
                return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))
            buf = bytearray(size)
            got = f.readinto(buf)
            return memoryview(buf)[:got]

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self._path(key)).st_size
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        top = os.path.join(self.root, *_check_key(folder)) if folder else self.root
        found = []
        for dirpath, _, files in os.walk(top):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            base = "" if rel == "." else rel + "/"
            found += [base + f for f in files if not _is_temp_name(f)]
        return sorted(k for k in found if k.startswith(prefix))

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for dirpath, _, files in os.walk(self.root):
            for name in filter(_is_temp_name, files):
                path = os.path.join(dirpath, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass  # its writer finished or another cleaner got there first
        return removed


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(folder: str) -> None:
    """Persist a rename: on POSIX the directory entry needs its own fsync."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsspecStorage(Storage):
    """Blobs under any fsspec URL. fsspec (and its cloud driver) is imported only here."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.root = url.rstrip("/")
        self._options = storage_options
        self._fs: Any = None
        self._fs_pid = 0
        fs = self.fs
        self._base = fs._strip_protocol(self.root).rstrip("/")
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self._atomic_put = any(p in _ATOMIC_PUT_PROTOCOLS for p in protocols)

    @property
    def fs(self) -> Any:
        """The filesystem, made again in a forked task: network clients (and their event loop
        threads) do not survive fork(), so each process needs its own."""
        if self._fs is None or self._fs_pid != os.getpid():
            import fsspec  # deferred: local runs never pay for it

            self._fs, _ = fsspec.core.url_to_fs(self.root, skip_instance_cache=True,
                                                **self._options)
            self._fs_pid = os.getpid()
        return self._fs

    def check_writable(self) -> None:
        """Write and delete a tiny probe, so a missing bucket, wrong credentials or an unreachable
        endpoint give one clear error before any task runs, not one per task."""
        probe = self._path(f"probes/{secrets.token_hex(8)}")
        try:
            self.fs.pipe_file(probe, b"headwater write probe")
            self.fs.rm_file(probe)
        except Exception as err:  # any driver error: the message is the store's own
            raise StoreError(
                f"the datastore root {self.root} cannot be written: {type(err).__name__}: {err}",
                fix="check that the bucket exists, the credentials (AWS_ACCESS_KEY_ID, ...) and "
                "the endpoint (AWS_ENDPOINT_URL for S3-compatible servers)",
            ) from None

    def _path(self, key: str) -> str:
        return "/".join((self._base, *_check_key(key)))

    def _key(self, path: str) -> str:
        path = self.fs._strip_protocol(path)
        return path[len(self._base) :].lstrip("/")

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        unique = list(dict.fromkeys(keys))
        if len(unique) <= 1:
            return {k for k in unique if self.fs.isfile(self._path(k))}
        # Existence checks are independent round trips: run them side by side.
        with ThreadPoolExecutor(min(_REMOTE_CHECK_THREADS, len(unique))) as pool:
            found = pool.map(lambda k: self.fs.isfile(self._path(k)), unique)
            return {k for k, ok in zip(unique, found, strict=True) if ok}

    def put(self, key: str, parts: Sequence[Part]) -> None:
        # One whole-object write is what makes a remote put atomic; joining costs a memory copy,
        # which is cheap next to the upload.
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        path = self._path(key)
        if self._atomic_put:
            self.fs.pipe_file(path, bytes(data) if isinstance(data, memoryview) else data)
            return
        folder, _, name = path.rpartition("/")
        tmp = f"{folder}/{_temp_name(name)}"
        self.fs.makedirs(folder, exist_ok=True)
        self.fs.pipe_file(tmp, bytes(data))
        try:
            self.fs.mv(tmp, path)
        except BaseException:
            self.fs.rm_file(tmp)
            raise

    def read(self, key: str) -> memoryview:
        """Download the object into a private writable buffer (same contract as a local map)."""
        return memoryview(bytearray(self.fs.cat_file(self._path(key))))

    def size(self, key: str) -> int | None:
        try:
            return int(self.fs.size(self._path(key)))
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        top = "/".join((self._base, *_check_key(folder))) if folder else self._base
        try:
            paths = self.fs.find(top)
        except FileNotFoundError:
            return []
        keys = (self._key(p) for p in paths)
        return sorted(
            k for k in keys if k.startswith(prefix) and not _is_temp_name(k.rpartition("/")[2])
        )

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        if self._atomic_put:
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.fs.find(self._base):
            if _is_temp_name(path.rpartition("/")[2]) and _mtime(self.fs, path) < cutoff:
                self.fs.rm_file(path)
                removed += 1
        return removed


def _mtime(fs: Any, path: str) -> float:
    try:
        return fs.modified(path).timestamp()
    except (NotImplementedError, FileNotFoundError):
        return float("inf")  # unknown age: leave it alone


def open_storage(root: str) -> Storage:
    """A local folder (a path or ``file://``) gets :class:`LocalStorage`; any URL fsspec knows
    gets :class:`FsspecStorage`."""
    if root.startswith("file://"):
        return LocalStorage(root[len("file://") :])
    if "://" in root:
        return FsspecStorage(root)
    return LocalStorage(root)
