"""A datastore under any fsspec URL (``gs://``, ``az://``, ``memory://``...).

fsspec (and its cloud driver) is imported only when this backend is chosen.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from headwater.exceptions import StoreError
from headwater.store.storage import (
    Part,
    Storage,
    _check_key,
    _is_temp_name,
    _temp_name,
    store_errors,
    store_message,
)

_ATOMIC_PUT_PROTOCOLS = frozenset({"memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
"""Backends whose single-object write is all-or-nothing; others write a temp name, then move."""

_REMOTE_CHECK_THREADS = 16

_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure",
           "abfss": "azure"}
"""The pip extra that brings each cloud's fsspec driver (s3fs, gcsfs, adlfs)."""

_CREDENTIALS_FIX = {
    "gs": "check that the bucket exists and the credentials: GOOGLE_APPLICATION_CREDENTIALS "
          "(a service account's key file) or `gcloud auth application-default login`; "
          "STORAGE_EMULATOR_HOST for an emulator",
    "az": "check that the container exists and the credentials: "
          "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
          "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN (or a login azure-identity finds)",
    "s3": "check that the bucket exists, the credentials (AWS_ACCESS_KEY_ID, ...) and the "
          "endpoint (AWS_ENDPOINT_URL for S3-compatible servers)",
}
_CREDENTIALS_FIX.update(gcs=_CREDENTIALS_FIX["gs"], abfs=_CREDENTIALS_FIX["az"],
                        abfss=_CREDENTIALS_FIX["az"], s3a=_CREDENTIALS_FIX["s3"])


def credentials_fix(root: str) -> str:
    """What to check when the store at ``root`` refuses us, in its own cloud's words."""
    scheme = root.partition("://")[0]
    return _CREDENTIALS_FIX.get(scheme, "check that the location exists and that this user "
                                        "may write there (and the driver's credentials)")


def check_root(url: str) -> None:
    """Refuse a remote datastore root that is not a plain location, before any driver sees it.

    A root is written into every key's path, shown by ``configure show``, the UI and
    ``task.metadata`` (``ds-root``), and passed to exit hooks on their command line. So it must
    hold no credentials: a pasted SAS or signed URL (``?sig=...``) became part of every blob's
    name, a ``user:password@`` sat in clear wherever the root is shown. A ``.`` or ``..`` segment
    means another prefix than it says (object stores keep it as a name); a control character is
    never part of a bucket's or a prefix's name. The error shows the root with its secrets
    masked (:func:`headwater.redaction.redact`) and says where credentials go instead."""
    from headwater.redaction import redact

    scheme, _, rest = url.partition("://")
    problem = None
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in url):
        problem = "holds a control character"
    elif "?" in rest or "#" in rest:
        problem = "holds a query string or a fragment ('?' or '#'), such as a signed URL's token"
    elif ":" in rest.split("/", 1)[0].rpartition("@")[0]:  # bucket/authority only
        problem = "holds a password (user:password@)"
    elif any(part in (".", "..") for part in rest.split("/")[1:]):
        problem = "holds a '.' or '..' segment (object stores keep it as a name)"
    if problem:
        raise StoreError(
            f"the datastore root {redact(url)} {problem}",
            fix=f"give the root as {scheme}://BUCKET/PREFIX, holding no credentials; then "
                f"{credentials_fix(url)}")


class FsspecStorage(Storage):
    """Blobs under any fsspec URL. fsspec (and its cloud driver) is imported only here."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        check_root(url)
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
            self._fs = self._connect()
            self._fs_pid = os.getpid()
        return self._fs

    def _connect(self) -> Any:
        """The driver's filesystem for the root, or a StoreError saying what to install or
        set: a driver refuses in its own words (adlfs with no account raises ValueError)."""
        import fsspec  # deferred: local runs never pay for it

        scheme = self.root.partition("://")[0]
        try:
            fs, _ = fsspec.core.url_to_fs(self.root, skip_instance_cache=True, **self._options)
        except ImportError as err:
            extra = _EXTRAS.get(scheme)
            fix = (f"pip install 'headwater[{extra}]'" if extra
                   else f"install the fsspec driver for {scheme}:// ({err})")
            raise StoreError(f"the datastore root {self.root} needs a driver that is not "
                             "installed", fix=fix) from None
        except Exception as err:  # noqa: BLE001 - any driver's refusal; its message is kept
            raise StoreError(f"the datastore root {self.root} cannot be opened: "
                             f"{store_message(err)}", fix=credentials_fix(self.root)) from None
        return fs

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
                fix=credentials_fix(self.root),
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

    def delete(self, key: str) -> None:
        with store_errors(), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

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
