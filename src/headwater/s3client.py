"""``S3``: the client flows use to move their own data in and out of S3 (Metaflow's ``S3``).

A step writes ``with S3(run=self) as s3: s3.put("model.bin", blob)`` and a later step (or a
notebook) reads it back. This is separate from the datastore (which keeps artifacts by content
hash): here the user names the keys. It is built on the same s3fs filesystem the S3 datastore
uses (:class:`headwater.store.s3_storage.S3Storage`), so the same credentials and endpoint
(``AWS_ENDPOINT_URL``) apply; s3fs is imported only when an ``S3`` is made.

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

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

from headwater.exceptions import HeadwaterException, NotFoundError, StoreError

DATA_SUFFIX = "data"
"""The folder under an S3 datastore root that holds ``S3(run=...)`` data (Metaflow's too)."""

ROOT_ENV_VARS = ("HEADWATER_DATATOOLS_S3ROOT", "METAFLOW_DATATOOLS_S3ROOT")
_USER_ATTRIBUTES = "metaflow-user-attributes"  # where Metaflow keeps an object's metadata dict
_CONCURRENCY = 16


class S3Exception(StoreError):
    """An S3 operation failed (Metaflow: ``MetaflowS3Exception``)."""

    headline = "S3 error"


class S3NotFound(NotFoundError):
    """The object, prefix or bucket does not exist (Metaflow: ``MetaflowS3NotFound``)."""


class S3AccessDenied(S3Exception):
    """The credentials may not read or write there (Metaflow: ``MetaflowS3AccessDenied``)."""


class S3URLException(HeadwaterException):
    """A key or root is not a usable S3 URL (Metaflow: ``MetaflowS3URLException``)."""

    headline = "Bad S3 URL"


class S3InvalidObject(HeadwaterException):
    """``put`` was given a value that is not bytes, str or a readable file object."""

    headline = "Cannot store this object in S3"


class S3PutObject(NamedTuple):
    """One object for :meth:`S3.put_many` / :meth:`S3.put_files`: a value or a local path."""

    key: str
    value: Any = None
    path: str | None = None
    content_type: str | None = None
    metadata: dict[str, str] | None = None


class S3GetObject(NamedTuple):
    """A key for :meth:`S3.get_many` (ranges are not supported: the whole object is read)."""

    key: str
    offset: int | None = None
    length: int | None = None


class S3Object:
    """An object (or, from ``list_paths``, a prefix) in S3, with its local copy once downloaded.

    ``key`` is relative to the prefix it was asked under (the ``s3root``, or the listed prefix);
    it is the full URL when the client has no root. ``exists`` is False for a prefix and for a
    missing object asked for with ``return_missing=True``.
    """

    def __init__(self, prefix: str | None, url: str, path: str | None = None,
                 size: int | None = None, content_type: str | None = None,
                 metadata: dict[str, str] | None = None, last_modified: int | None = None,
                 has_info: bool = False) -> None:
        self._url = url
        self._path = path
        self._size = os.stat(path).st_size if path else size
        self._content_type = content_type
        self._metadata = metadata
        self._last_modified = last_modified
        self._has_info = has_info
        if prefix is None or prefix == url:
            self._prefix, self._key = None, url
        else:
            self._prefix = prefix
            self._key = url[len(prefix.rstrip("/")) + 1 :].rstrip("/")

    exists = property(lambda self: self._size is not None,
                      doc="True when this names an object (not a prefix, not a missing key).")
    downloaded = property(lambda self: bool(self._path), doc="True when ``path`` holds a copy.")
    url = property(lambda self: self._url, doc="The object's ``s3://`` URL.")
    prefix = property(lambda self: self._prefix, doc="The prefix ``key`` is relative to.")
    key = property(lambda self: self._key, doc="The key as asked for (see the class docs).")
    path = property(lambda self: self._path,
                    doc="The local copy (removed when the S3 client closes), or None.")
    size = property(lambda self: self._size, doc="Bytes, or None when it does not exist.")
    has_info = property(lambda self: self._has_info,
                        doc="True when content type, metadata and last-modified were read.")
    content_type = property(lambda self: self._content_type)
    metadata = property(lambda self: self._metadata, doc="The user metadata given to ``put``.")
    last_modified = property(lambda self: self._last_modified,
                             doc="Seconds since the epoch (int), when known.")

    @property
    def blob(self) -> bytes | None:
        """The object's bytes, or None if it was not downloaded."""
        if not self._path:
            return None
        with open(self._path, "rb") as handle:
            return handle.read()

    @property
    def text(self) -> str | None:
        """The object's bytes decoded as UTF-8, or None if it was not downloaded."""
        blob = self.blob
        return None if blob is None else blob.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        state = "downloaded" if self.downloaded else ("exists" if self.exists else "not found")
        return f"<S3Object {self._url} ({state})>"


class S3:
    """A client for data a flow keeps in S3 under keys of its own choosing.

    **Parameters:** ``s3root`` (an ``s3://`` prefix for relative keys), ``run`` (the running flow
    ``self``, or a client ``Run``: keys go under that run's own prefix), ``tmproot`` (where
    downloads go; default: the system's temporary folder). ``bucket``/``prefix`` override the
    data root's parts with ``run``. Other keyword arguments Metaflow takes (``role``,
    ``session_vars``, ``client_params``, ``encryption``) are accepted and ignored.
    """

    def __init__(self, tmproot: str | None = None, bucket: str | None = None,
                 prefix: str | None = None, run: Any = None, s3root: str | None = None,
                 **ignored: Any) -> None:
        if run is not None:
            self._root: str | None = _run_root(run, bucket, prefix)
        elif s3root:
            if not str(s3root).startswith("s3://"):
                raise S3URLException(f"s3root {s3root!r} is not an S3 URL",
                                     fix="give s3root as s3://BUCKET/PREFIX")
            self._root = str(s3root).rstrip("/")
        else:
            self._root = None
        self._fs: Any = None
        self._fs_pid = 0
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
        found: list[S3Object] = []
        for key in [None] if keys is None else keys:
            prefix = self._url(key).rstrip("/") + "/"
            found.extend(S3Object(prefix, url, size=size)
                         for url, size in self._list(prefix, delimiter="/"))
        return found

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each key (as a plain prefix), at any depth."""
        found: list[S3Object] = []
        for key in [None] if keys is None else keys:
            prefix = self._url(key)
            found.extend(S3Object(prefix, url, size=size)
                         for url, size in self._list(prefix, delimiter="") if size is not None)
        return found

    # -- info ------------------------------------------------------------------------------------
    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """Size, content type and metadata of one object, without downloading it."""
        url = self._url(key)
        head = self._head(url)
        if head is None:
            if return_missing:
                return S3Object(self._root, url)
            raise S3NotFound(f"no S3 object at {url}", fix="check the key (list_paths() shows "
                             "what is there), or pass return_missing=True")
        return self._object(url, head)

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        """:meth:`info` of each key, side by side."""
        return self._each([self._key_of(k) for k in keys],
                          lambda k: self.info(k, return_missing=return_missing))

    # -- get -------------------------------------------------------------------------------------
    def get(self, key: str | S3GetObject | None = None, return_missing: bool = False,
            return_info: bool = True) -> S3Object:
        """Download one object; its bytes are then in ``.blob``/``.text``/``.path``."""
        url = self._url(self._key_of(key))
        head = self._head(url)
        if head is None:
            if return_missing:
                return S3Object(self._root, url)
            raise S3NotFound(f"no S3 object at {url}", fix="check the key, or pass "
                             "return_missing=True to get an S3Object whose exists is False")
        local = self._local_path()
        self._call(lambda: self.fs.get_file(url, local), url)
        return self._object(url, head if return_info else None, path=local)

    def get_many(self, keys: Iterable[str | S3GetObject], return_missing: bool = False,
                 return_info: bool = True) -> list[S3Object]:
        """:meth:`get` of each key, side by side, in the order given."""
        return self._each([self._key_of(k) for k in keys],
                          lambda k: self.get(k, return_missing, return_info))

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        """Download every object under each key."""
        found = self.list_recursive(keys)
        return self._each(found, lambda o: self._relabel(self._get_url(o.url, return_info), o))

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download every object under the client's root."""
        if self._root is None:
            raise S3URLException("get_all() needs a root",
                                 fix="make the client with S3(s3root=...) or S3(run=...)")
        return self.get_recursive([None], return_info=return_info)  # type: ignore[list-item]

    # -- put -------------------------------------------------------------------------------------
    def put(self, key: str | S3PutObject, obj: Any, overwrite: bool = True,
            content_type: str | None = None, metadata: dict[str, str] | None = None) -> str:
        """Store ``obj`` (bytes, str as UTF-8, or a readable binary file) at ``key``; its URL."""
        url = self._url(self._key_of(key))
        body = _body(obj, url)
        if overwrite or self._head(url) is None:
            extra = _put_args(content_type, metadata)
            self._call(lambda: self.fs.pipe_file(url, body, **extra), url)
        return url

    def put_many(self, key_objs: Iterable[tuple[str, Any] | S3PutObject],
                 overwrite: bool = True) -> list[tuple[str, str]]:
        """Store each ``(key, value)`` (or :class:`S3PutObject`) side by side: ``[(key, url)]``
        of the objects written (with ``overwrite=False``, existing ones are skipped)."""
        items = [_put_item(item) for item in key_objs]

        def one(item: S3PutObject) -> tuple[str, str] | None:
            url = self._url(item.key)
            if not overwrite and self._head(url) is not None:
                return None
            return item.key, self.put(item.key, item.value, True, item.content_type,
                                      item.metadata)

        return [done for done in self._each(items, one) if done is not None]

    def put_files(self, key_paths: Iterable[tuple[str, str] | S3PutObject],
                  overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files: ``(key, path)`` pairs (or :class:`S3PutObject` with ``path``)."""
        items = [_file_item(item) for item in key_paths]
        for item in items:
            if not os.path.isfile(item.path or ""):
                raise S3NotFound(f"put_files: no local file {item.path!r} (for key {item.key!r})",
                                 fix="give the path of an existing file")

        def one(item: S3PutObject) -> tuple[str, str] | None:
            url = self._url(item.key)
            if not overwrite and self._head(url) is not None:
                return None
            extra = _put_args(item.content_type, item.metadata)
            self._call(lambda: self.fs.put_file(item.path, url, **extra), url)
            return item.key, url

        return [done for done in self._each(items, one) if done is not None]

    # -- internals -------------------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        """The s3fs filesystem, made as the S3 datastore makes it (imported on first use)."""
        if self._fs is None or self._fs_pid != os.getpid():  # network clients do not survive fork
            from headwater.store.s3_storage import s3_filesystem

            self._fs, self._fs_pid = s3_filesystem(), os.getpid()
        return self._fs

    def _url(self, key: str | None) -> str:
        if self._root is None:
            if key and str(key).startswith("s3://") and len(str(key)) > 5:
                return str(key)
            raise S3URLException(
                f"{key!r} is not a full s3:// URL and this S3 client has no root",
                fix="use S3(run=self) inside a step, S3(s3root='s3://bucket/prefix'), or give "
                "full s3:// URLs")
        if not key:
            return self._root
        if str(key).startswith("s3://"):
            raise S3URLException(f"{key!r} is a full URL, but this S3 client has the root "
                                 f"{self._root}", fix="give keys relative to the root")
        return f"{self._root}/{str(key).lstrip('/')}"

    @staticmethod
    def _key_of(key: Any) -> Any:
        return getattr(key, "key", key)

    def _local_path(self) -> str:
        if self._tmpdir is None:
            raise S3Exception("this S3 client is closed",
                              fix="download inside its `with S3(...)` block")
        handle, path = tempfile.mkstemp(dir=self._tmpdir, prefix="object.")
        os.close(handle)
        return path

    def _call(self, action: Callable[[], Any], url: str) -> Any:
        """Run one s3fs call; its failures become headwater's errors, naming ``url``."""
        try:
            return action()
        except FileNotFoundError as err:
            raise S3NotFound(f"{url}: {_message(err)}",
                             fix="check that the bucket and the key exist") from None
        except PermissionError as err:
            raise S3AccessDenied(f"access to {url} was denied: {_message(err)}",
                                 fix="check the credentials (AWS_ACCESS_KEY_ID, ...)") from None
        except OSError as err:
            raise S3Exception(f"{url}: {_message(err)}",
                              fix="check the endpoint (AWS_ENDPOINT_URL) and the "
                              "credentials") from None

    def _head(self, url: str) -> dict[str, Any] | None:
        """The object's HEAD reply, or None when there is no such object."""
        bucket, key = _split(url)
        if not key:
            return None
        try:
            return self._call(lambda: self.fs.call_s3("head_object", Bucket=bucket, Key=key), url)
        except S3NotFound:
            return None

    def _list(self, prefix: str, delimiter: str) -> Iterator[tuple[str, int | None]]:
        """``(url, size)`` under ``prefix``; a common prefix (a "folder") has size None."""
        bucket, key = _split(prefix)
        marker: dict[str, str] = {}
        while True:
            page = self._call(partial(self.fs.call_s3, "list_objects_v2", Bucket=bucket,
                                      Prefix=key, Delimiter=delimiter, **marker), prefix)
            for item in page.get("Contents", []):
                yield f"s3://{bucket}/{item['Key']}", int(item["Size"])
            for item in page.get("CommonPrefixes", []):
                yield f"s3://{bucket}/{item['Prefix']}", None
            if not page.get("IsTruncated"):
                return
            marker = {"ContinuationToken": page["NextContinuationToken"]}

    def _object(self, url: str, head: dict[str, Any] | None, path: str | None = None) -> S3Object:
        if head is None:
            return S3Object(self._root, url, path=path)
        modified = head.get("LastModified")
        return S3Object(self._root, url, path=path, size=int(head.get("ContentLength", 0)),
                        content_type=head.get("ContentType"),
                        metadata=_user_metadata(head.get("Metadata") or {}),
                        last_modified=int(modified.timestamp()) if modified else None,
                        has_info=True)

    def _get_url(self, url: str, return_info: bool) -> S3Object:
        head = self._head(url) if return_info else None
        local = self._local_path()
        self._call(lambda: self.fs.get_file(url, local), url)
        return self._object(url, head, path=local)

    @staticmethod
    def _relabel(got: S3Object, listed: S3Object) -> S3Object:
        """``got`` with the key it was listed under (relative to the listed prefix)."""
        got._prefix, got._key = listed.prefix, listed.key
        return got

    def _each(self, items: list[Any], action: Callable[[Any], Any]) -> list[Any]:
        """``action`` of each item, side by side, results in order."""
        if len(items) <= 1:
            return [action(item) for item in items]
        _ = self.fs  # made once here, not by each thread at the same time
        with ThreadPoolExecutor(min(_CONCURRENCY, len(items))) as pool:
            return list(pool.map(action, items))


def _split(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def _message(err: BaseException) -> str:
    from headwater.store.storage import store_message

    return store_message(err)


def _body(obj: Any, url: str) -> bytes:
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if hasattr(obj, "read"):
        data = obj.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise S3InvalidObject(f"cannot put a {type(obj).__name__} at {url}",
                          fix="give bytes, a str (stored as UTF-8) or a file opened in 'rb' mode; "
                          "for other values, pickle them first")


def _put_args(content_type: str | None, metadata: dict[str, str] | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if content_type:
        extra["ContentType"] = content_type
    if metadata:
        extra["Metadata"] = {_USER_ATTRIBUTES: json.dumps(metadata)}
    return extra


def _user_metadata(stored: dict[str, str]) -> dict[str, str] | None:
    raw = stored.get(_USER_ATTRIBUTES)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _put_item(item: Any) -> S3PutObject:
    if isinstance(item, S3PutObject):
        return item
    key, value = item
    return S3PutObject(key, value)


def _file_item(item: Any) -> S3PutObject:
    if isinstance(item, S3PutObject):
        return item
    key, path = item
    return S3PutObject(key, path=os.fspath(path))


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
