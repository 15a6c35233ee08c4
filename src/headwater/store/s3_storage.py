"""A datastore in S3 or an S3-compatible server, through s3fs, with large transfers in parts."""

from __future__ import annotations

import asyncio
import errno
import functools
import time
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any

from headwater.store.bandwidth import s3_limit
from headwater.store.fsspec_storage import _REMOTE_CHECK_THREADS, FsspecStorage
from headwater.store.storage import Part, Stat, _is_temp_name, store_errors, store_message

S3_PART_SIZE = 16 * 2**20
"""Bytes per part of a multipart upload or ranged download (S3 wants at least 5 MiB per part)."""

S3_MAX_PARTS = 10_000
"""S3's limit on the parts of one upload; larger blobs get larger parts."""

S3_CONCURRENCY = 8
"""Parts (or ranges) of one blob in flight at once; each holds one part's bytes in memory."""

_BODY_READ_TRIES = 3

TIMEOUT_ENV = "HEADWATER_S3_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 30.0
"""How long one request waits to connect, and then for each answer, before it is tried again."""

REQUEST_TRIES = 3
"""Tries of one request by botocore (its "standard" retries: throttling, 5xx, a timeout)."""

CALL_TRIES = 2
"""Tries of one call by s3fs around those (it retries timeouts and cut-off replies itself)."""


def bounded_options(storage_options: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """``storage_options`` with every wait bounded (unless the caller set its own), and the
    longest one call may take.

    botocore's defaults (60 s to connect and per read, legacy retries) under s3fs's own five
    tries let a silent server (a black hole, a stalled proxy) hold one write for over half an
    hour; and a small PUT waiting for the server's ``100 Continue`` waits for ever, whatever the
    read timeout. So each request waits ``HEADWATER_S3_TIMEOUT_S`` (30 s) for each answer, and
    one call as a whole gives up after ``CALL_TRIES * REQUEST_TRIES + 1`` such waits (3.5
    minutes at worst); the error says so (ETIMEDOUT, see ``store.datastore``)."""
    from headwater.env_numbers import env_seconds
    from headwater.exceptions import StoreError

    timeout = env_seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT_S, error=StoreError)
    config = {"connect_timeout": timeout, "read_timeout": timeout,
              "retries": {"max_attempts": REQUEST_TRIES, "mode": "standard"}}
    given = dict(storage_options)
    config.update(given.pop("config_kwargs", None) or {})
    return {**given, "config_kwargs": config}, (CALL_TRIES * REQUEST_TRIES + 1) * timeout


# The filesystem's blocking calls the datastore makes: each gets the call deadline.
_BOUNDED_CALLS = ("pipe_file", "cat_file", "rm_file", "size", "find", "isfile", "info",
                  "call_s3", "exists")


