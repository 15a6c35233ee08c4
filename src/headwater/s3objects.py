"""The values the ``S3`` client takes and gives back, and its errors (Metaflow's names in brackets).

Kept apart from :mod:`headwater.s3client` (the I/O) so the compatibility layer and a flow can
name them without loading any of it. Nothing here imports s3fs, botocore or asyncio.

Errors::

    HeadwaterException
    ├── StoreError ── S3Exception (MetaflowS3Exception)
    │                 └── S3AccessDenied (MetaflowS3AccessDenied)
    ├── NotFoundError ── MetaflowS3NotFound (what code that imports ``metaflow`` gets)
    │                    └── S3NotFound (what other code gets)
    ├── S3URLException (MetaflowS3URLException)
    ├── S3InvalidObject (MetaflowS3InvalidObject)
    └── S3InvalidRange (MetaflowS3InvalidRange)
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from headwater.exceptions import HeadwaterException, NotFoundError, StoreError

USER_ATTRIBUTES = "metaflow-user-attributes"
"""The one S3 metadata entry that holds ``put(..., metadata=...)`` as JSON (Metaflow's too, so
objects either wrote read back the same in the other)."""


class S3Exception(StoreError):
    """An S3 operation failed (Metaflow: ``MetaflowS3Exception``)."""

    headline = "S3 error"


class MetaflowS3NotFound(NotFoundError):
    """The object, prefix, bucket or local file does not exist: Metaflow's class, raised as is
    when ``metaflow`` is served by headwater, so a Metaflow user sees Metaflow's name, headline
    and message (for an object, its URL alone, first: what a script reading the error parses;
    headwater's fix follows on the next line). Code that is not written for Metaflow gets the
    subclass :class:`S3NotFound`, so ``except MetaflowS3NotFound`` catches what either gets."""

    headline = "S3 object not found"

    @property
    def message(self) -> str:
        """The message without the fix (Metaflow's exceptions keep it under this name)."""
        return self.msg


class S3NotFound(MetaflowS3NotFound):
    """headwater's name for :class:`MetaflowS3NotFound`, with headwater's wording."""

    headline = "Not found"


def s3_not_found(metaflow_message: str, headwater_message: str,
                 fix: str) -> MetaflowS3NotFound:
    """The error for a missing object, local file or bucket: Metaflow's class and message
    (for an object, its URL alone) when ``metaflow`` is served by headwater, else headwater's
    own wording."""
    from headwater.version import serving_metaflow

    if serving_metaflow():
        return MetaflowS3NotFound(metaflow_message, fix=fix)
    return S3NotFound(headwater_message, fix=fix)


class S3AccessDenied(S3Exception):
    """The credentials may not read or write there (Metaflow: ``MetaflowS3AccessDenied``)."""


class S3URLException(HeadwaterException):
    """A key or root is not a usable S3 URL (Metaflow: ``MetaflowS3URLException``)."""

    headline = "Bad S3 URL"


class S3InvalidObject(HeadwaterException):
    """``put`` was given a value that is not bytes, str or a readable file object."""

    headline = "Cannot store this object in S3"


class S3InvalidRange(HeadwaterException):
    """The byte range asked for lies outside the object (Metaflow: ``MetaflowS3InvalidRange``)."""

    headline = "Invalid S3 byte range"


class S3PutObject(NamedTuple):
    """One object for :meth:`S3.put_many` (``value``) or :meth:`S3.put_files` (``path``).

    The fields are in Metaflow's order, so positional construction means the same in both.
    ``encryption`` (e.g. ``"AES256"``) overrides the client's server-side encryption.
    """

    key: str
    value: Any = None
    path: str | None = None
    content_type: str | None = None
    encryption: str | None = None
    metadata: dict[str, str] | None = None


class S3GetObject(NamedTuple):
    """A key for :meth:`S3.get` / :meth:`S3.get_many`, optionally a byte range of it.

    ``offset`` alone reads from there to the end; ``length`` alone (or with ``offset``) reads
    that many bytes; a negative ``length`` reads the last ``-length`` bytes (``offset`` ignored).
    """

    key: str
    offset: int | None = None
    length: int | None = None


class RangeInfo(NamedTuple):
    """What part of an object a download holds: ``total_size`` is the whole object's size."""

    total_size: int
    request_offset: int = 0
    request_length: int = -1


def range_header(offset: int | None, length: int | None) -> str | None:
    """The HTTP ``Range`` of an :class:`S3GetObject`'s offset and length; None for all of it."""
    if offset is None and length is None:
        return None
    start = offset or 0
    if length is None:
        return f"bytes={start}-"
    if length < 0:
        return f"bytes=-{-length}"
    return f"bytes={start}-{start + length - 1}"


class S3Object:
    """An object (or, from ``list_paths``, a prefix) in S3, with its local copy once downloaded.

    ``key`` is relative to ``prefix`` (the client's root, or the prefix that was listed); it is the
    full URL when there is no prefix. ``exists`` is False for a prefix and for a missing object
    asked for with ``return_missing=True``. ``has_info`` is True when the content type, metadata,
    byte range or encryption were read with it (``info``, and ``get`` with ``return_info``).
    """

    def __init__(self, prefix: str | None, url: str, path: str | None = None,
                 size: int | None = None, content_type: str | None = None,
                 metadata: dict[str, str] | None = None, range_info: RangeInfo | None = None,
                 last_modified: int | None = None, encryption: str | None = None) -> None:
        self._url = url
        self._path = path
        self._size = os.stat(path).st_size if path else size
        self._content_type = content_type
        self._metadata = user_metadata(metadata)
        if range_info is not None and (range_info.request_length is None
                                       or range_info.request_length < 0):
            range_info = RangeInfo(range_info.total_size, range_info.request_offset,
                                   range_info.total_size)
        self._range_info = range_info
        self._last_modified = last_modified
        self._encryption = encryption
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
    size = property(lambda self: self._size,
                    doc="Bytes (of the range downloaded, if one was), or None if missing.")
    content_type = property(lambda self: self._content_type)
    metadata = property(lambda self: self._metadata, doc="The user metadata given to ``put``.")
    encryption = property(lambda self: self._encryption,
                          doc="The server-side encryption S3 reported (e.g. ``AES256``).")
    range_info = property(lambda self: self._range_info,
                          doc="The :class:`RangeInfo` of a download made with ``return_info``.")
    last_modified = property(lambda self: self._last_modified,
                             doc="Seconds since the epoch (int), when known.")

    @property
    def has_info(self) -> bool:
        """True when content type, metadata, range or encryption came with this object."""
        return any(value is not None for value in (self._content_type, self._metadata,
                                                   self._range_info, self._encryption))

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
        if self._path:
            return f"<S3Object {self._url} ({self._size} bytes, local)>"
        if self._size is not None:
            return f"<S3Object {self._url} ({self._size} bytes, in S3)>"
        return f"<S3Object {self._url} (object does not exist)>"

    __str__ = __repr__


_LEAF_MAX = 150  # characters of the object's name kept in a local file's name


def local_name(url: str, byte_range: str | None = None, suffix: str | None = None) -> str:
    """A file name for the local copy of ``url`` (or of one byte range of it): the SHA-1 of the
    URL, so long or odd keys make valid, distinct names, then its last part (cut to 150
    characters, marked ``...``) for people reading the folder, then the range. Under 255
    characters, as file systems require; Metaflow names its copies the same way."""
    from hashlib import sha1
    from urllib.parse import quote

    quoted = quote(url.encode("utf-8"), safe="/:")
    leaf = quoted.rsplit("/", 1)[-1].replace(".", "_").replace("-", "_")
    if len(leaf) > _LEAF_MAX:
        leaf = leaf[:_LEAF_MAX] + "..."
    part = "whole" if not byte_range else byte_range[len("bytes="):].replace("-", "_")
    return "-".join([sha1(quoted.encode("ascii")).hexdigest(), leaf, part]
                    + ([suffix] if suffix else []))


def user_metadata(stored: dict[str, str] | None) -> dict[str, str] | None:
    """The user's metadata dict out of an object's S3 metadata, or None if it has none."""
    raw = (stored or {}).get(USER_ATTRIBUTES)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
