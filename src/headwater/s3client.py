"""``S3``: the client flows use to move their own data in and out of S3 (Metaflow's ``S3``).

A step writes ``with S3(run=self) as s3: s3.put("model.bin", blob)`` and a later step (or a
notebook) reads it back. This is separate from the datastore (which keeps artifacts by content
hash): here the user names the keys. It is built on the same s3fs filesystem the S3 datastore
uses (:class:`headwater.store.s3_storage.S3Storage`), so the same credentials and endpoint
(``AWS_ENDPOINT_URL``) apply; s3fs is imported only when an ``S3`` first talks to S3. Each
client has one filesystem; the objects of one call (``get_many``, ``put_files``, ...) move side by
side on its event loop, at most 16 requests in flight.

Where keys go:

* ``S3(s3root="s3://bucket/prefix")``: keys are relative to that prefix;
* ``S3(run=self)`` in a step, or ``S3(run=Run(...))``: under ``<data root>/<flow>/<run id>``,
  where the data root is ``HEADWATER_DATATOOLS_S3ROOT`` or ``METAFLOW_DATATOOLS_S3ROOT`` if set,
  else ``<datastore root>/data`` when the datastore is in S3 (the running task's, else
  ``HEADWATER_DATASTORE_ROOT`` / ``METAFLOW_DATASTORE_SYSROOT_S3``);
* ``S3()``: every key is a full ``s3://`` URL.

Downloads go to a private temporary folder that ``close()`` (or leaving the ``with`` block)
removes, with every :class:`S3Object`'s ``path``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from headwater.env_numbers import env_count
from headwater.exceptions import HeadwaterException
from headwater.s3objects import (
    USER_ATTRIBUTES,
    MetaflowS3NotFound,
    RangeInfo,
    S3AccessDenied,
    S3Exception,
    S3GetObject,
    S3InvalidObject,
    S3InvalidRange,
    S3NotFound,
    S3Object,
    S3PutObject,
    S3URLException,
    local_name,
    range_header,
    s3_not_found,
)
from headwater.store.bandwidth import PACED_CHUNK, s3_limit

__all__ = ["S3", "S3Object", "S3PutObject", "S3GetObject", "RangeInfo", "S3Exception",
           "S3NotFound", "S3AccessDenied", "S3URLException", "S3InvalidObject", "S3InvalidRange"]

DATA_SUFFIX = "data"
"""The folder under an S3 datastore root that holds ``S3(run=...)`` data (Metaflow's too)."""

ROOT_ENV_VARS = ("HEADWATER_DATATOOLS_S3ROOT", "METAFLOW_DATATOOLS_S3ROOT")
ENCRYPTION_ENV_VARS = ("HEADWATER_S3_SERVER_SIDE_ENCRYPTION", "METAFLOW_S3_SERVER_SIDE_ENCRYPTION")
"""The default server-side encryption of uploads (e.g. ``AES256``) when ``S3`` is given none."""

S3_TRANSIENT_RETRY_COUNT = env_count("METAFLOW_S3_TRANSIENT_RETRY_COUNT", 20)
"""How often one object's operation is tried again after an injected transient failure."""

_CONCURRENCY = 16  # requests in flight at once for one *_many call
_CHUNK = 2**20  # bytes read from a download's body at a time
_SINGLE_PUT_MAX = 64 * 2**20  # larger uploads go up in parts (s3fs's multipart upload)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_UNSET: Any = object()


class S3:
    """A client for data a flow keeps in S3 under keys of its own choosing.

    **Parameters:** ``s3root`` (an ``s3://`` prefix for relative keys), ``run`` (the running flow
    ``self``, or a client ``Run``: keys go under that run's own prefix), ``tmproot`` (where
    downloads go; default: the system's temporary folder). ``bucket``/``prefix`` override the
    data root's parts with ``run``. ``encryption`` is the server-side encryption of uploads
    (default: ``METAFLOW_S3_SERVER_SIDE_ENCRYPTION``, else none); ``client_params`` go to the
    S3 client (e.g. ``{"endpoint_url": ...}``). ``inject_failure_rate`` (a percentage; a test
    hook, as in Metaflow) makes the object operations of ``*_many``, ``get_*`` and ``put_*``
    fail as if S3 had asked to slow down, to exercise their retries (below 100, ever less often
    on each retry). ``role`` is an IAM role's ARN to assume (through STS, with this machine's
    own credentials) for every request; the role's temporary credentials are renewed before
    they expire. ``session_vars`` go to the botocore session the client is made from (as
    Metaflow passes them: ``botocore.session.Session(session_vars=...)``).
    """

    def __init__(self, tmproot: str | None = None, bucket: str | None = None,
                 prefix: str | None = None, run: Any = None, s3root: str | None = None,
                 encryption: str | None = _UNSET, **options: Any) -> None:
        s3_limit()  # a bad HEADWATER_S3_MAX_BANDWIDTH is one error here, not mid-transfer
        if run is not None:
            self._root: str | None = _run_root(run, bucket, prefix)
        elif s3root:
            root = _text(s3root)
            if not root.startswith("s3://"):
                raise S3URLException(f"s3root {root!r} is not an S3 URL",
                                     fix="give s3root as s3://BUCKET/PREFIX")
            self._root = root.rstrip("/")
        else:
            self._root = None
        self._encryption = _default_encryption() if encryption is _UNSET else encryption
        self._client_params: dict[str, Any] = dict(options.get("client_params") or {})
        self._inject_failure_rate = float(options.get("inject_failure_rate") or 0)
        self._role: str | None = options.get("role") or None
        self._session_vars: dict[str, Any] | None = options.get("session_vars") or None
        self._fs: Any = None
        self._fs_pid = 0
        self._fs_expires = float("inf")  # when the assumed role's credentials run out
        self._tmpdir: str | None = tempfile.mkdtemp(prefix="headwater.s3.", dir=tmproot)

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Remove every file this client downloaded (their ``S3Object.path`` with them)."""
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def s3root(self) -> str | None:
        return self._root

    # -- listing ---------------------------------------------------------------------------------
    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """The next level under each key: objects (``exists``) and prefixes (not ``exists``)."""
        prefixes = [self._url(key).rstrip("/") + "/" for key in _keys(keys)]

        async def one(prefix: str) -> list[S3Object]:
            found = await self._checked(prefix, self._list(prefix, "/"))
            return [S3Object(prefix, url, size=size) for url, size in found]

        return [obj for objs in self._many(prefixes, one) for obj in objs]

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each key, at any depth. A key names a folder: ``log`` lists
        ``log/...``, never ``log_other/...``."""
        urls = [self._url(key) for key in _keys(keys)]

        async def one(url: str) -> list[S3Object]:
            folder = url if url.endswith("/") or not _split(url)[1] else url + "/"
            found = await self._checked(url, self._list(folder, ""))
            return [S3Object(url, item, size=size) for item, size in found]

        return [obj for objs in self._many(urls, one) for obj in objs]

    # -- info ------------------------------------------------------------------------------------
    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """Size, content type and metadata of one object (one HEAD request, no download)."""
        return self._info([key], return_missing)[0]

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        """:meth:`info` of each key, side by side, in the order given."""
        return self._info(list(keys), return_missing)

    # -- get -------------------------------------------------------------------------------------
    def get(self, key: str | S3GetObject | None = None, return_missing: bool = False,
            return_info: bool = True) -> S3Object:
        """Download one object (or the byte range an :class:`S3GetObject` names); its bytes are
        then in ``.blob``/``.text``/``.path``."""
        return self._get([key], return_missing, return_info)[0]

    def get_many(self, keys: Iterable[str | S3GetObject], return_missing: bool = False,
                 return_info: bool = True) -> list[S3Object]:
        """:meth:`get` of each key, side by side, in the order given."""
        return self._get(list(keys), return_missing, return_info)

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        """Download every object under each key (a folder, as :meth:`list_recursive` reads it,
        or the object of that very name): per key in the order given, each key's objects in
        lexicographic order."""
        urls = [self._url(key) for key in keys]

        async def one(url: str) -> list[tuple[str, str]]:
            found = await self._checked(url, self._list(url, ""))
            folder = url if url.endswith("/") or not _split(url)[1] else url + "/"
            return [(url, item) for item, size in found
                    if size is not None and (item == url or item.startswith(folder))]

        found = [pair for pairs in self._many(urls, one) for pair in pairs]
        return self._fetch([(prefix, url, None) for prefix, url in found], False, return_info)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download every object under the client's root."""
        if self._root is None:
            raise S3URLException("get_all() needs a root",
                                 fix="make the client with S3(s3root=...) or S3(run=...)")
        return self.get_recursive([None], return_info=return_info)  # type: ignore[list-item]

    # -- put -------------------------------------------------------------------------------------
    def put(self, key: str | S3PutObject, obj: Any, overwrite: bool = True,
            content_type: str | None = None, metadata: dict[str, str] | None = None) -> str:
        """Store ``obj`` (bytes, str as UTF-8, or a readable binary file) at ``key``; its URL
        (also when ``overwrite=False`` found the key there and left it alone)."""
        name = _text(getattr(key, "key", key))
        item = S3PutObject(name, _body(obj, name), content_type=content_type, metadata=metadata)
        url = self._url(name)
        self._upload([(url, item)], overwrite)
        return url

    def put_many(self, key_objs: Iterable[tuple[str, Any] | S3PutObject],
                 overwrite: bool = True) -> list[tuple[str, str]]:
        """Store each ``(key, value)`` (or :class:`S3PutObject`) side by side: ``[(key, url)]``
        of the objects written, in the order given (``overwrite=False`` skips existing keys)."""
        items = []
        for entry in key_objs:
            item = entry if isinstance(entry, S3PutObject) else S3PutObject(entry[0], entry[1])
            item = item._replace(value=_body(item.value, item.key))
            items.append((self._url(item.key), item))
        return self._upload(items, overwrite)

    def put_files(self, key_paths: Iterable[tuple[str, str] | S3PutObject],
                  overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files: ``(key, path)`` pairs (or :class:`S3PutObject` with ``path``);
        ``[(key, url)]`` of the files written, as :meth:`put_many`."""
        items = []
        for entry in key_paths:
            item = (entry if isinstance(entry, S3PutObject)
                    else S3PutObject(entry[0], path=os.fspath(entry[1])))
            if not item.path or not os.path.isfile(item.path):
                raise s3_not_found(f"Local file not found: {item.path}",
                                   f"put_files: no local file {item.path!r} (for key "
                                   f"{item.key!r})", fix="give the path of an existing file")
            items.append((self._url(item.key), item))
        return self._upload(items, overwrite)

    # -- internals: keys and local files ---------------------------------------------------------
    @property
    def fs(self) -> Any:
        """This client's one s3fs filesystem, made as the S3 datastore makes its own (imported
        on first use; made again in a forked child, as network clients do not survive fork)."""
        if self._fs is None or self._fs_pid != os.getpid() or time.time() > self._fs_expires:
            from headwater.store.s3_storage import s3_filesystem

            options: dict[str, Any] = {}
            if self._client_params:
                options["client_kwargs"] = self._client_params
            if self._session_vars:
                from aiobotocore.session import AioSession

                options["session"] = AioSession(session_vars=self._session_vars)
            if self._role:
                options.update(self._assumed_role())
            self._fs, self._fs_pid = s3_filesystem(**options), os.getpid()
        return self._fs

    def _assumed_role(self) -> dict[str, Any]:
        """The temporary credentials of ``role`` (s3fs's key, secret and token); the filesystem
        is made again five minutes before they expire."""
        import botocore.exceptions
        import botocore.session

        session = botocore.session.Session(session_vars=self._session_vars)
        user = re.sub(r"[^\w+=,.@-]", "-", os.environ.get("USER") or "user")[:40]
        try:
            granted = session.create_client("sts").assume_role(
                RoleArn=self._role, RoleSessionName=f"headwater-{user}")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise S3AccessDenied(
                f"S3 client: could not assume the role {self._role!r}: {exc}",
                fix="check the role's ARN, and that this machine's credentials may assume it "
                "(its trust policy)") from None
        creds = granted["Credentials"]
        self._fs_expires = creds["Expiration"].timestamp() - 300
        return {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"],
                "token": creds["SessionToken"]}

    def _url(self, key: Any) -> str:
        key = getattr(key, "key", key)
        key = None if key is None else _text(key)
        if self._root is None:
            if key and key.startswith("s3://") and _split(key)[1]:
                return key
            raise S3URLException(
                f"{key!r} is not a full s3:// URL (s3://BUCKET/KEY) and this S3 client has "
                "no root",
                fix="use S3(run=self) inside a step, S3(s3root='s3://bucket/prefix'), or give "
                "full s3:// URLs")
        if not key:
            return self._root
        if key.startswith("s3://"):
            raise S3URLException(f"{key!r} is a full URL, but this S3 client has the root "
                                 f"{self._root}", fix="give keys relative to the root")
        return f"{self._root}/{key.lstrip('/')}"

    def _local_path(self, url: str, byte_range: str | None = None) -> str:
        """A new empty file for one download, named after the object (see ``local_name``)."""
        if self._tmpdir is None:
            raise S3Exception("this S3 client is closed",
                              fix="download inside its `with S3(...)` block")
        name = os.path.join(self._tmpdir, local_name(url, byte_range))
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:  # the same object (and range) asked for twice in one call
            handle, name = tempfile.mkstemp(dir=self._tmpdir, prefix=os.path.basename(name)[:80])
            os.close(handle)
        return name

    # -- internals: the operations, run side by side on the filesystem's event loop --------------
    def _many(self, items: list[Any], one: Callable[[Any], Awaitable[Any]],
              retried: bool = False) -> list[Any]:
        """``one(item)`` of every item, at most ``_CONCURRENCY`` at a time, results in order;
        the first item's error (in the order given) is raised. ``retried`` operations (on
        objects, not listings) take the injected failures of ``inject_failure_rate``."""
        if not items:
            return []
        import asyncio

        from fsspec.asyn import sync

        fs = self.fs

        async def run_all() -> list[Any]:
            gate = asyncio.Semaphore(_CONCURRENCY)

            async def guarded(item: Any) -> Any:
                async with gate:
                    if retried:
                        self._survive_injected_failures()
                    return await one(item)

            return await asyncio.gather(*(guarded(item) for item in items),
                                        return_exceptions=True)

        results = sync(fs.loop, run_all)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    def _survive_injected_failures(self) -> None:
        """Retry through the failures ``inject_failure_rate`` injects (none by default): each
        try fails with that probability, a rate under 100 capped at 90 and divided by 3 on
        each retry; after ``S3_TRANSIENT_RETRY_COUNT`` retries the operation has failed."""
        rate = self._inject_failure_rate
        if rate <= 0:
            return
        import random

        for attempt in range(S3_TRANSIENT_RETRY_COUNT + 1):
            chance = rate if rate >= 100 else min(rate, 90) / 3**attempt
            if random.uniform(0, 100) >= chance:
                return
        raise S3Exception(f"the S3 operation failed: {S3_TRANSIENT_RETRY_COUNT} retries after "
                          f"injected transient failures (inject_failure_rate={rate:g})",
                          fix="inject_failure_rate is a test hook: leave it out to reach S3")

    async def _checked(self, url: str, pending: Awaitable[Any]) -> Any:
        """Await one s3fs call; its failures become headwater's errors, naming ``url``."""
        try:
            return await pending
        except HeadwaterException:
            raise
        except Exception as err:  # noqa: BLE001 - every driver error is told as the store said it
            raise _translated(err, url) from None

    async def _head(self, url: str) -> dict[str, Any] | None:
        """The object's HEAD reply, or None when there is no such object (or bucket)."""
        bucket, key = _split(url)
        try:
            return await self.fs._call_s3("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None

    async def _list(self, prefix: str, delimiter: str) -> list[tuple[str, int | None]]:
        """``(url, size)`` of what S3 lists under ``prefix`` (a "folder" has size None)."""
        bucket, key = _split(prefix)
        found: list[tuple[str, int | None]] = []
        marker: dict[str, str] = {}
        while True:
            page = await self.fs._call_s3("list_objects_v2", Bucket=bucket, Prefix=key,
                                          Delimiter=delimiter, **marker)
            found.extend((f"s3://{bucket}/{item['Key']}", int(item["Size"]))
                         for item in page.get("Contents", []))
            found.extend((f"s3://{bucket}/{item['Prefix']}", None)
                         for item in page.get("CommonPrefixes", []))
            if not page.get("IsTruncated"):
                return found
            marker = {"ContinuationToken": page["NextContinuationToken"]}

    async def _download(self, url: str, byte_range: str | None, local: str) -> dict[str, Any]:
        """Write the object (or its range) to ``local``; the GET reply without its body."""
        bucket, key = _split(url)
        extra = {"Range": byte_range} if byte_range else {}
        reply = await self.fs._call_s3("get_object", Bucket=bucket, Key=key, **extra)
        body = reply.pop("Body")
        cap = s3_limit()
        try:
            with open(local, "wb") as out:
                while chunk := await body.read(_CHUNK if cap is None else PACED_CHUNK):
                    out.write(chunk)
                    if cap is not None:
                        await cap.wait_async(len(chunk))
        finally:
            body.close()
        return reply

    def _info(self, keys: list[Any], return_missing: bool) -> list[S3Object]:
        urls = [self._url(key) for key in keys]

        async def one(url: str) -> S3Object:
            head = await self._checked(url, self._head(url))
            if head is not None:
                return self._described(url, head)
            if return_missing:
                return S3Object(self._root, url)
            raise _missing(url)

        return self._many(urls, one, retried=True)

    def _get(self, keys: list[Any], return_missing: bool, return_info: bool) -> list[S3Object]:
        asked = [(self._root, self._url(key), range_header(getattr(key, "offset", None),
                                                            getattr(key, "length", None)))
                 for key in keys]
        return self._fetch(asked, return_missing, return_info)

    def _fetch(self, asked: list[tuple[str | None, str, str | None]], return_missing: bool,
               return_info: bool) -> list[S3Object]:
        """Download each ``(prefix, url, range)``; the objects' keys are relative to prefix."""

        async def one(item: tuple[str | None, str, str | None]) -> S3Object:
            prefix, url, byte_range = item
            local = self._local_path(url, byte_range)
            try:
                reply = await self._checked(url, self._download(url, byte_range, local))
            except MetaflowS3NotFound:  # S3NotFound too
                os.unlink(local)
                if return_missing:
                    return S3Object(prefix, url)
                raise _missing(url) from None
            if not return_info:
                return S3Object(prefix, url, path=local)
            return self._described(url, reply, path=local, prefix=prefix, downloaded=True)

        return self._many(asked, one, retried=True)

    def _described(self, url: str, reply: dict[str, Any], path: str | None = None,
                   prefix: Any = _UNSET, downloaded: bool = False) -> S3Object:
        """An :class:`S3Object` with what a HEAD or GET reply tells about it."""
        size = reply.get("ContentLength")
        range_info = None
        if downloaded:
            match = _CONTENT_RANGE.match(reply.get("ContentRange") or "")
            if match:
                start, end, total = (int(x) for x in match.groups())
                range_info = RangeInfo(total, start, end - start + 1)
            else:
                range_info = RangeInfo(int(size or 0), 0, int(size or 0))
        modified = reply.get("LastModified")
        return S3Object(self._root if prefix is _UNSET else prefix, url, path=path,
                        size=None if size is None else int(size),
                        content_type=reply.get("ContentType"), metadata=reply.get("Metadata"),
                        range_info=range_info,
                        last_modified=int(modified.timestamp()) if modified else None,
                        encryption=reply.get("ServerSideEncryption"))

    def _upload(self, items: list[tuple[str, S3PutObject]],
                overwrite: bool) -> list[tuple[str, str]]:
        """Upload each ``(url, item)``; ``[(key, url)]`` of those written."""

        async def one(pair: tuple[str, S3PutObject]) -> bool:
            url, item = pair
            if not overwrite and await self._checked(url, self._head(url)) is not None:
                return False
            await self._checked(url, self._put(url, item, self._put_args(item)))
            return True

        written = self._many(items, one, retried=True)
        return [(item.key, url) for (url, item), done in zip(items, written, strict=True) if done]

    def _put_args(self, item: S3PutObject) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if item.content_type:
            extra["ContentType"] = item.content_type
        if item.metadata:
            extra["Metadata"] = {USER_ATTRIBUTES: json.dumps(item.metadata)}
        if item.encryption or self._encryption:
            extra["ServerSideEncryption"] = item.encryption or self._encryption
        return extra

    async def _put(self, url: str, item: S3PutObject, extra: dict[str, Any]) -> None:
        """One object up: in one request, or (large ones) in parts through s3fs."""
        bucket, key = _split(url)
        cap = s3_limit()
        if cap is not None:  # the bytes are reserved before they go: the size is known
            await cap.wait_async(os.path.getsize(item.path) if item.path is not None
                                 else len(item.value))
        if item.path is not None:
            if os.path.getsize(item.path) > _SINGLE_PUT_MAX:
                # s3fs would guess a content type from the file's name; S3's default is this
                extra.setdefault("ContentType", "binary/octet-stream")
                await self.fs._put_file(item.path, url, **extra)
                return
            with open(item.path, "rb") as handle:
                data = handle.read()
        else:
            data = item.value
            if len(data) > _SINGLE_PUT_MAX:
                await self.fs._pipe_file(url, data, **extra)
                return
        await self.fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data, **extra)


def _keys(keys: Iterable[Any] | None) -> list[Any]:
    return [None] if keys is None else list(keys)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _split(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def _default_encryption() -> str | None:
    return next((os.environ[var] for var in ENCRYPTION_ENV_VARS if os.environ.get(var)), None)


def _missing(url: str) -> MetaflowS3NotFound:
    return s3_not_found(url, f"no S3 object at {url}", fix="check the key (list_paths() shows "
                        "what is there), or pass return_missing=True to get an S3Object whose "
                        "exists is False")


def _translated(err: Exception, url: str) -> HeadwaterException:
    """The headwater error for an s3fs/botocore failure on ``url``."""
    from headwater.store.storage import store_message

    message = store_message(err)
    if isinstance(err, FileNotFoundError):
        return s3_not_found(url, f"{url}: {message}", fix="check that the bucket and the key exist")
    if isinstance(err, PermissionError):
        return S3AccessDenied(f"access to {url} was denied: {message}",
                              fix="check the credentials (AWS_ACCESS_KEY_ID, ...)")
    if "InvalidRange" in message or (isinstance(err, OSError) and err.errno == errno.EINVAL
                                     and "range" in message.lower()):
        return S3InvalidRange(f"{url}: {message}",
                              fix="ask for a range that starts inside the object (info() "
                              "tells its size)")
    return S3Exception(f"{url}: {message}",
                       fix="check the endpoint (AWS_ENDPOINT_URL) and the credentials")


def _body(obj: Any, key: Any) -> bytes:
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if hasattr(obj, "read"):
        data = obj.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise S3InvalidObject(f"cannot put a {type(obj).__name__} at {key!r}",
                          fix="give bytes, a str (stored as UTF-8) or a file opened in 'rb' mode; "
                          "for other values, pickle them first")


def data_root() -> str | None:
    """Where ``S3(run=...)`` data goes: see the module docstring; None if nothing says."""
    for var in ROOT_ENV_VARS:
        if os.environ.get(var):
            return os.environ[var].rstrip("/")
    from headwater.flow.current import current

    running = current.__dict__.get("_extra", {}).get("_datastore_root")
    candidates = [running, os.environ.get("HEADWATER_DATASTORE_ROOT"),
                  os.environ.get("METAFLOW_DATASTORE_SYSROOT_S3")]
    for root in candidates:
        if root and str(root).startswith("s3://"):
            return f"{str(root).rstrip('/')}/{DATA_SUFFIX}"
    return None


def _run_root(run: Any, bucket: str | None, prefix: str | None) -> str:
    """The ``s3://`` prefix of one run's data: ``<data root>/<flow>/<run id>``."""
    from headwater.flow.current import current
    from headwater.flow.flowspec import FlowSpec

    if isinstance(run, FlowSpec):
        if not current.is_running_flow:
            raise S3URLException("S3(run=self) works only inside a running step",
                                 fix="outside a run, pass a client Run: S3(run=Run('Flow/12'))")
        flow_name, run_id = current.flow_name, current.run_id
    else:
        parts = str(getattr(run, "pathspec", "")).split("/")
        if len(parts) != 2:
            raise S3URLException(f"S3(run=...) needs the running flow or a client Run, "
                                 f"got {run!r}", fix="pass self inside a step, or a Run")
        flow_name, run_id = parts
    root = data_root()
    if root is None and not bucket:
        raise S3URLException(
            f"S3(run=...) for {flow_name}/{run_id} has no S3 root to put the run's data under",
            fix="run with an s3:// datastore (--datastore-root s3://...), or set "
            "METAFLOW_DATATOOLS_S3ROOT=s3://BUCKET/PREFIX")
    root_bucket, root_prefix = _split(root) if root else ("", "")
    where = "/".join(p.strip("/") for p in (prefix if prefix is not None else root_prefix,
                                             flow_name, run_id) if p and p.strip("/"))
    return f"s3://{bucket or root_bucket}/{where}"