def s3_filesystem(**storage_options: Any) -> Any:
    """A fresh s3fs filesystem, as the datastore makes its own (the same credentials, endpoint
    and options); for :mod:`headwater.s3client`, whose keys may be in any bucket."""
    import fsspec  # deferred: local runs never pay for it

    return fsspec.filesystem("s3", skip_instance_cache=True, **storage_options)


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
        options, self.call_deadline = bounded_options(storage_options)
        super().__init__(url, **options)
        s3_limit()  # a bad HEADWATER_S3_MAX_BANDWIDTH is one error when the store opens
        self.part_size = part_size
        self.concurrency = concurrency
        self.multipart_min = 2 * part_size
        """Blobs at least this large go up in parts and come down in parallel ranges."""

    def _connect(self) -> Any:
        fs = super()._connect()
        fs.retries = CALL_TRIES  # s3fs's own tries of a call (a class attribute, 5)
        for name in _BOUNDED_CALLS:  # fsspec's blocking wrappers take a timeout of their own
            if hasattr(fs, f"_{name}"):
                setattr(fs, name, functools.partial(getattr(fs, name),
                                                    timeout=self.call_deadline))
        return fs

    async def _call_s3(self, method: str, **kwargs: Any) -> Any:
        """One S3 call from inside the event loop, given up after the call deadline."""
        try:
            return await asyncio.wait_for(self.fs._call_s3(method, **kwargs), self.call_deadline)
        except asyncio.TimeoutError:
            raise OSError(errno.ETIMEDOUT, f"{method}: no answer from the S3 server within "
                          f"{self.call_deadline:g} s") from None

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
                    await self._call_s3("head_object", Bucket=bucket, Key=name)
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
                cap = s3_limit()
                if cap is not None:
                    cap.wait(size)
                super().put(key, parts)
                return
            with store_errors():
                self._run(self._put_multipart(bucket, name, views, size))
        except OSError as err:
            if err.errno in (errno.ETIMEDOUT, errno.ECONNREFUSED):
                raise  # no answer: asking about the bucket would only wait again
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
        call = self._call_s3
        part_size = max(self.part_size, -(-size // S3_MAX_PARTS))
        started = await call("create_multipart_upload", Bucket=bucket, Key=name)
        upload = {"Bucket": bucket, "Key": name, "UploadId": started["UploadId"]}
        gate = asyncio.Semaphore(self.concurrency)
        cap = s3_limit()

        async def send(number: int, start: int) -> dict[str, Any]:
            async with gate:  # copy a part only when its turn comes: memory stays bounded
                if cap is not None:
                    await cap.wait_async(min(part_size, size - start))
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

        call = self._call_s3
        cap = s3_limit()

        async def get(start: int, **match: str) -> tuple[bytes, dict[str, Any]]:
            tries = 0
            while True:  # the call retries by itself; a body cut off mid-read is retried here
                got = await call("get_object", Bucket=bucket, Key=name, **match,
                                 Range=f"bytes={start}-{start + self.part_size - 1}")
                try:
                    if cap is None:
                        return await got["Body"].read(), got
                    return await cap.read_paced(got["Body"]), got
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

    # -- garbage collection (see headwater.maintenance.sweep) ----------------------------------

    def touch(self, key: str) -> bool:
        """Copy the object onto itself (server side, no bytes travel), which gives it a new
        LastModified. An object S3 cannot copy in one request (over 5 GB) answers False: the
        caller then uploads it again, which refreshes it just as well."""
        _, bucket, name = self._split(key)
        try:
            with store_errors():
                self.fs.call_s3("copy_object", Bucket=bucket, Key=name,
                                CopySource={"Bucket": bucket, "Key": name},
                                MetadataDirective="REPLACE")
        except FileNotFoundError:
            return False
        except OSError as err:
            if err.errno in (errno.ETIMEDOUT, errno.ECONNREFUSED):
                raise  # no answer: uploading it would only wait as long again
            return False  # too large to copy, or refused: write it again
        return True

    def scan(self, prefix: str) -> Iterator[Stat]:
        bucket, base, _ = self.fs.split_path(self._base)
        root = f"{base}/" if base else ""
        token: dict[str, str] = {}
        with store_errors():
            while True:
                page = self.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=root + prefix,
                                       **token)
                for item in page.get("Contents", []):
                    key = item["Key"][len(root):]
                    if not _is_temp_name(key.rpartition("/")[2]):
                        yield key, int(item["Size"]), _modified(item["LastModified"])
                if not page.get("IsTruncated"):
                    return
                token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete_unless_newer(self, key: str, cutoff: float) -> int | None:
        return self.delete_many_unless_newer([key], cutoff)[0]

    def delete_many_unless_newer(self, keys: Sequence[str], cutoff: float) -> list[int | None]:
        """Ask each object's time again just before deleting it, side by side. S3 has no rename,
        so a writer touching an object between that question and the delete (milliseconds) is
        not seen; a writer only touches what it is about to reference, and the grace and the
        live-run bound keep such a blob out of the candidates in the first place."""
        gate = asyncio.Semaphore(_REMOTE_CHECK_THREADS)

        async def delete(key: str) -> int | None:
            _, bucket, name = self._split(key)
            async with gate:
                try:
                    head = await self._call_s3("head_object", Bucket=bucket, Key=name)
                except FileNotFoundError:
                    return None
                if _modified(head["LastModified"]) >= cutoff:
                    return None
                await self._call_s3("delete_object", Bucket=bucket, Key=name)
                return int(head["ContentLength"])

        async def delete_all() -> list[int | None]:
            return await asyncio.gather(*(delete(k) for k in keys))

        with store_errors():
            freed = self._run(delete_all())
        self.fs.invalidate_cache()
        return list(freed)


def _modified(last_modified: Any) -> float:
    """S3 keeps whole seconds: read a time as the end of its second, so a blob touched a moment
    ago never looks older than it is."""
    return float(last_modified.timestamp()) + 1.0


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
