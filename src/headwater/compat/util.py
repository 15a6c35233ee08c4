"""``metaflow.util``: the few helpers flows, mutators and test harnesses import from it.

Metaflow's S3 helpers pass URLs around as UTF-8 bytes quoted with ``/`` and ``:`` kept
(``url_quote``/``url_unquote``) and turn any value into bytes or a file of bytes.
"""

from __future__ import annotations

import io
import os
from typing import Any
from urllib.parse import quote, unquote_to_bytes

unicode_type = str
bytes_type = bytes


def is_stringish(value: Any) -> bool:
    """True for text or bytes: values a checker may parse as JSON."""
    return isinstance(value, (str, bytes, bytearray))


def to_bytes(value: Any) -> bytes:
    """Text as UTF-8, bytes as they are, anything else as the UTF-8 of its ``str``
    (a float as its ``repr``, which keeps every digit)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    return (repr(value) if isinstance(value, float) else str(value)).encode("utf-8")


def to_unicode(value: Any) -> str:
    """Bytes decoded as UTF-8, anything else as its ``str``."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def to_fileobj(value: Any) -> io.BytesIO:
    """A binary file object reading :func:`to_bytes` of ``value``."""
    return io.BytesIO(to_bytes(value))


def get_username() -> str | None:
    """The user's name as Metaflow's ``metaflow.util.get_username`` finds it: ``METAFLOW_USER``,
    else ``SUDO_USER``, ``USERNAME`` or ``USER``, the first set that is not ``root``; None when
    there is none (a mutator names events with it)."""
    for var in ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER"):
        value = os.environ.get(var)
        if value and value != "root":
            return value
    return None


def url_quote(url: Any) -> bytes:
    """``url`` percent-quoted (``/`` and ``:`` kept), as bytes safe to write on one line."""
    return quote(to_bytes(url), safe="/:").encode("ascii")


def url_unquote(quoted: bytes | str) -> str:
    """The URL :func:`url_quote` quoted."""
    return unquote_to_bytes(quoted).decode("utf-8")


def to_pod(value: Any) -> Any:
    """Metaflow's ``to_pod``: ``value`` as plain data (what ``node_info`` is stored as): text
    and numbers kept, containers converted, callables named by ``__qualname__``, the rest
    ``str``."""
    from headwater.graph.info import plain_data

    return plain_data(value)


__all__ = ["get_username", "is_stringish", "to_bytes", "to_unicode", "to_fileobj", "url_quote",
           "url_unquote", "unicode_type", "bytes_type", "to_pod"]
