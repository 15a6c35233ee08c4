"""Where blob bytes live: a five-method interface and its two backends.

Keys are relative, ``/``-separated paths (``blobs/ab/ab12...``); the content-addressed layout is
chosen once, in :mod:`headwater.store.datastore`, so a local root and a bucket hold the same tree
(a local root can be copied to S3 as is).

- :class:`LocalStorage` talks to the OS directly: no fsspec import, memory-mapped reads.
- :class:`FsspecStorage` serves every other fsspec URL (``gs://``, ``az://``, ``memory://``...).
- :class:`S3Storage` (``s3://``) is an FsspecStorage whose large transfers headwater shapes itself:
  multipart uploads and ranged downloads with parts in flight side by side.

Every backend raises :class:`FileNotFoundError` from :meth:`Storage.read` for a missing key.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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

S3_PART_SIZE = 16 * 2**20
"""Bytes per part of a multipart upload or ranged download (S3 wants at least 5 MiB per part)."""

S3_MAX_PARTS = 10_000
"""S3's limit on the parts of one upload; larger blobs get larger parts."""

S3_CONCURRENCY = 8
"""Parts (or ranges) of one blob in flight at once; each holds one part's bytes in memory."""

_BODY_READ_TRIES = 3


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
                f"the datastore root {self.root} cannot be written: {self._refusal(err)}",
                fix="check that the bucket exists, the credentials (AWS_ACCESS_KEY_ID, ...) and "
                "the endpoint (AWS_ENDPOINT_URL for S3-compatible servers)",
            ) from None

    def _refusal(self, err: Exception) -> str:
        """What to say about a write the store refused: its own message."""
        return store_message(err)

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
        # which is cheap next to the upload (S3Storage sends large blobs in parts instead).
        path = self._path(key)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        with store_errors():
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
        path = self._path(key)
        with store_errors():
            return memoryview(bytearray(self.fs.cat_file(path)))

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


class S3Storage(FsspecStorage):
    """Blobs in S3 or an S3-compatible server (MinIO, SeaweedFS, ...) through s3fs.

    Small blobs take one request each way. A blob of two parts (:data:`S3_PART_SIZE`) or more goes
    up as a multipart upload, :data:`S3_CONCURRENCY` parts in flight at once, each part copied
    out of the caller's buffers just before it is sent: the blob is never joined into one more
    copy. The object appears only when the upload is completed; an upload that fails is aborted,
    and :meth:`cleanup_temp` aborts those a killed writer left behind. A read asks for the first
    part's range, which tells the size (a small blob is then read in full); the other ranges
    come side by side, straight into the one buffer handed back.
    """

    def __init__(self, url: str, *, part_size: int = S3_PART_SIZE,
                 concurrency: int = S3_CONCURRENCY, **storage_options: Any) -> None:
        super().__init__(url, **storage_options)
        self.part_size = part_size
        self.concurrency = concurrency
        self.multipart_min = 2 * part_size
        """Blobs at least this large go up in parts and come down in parallel ranges."""

    def _run(self, coro: Awaitable[Any]) -> Any:
        """Run ``coro`` on the filesystem's event loop (its own thread) and wait for it."""
        from fsspec.asyn import sync

        async def run() -> Any:
            return await coro

        return sync(self.fs.loop, run)

    def _split(self, key: str) -> tuple[str, str, str]:
        """``(path, bucket, object key)`` of a storage key."""
        path = self._path(key)
        bucket, name, _ = self.fs.split_path(path)
        return path, bucket, name

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        """One HEAD per key, all of them side by side in a single call."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return set()
        gate = asyncio.Semaphore(_REMOTE_CHECK_THREADS)

        async def exists(key: str) -> bool:
            _, bucket, name = self._split(key)
            async with gate:
                try:
                    await self.fs._call_s3("head_object", Bucket=bucket, Key=name)
                except FileNotFoundError:
                    return False
            return True

        async def check_all() -> list[bool]:
            return await asyncio.gather(*(exists(k) for k in unique))

        with store_errors():
            found = self._run(check_all())
        return {k for k, ok in zip(unique, found, strict=True) if ok}

    def put(self, key: str, parts: Sequence[Part]) -> None:
        views = [_bytes_view(p) for p in parts]
        size = sum(v.nbytes for v in views)
        path, bucket, name = self._split(key)
        try:
            if size < self.multipart_min:
                super().put(key, parts)
                return
            with store_errors():
                self._run(self._put_multipart(bucket, name, views, size))
        except OSError as err:
            said = self._refusal(err)
            if said != store_message(err):
                raise OSError(said) from err
            raise
        self.fs.invalidate_cache(path)

    def _refusal(self, err: Exception) -> str:
        """The store's message, and whether the bucket is missing when the message does not say
        so itself. Servers differ in what they answer a write to a missing bucket (AWS and moto:
        NoSuchBucket; SeaweedFS: AccessDenied), so ask the bucket (one request, failures only)."""
        said = store_message(err)
        if "NoSuchBucket" in said:
            return said
        bucket = self.fs.split_path(self._base)[0]
        try:
            self.fs.call_s3("head_bucket", Bucket=bucket)
        except FileNotFoundError:
            return f"{said} (the bucket {bucket} does not exist)"
        except Exception:  # noqa: BLE001 - no better explanation: keep the store's own
            return said
        return said

    async def _put_multipart(self, bucket: str, name: str, views: list[memoryview],
                             size: int) -> None:
        call = self.fs._call_s3
        part_size = max(self.part_size, -(-size // S3_MAX_PARTS))
        started = await call("create_multipart_upload", Bucket=bucket, Key=name)
        upload = {"Bucket": bucket, "Key": name, "UploadId": started["UploadId"]}
        gate = asyncio.Semaphore(self.concurrency)

        async def send(number: int, start: int) -> dict[str, Any]:
            async with gate:  # copy a part only when its turn comes: memory stays bounded
                body = _window(views, start, part_size)
                sent = await call("upload_part", PartNumber=number, Body=body, **upload)
            return {"PartNumber": number, "ETag": sent["ETag"]}

        try:
            done = await _gather_or_cancel(
                [send(n, start) for n, start in enumerate(range(0, size, part_size), 1)])
            await call("complete_multipart_upload", MultipartUpload={"Parts": done}, **upload)
        except BaseException:
            try:  # nothing was visible yet; do not leave the parts behind either
                await call("abort_multipart_upload", **upload)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass  # cleanup_temp aborts it later
            raise

    def read(self, key: str) -> memoryview:
        path, bucket, name = self._split(key)
        with store_errors():
            return memoryview(self._run(self._read(path, bucket, name)))

    async def _read(self, path: str, bucket: str, name: str) -> bytearray:
        """The first part's range, which tells the size; then the other parts' side by side."""
        import aiohttp  # s3fs's transport, present wherever s3fs is

        call = self.fs._call_s3

        async def get(start: int, **match: str) -> tuple[bytes, dict[str, Any]]:
            tries = 0
            while True:  # the call retries by itself; a body cut off mid-read is retried here
                got = await call("get_object", Bucket=bucket, Key=name, **match,
                                 Range=f"bytes={start}-{start + self.part_size - 1}")
                try:
                    return await got["Body"].read(), got
                except (aiohttp.ClientPayloadError, asyncio.TimeoutError, ConnectionError):
                    tries += 1
                    if tries == _BODY_READ_TRIES:
                        raise
                finally:
                    got["Body"].close()

        try:
            first, got = await get(0)
        except OSError as err:
            if store_message(err).startswith("InvalidRange"):  # no byte 0: the object is empty
                return bytearray()
            raise
        content_range = got.get("ContentRange")  # "bytes 0-16777215/209727533"
        if not content_range:  # the server sent the whole object
            return bytearray(first)
        size = int(content_range.rpartition("/")[2])
        buf = bytearray(size)
        buf[: len(first)] = first
        del first
        gate = asyncio.Semaphore(self.concurrency)
        same = {"IfMatch": got["ETag"]} if got.get("ETag") else {}

        async def fetch(start: int) -> None:
            async with gate:
                data, _ = await get(start, **same)
                end = min(start + self.part_size, size)
                if len(data) != end - start:
                    raise OSError(f"{path}: asked for bytes {start}-{end - 1}, got {len(data)}")
                buf[start:end] = data

        await _gather_or_cancel([fetch(at) for at in range(self.part_size, size, self.part_size)])
        return buf

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        """Abort the multipart uploads under this root begun more than ``older_than_s`` ago
        (a writer killed mid-upload leaves one: invisible, but its parts take space)."""
        bucket, name, _ = self.fs.split_path(self._base)
        prefix = f"{name}/" if name else ""
        cutoff = time.time() - older_than_s
        removed = 0
        with store_errors():
            listing: dict[str, Any] = {"IsTruncated": True}
            marker: dict[str, str] = {}
            while listing.get("IsTruncated"):
                listing = self.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix,
                                          **marker)
                for upload in listing.get("Uploads", []):
                    if upload["Initiated"].timestamp() < cutoff:
                        self.fs.call_s3("abort_multipart_upload", Bucket=bucket,
                                        Key=upload["Key"], UploadId=upload["UploadId"])
                        removed += 1
                marker = {"KeyMarker": listing.get("NextKeyMarker", ""),
                          "UploadIdMarker": listing.get("NextUploadIdMarker", "")}
        return removed


def _bytes_view(part: Part) -> memoryview:
    view = memoryview(part)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _window(views: list[memoryview], start: int, length: int) -> bytes:
    """``length`` bytes of the concatenated ``views`` from ``start``, copied into one object."""
    pieces = []
    for view in views:
        if start >= view.nbytes:
            start -= view.nbytes
            continue
        piece = view[start : start + length]
        pieces.append(piece)
        length -= piece.nbytes
        start = 0
        if length <= 0:
            break
    return bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)


async def _gather_or_cancel(coros: list[Awaitable[Any]]) -> list[Any]:
    """Results of ``coros`` run side by side, in order; the first failure cancels the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def store_message(exc: BaseException) -> str:
    """What the store said, as it said it: ``NoSuchBucket: The specified bucket does not exist``
    for an S3 error (s3fs keeps the server's reply as the cause), else the error's own text."""
    for err in (exc, exc.__cause__, exc.__context__):
        response = getattr(err, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            code, message = response["Error"].get("Code"), response["Error"].get("Message")
            if code or message:
                return ": ".join(str(x) for x in (code, message) if x)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


@contextmanager
def store_errors() -> Iterator[None]:
    """Let OSError (what fsspec drivers raise for a refusal) through; turn any other driver error
    (a connection that failed, a malformed reply) into one, keeping the driver's message."""
    try:
        yield
    except (OSError, StoreError):
        raise
    except Exception as exc:  # noqa: BLE001 - any driver error; the message is the store's own
        raise OSError(store_message(exc)) from exc


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
    if root.startswith(("s3://", "s3a://")):
        return S3Storage(root)
    if "://" in root:
        return FsspecStorage(root)
    return LocalStorage(root)
