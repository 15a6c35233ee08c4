"""Content-addressed artifacts, written once above the :class:`~headwater.store.storage.Storage`
interface so every backend gets the same behaviour.

A blob's key is the xxh3-128 hex digest of its bytes and it lives at ``blobs/<key[:2]>/<key>``
(256 fan-out folders keep directories small on local disks and spread object-store prefixes).
The same value saved by any step of any run is stored once. Every read is verified against the
key before a byte of it is unpickled: xxh3 hashes ~9 GB/s, far cheaper than the read itself.
"""

from __future__ import annotations

import errno
import sys
import time
from collections.abc import Iterable, Sequence

import xxhash

from headwater.exceptions import ArtifactError, DataIntegrityError, StoreError
from headwater.records import ArtifactRef
from headwater.store.serialize import (
    SERIALIZER_HOOK,
    SERIALIZER_PREFIX,
    Encoded,
    Part,
    decode,
    decode_item,
    encode,
    encode_items,
    item_spans,
    standalone_pickle,
)
from headwater.store.storage import Storage, open_storage, store_message

BLOB_DIR = "blobs"
PIN_DIR = "pins"
"""``pins/<key>``: a blob kept by garbage collection though no run references it yet (the code
package of a deployed flow, before its first run)."""
CLAIM_TTL_S = 300.0
"""How long a process trusts its own memory that it wrote (or touched) a blob, before it touches
it again on the next save. Garbage collection never collects a blob whose time is later than the
start of the oldest live run minus this (see headwater.maintenance.sweep)."""
PICKLE = "pickle5"
RAW = "raw"
ITEMS_CACHE_SIZE = 8
INLINE_MAX_BYTES = 1024
"""Artifacts whose pickle is at most this big ride in their ArtifactRef (and so in the metadata
row) instead of a blob of their own: a counter, a short string or a small dict costs no file
creation (no object PUT on S3) and no read. The content hash is kept, and checked on load."""
"""Verified foreach item blobs kept per process, so reading many items hashes each blob once."""
_looked_for_serializers = False


def discover_serializers() -> None:
    """Activate the serializers installed packages declare, once per process.

    Cheap when there are none (one scan of the installed distributions' entry point files, no
    import); a task forked after the run's process did this inherits the result.
    """
    global _looked_for_serializers
    if _looked_for_serializers:
        return
    _looked_for_serializers = True
    if "headwater.store.serializers" in sys.modules:
        return  # imported already: it declared them when it was
    from headwater import backends

    if backends.may_declare("headwater.serializers"):
        import headwater.store.serializers  # noqa: F401 - declares and activates them


def content_key(parts: Iterable[Part]) -> str:
    """xxh3-128 hex digest (32 chars) of the concatenated parts, without concatenating them."""
    hasher = xxhash.xxh3_128()
    for part in parts:
        hasher.update(part)
    return hasher.hexdigest()


def blob_path(key: str) -> str:
    """Storage key of a blob: ``blobs/ab/ab12...``."""
    return f"{BLOB_DIR}/{key[:2]}/{key}"


def live_log_key(flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
    """Where a running attempt's output so far is kept: the stem of its scratch segments
    (``<stem>.00000001``, ...: each holds only what the task printed since the one before), all
    deleted when the attempt's log is stored as a blob; see :mod:`headwater.runtime.live_logs`.
    Earlier versions kept the whole output so far under the stem itself."""
    return f"logs/live/{flow}/{run_id}/{step}/{task_id}/{attempt}.{stream}"


def live_log_segment_key(stem: str, number: int) -> str:
    """The ``number``-th segment (from 1) of the live output under ``stem``; zero-padded, so the
    storage's sorted listing is the segments' order."""
    return f"{stem}.{number:08d}"


def read_live_log(storage: Storage, stem: str) -> bytes | None:
    """A running (or killed) attempt's output so far: its segments joined in order, after what an
    earlier version kept under the stem itself; None when nothing was kept."""
    keys = [key for key in storage.list(stem)
            if key == stem or (key[len(stem):len(stem) + 1] == "." and key[len(stem) + 1:].isdigit())]
    if not keys:
        return None
    parts = []
    for key in keys:
        try:
            parts.append(bytes(storage.read(key)))
        except FileNotFoundError:  # the task ended meanwhile and its scratch keys went
            return None
    return b"".join(parts)


def _artifact(name: str, where: str) -> str:
    return f"artifact '{name}' of task {where}"


class DataStore:
    """Saves and loads artifacts, raw byte blobs and foreach item lists by content hash."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._claimed: dict[str, float] = {}  # key -> when this process last wrote or touched it
        self._known: set[str] = set()  # keys seen stored by a read-side check (has_many)
        self._items: dict[str, memoryview] = {}  # verified items blobs, oldest first

    @property
    def root(self) -> str:
        return self._storage.root

    @property
    def storage(self) -> Storage:
        return self._storage

    def close(self) -> None:
        """Drop the cached items and close the storage backend (its connections, if any)."""
        self._items.clear()
        self._storage.close()

    def __enter__(self) -> DataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_artifact(self, value: object, *, name: str, where: str) -> ArtifactRef:
        """Serialize ``value`` and store it unless an identical blob is already there.

        Pickle unless an active custom serializer claims the value (``SERIALIZER_HOOK``).
        """
        if SERIALIZER_HOOK.dispatch is not None:
            ref = SERIALIZER_HOOK.dispatch.save(self, value, name=name, where=where)
            if ref is not None:
                return ref
        encoded = encode(value, name=name, where=where)
        if encoded.size <= INLINE_MAX_BYTES:
            return _inline_ref(encoded)
        key = self._put(encoded.parts, _artifact(name, where))
        return ArtifactRef(key, encoded.size, encoded.type_name, PICKLE)

    def load_artifact(self, ref: ArtifactRef, *, name: str, where: str) -> object:
        """Read, verify and unpickle an artifact. Large arrays come back zero-copy on local disk."""
        what = _artifact(name, where)
        if ref.encoding == RAW:
            return self.load_bytes(ref.key, what=what)
        if ref.encoding != PICKLE:
            if ref.encoding.startswith(SERIALIZER_PREFIX):
                from headwater.store.serializers import dispatch

                return dispatch.load(self, ref, name=name, where=where)
            raise ArtifactError(
                f"cannot load {what}: unknown encoding {ref.encoding!r}", fix="upgrade headwater"
            )
        if ref.inline is not None:
            return _load_inline(ref, name, where, what)
        return decode(self._read_verified(ref.key, what), name=name, where=where)

    def artifact_pickle(self, ref: ArtifactRef, *, name: str, where: str) -> bytes:
        """A pickled artifact's verified bytes as one ordinary pickle, never unpickled here:
        what the UI offers for download when it cannot import the value's classes."""
        what = _artifact(name, where)
        if ref.encoding != PICKLE:
            raise ArtifactError(f"cannot give {what} as a pickle: it is stored as "
                                f"{ref.encoding!r}", fix="read it with the client")
        if ref.inline is not None:
            buf = _verified(memoryview(ref.inline), ref.key, what,
                            "its inline bytes in the metadata", fix=_ALTERED_ROW)
        else:
            buf = self._read_verified(ref.key, what)
        return standalone_pickle(buf, name=name, where=where)

    def save_serialized(self, data: bytes, *, type_name: str, encoding: str,
                        what: str) -> ArtifactRef:
        """Store a custom serializer's bytes as they are (inline in the ref when small)."""
        if len(data) <= INLINE_MAX_BYTES:
            return ArtifactRef(content_key([data]), len(data), type_name, encoding,
                               inline=bytes(data))
        key = self._put([data], what)
        return ArtifactRef(key, len(data), type_name, encoding)

    def load_serialized(self, ref: ArtifactRef, *, what: str) -> memoryview:
        """The verified bytes of an artifact :meth:`save_serialized` stored."""
        if ref.inline is not None:
            return _verified(memoryview(ref.inline), ref.key, what,
                             "its inline bytes in the metadata", fix=_ALTERED_ROW)
        return self._read_verified(ref.key, what)

    def save_bytes(self, data: bytes | memoryview) -> ArtifactRef:
        """Store raw bytes (logs, included files) as they are."""
        key = self._put([data], "raw bytes")
        return ArtifactRef(key, memoryview(data).nbytes, "bytes", RAW)

    def load_bytes(self, key: str, *, what: str) -> bytes:
        """Read and verify a raw blob; ``what`` names it in errors (e.g. "stdout of task ...")."""
        return bytes(self._read_verified(key, what))

    def save_items(self, seq: object, *, name: str, where: str) -> tuple[str, int]:
        """Store a foreach sequence with each item pickled apart; return ``(key, count)``."""
        encoded, count = encode_items(seq, name=name, where=where)
        key = self._put(encoded.parts, f"foreach items '{name}' of task {where}")
        return key, count

    def load_item(self, key: str, index: int, *, name: str, where: str) -> object:
        """Unpickle one foreach item without unpickling the others.

        The whole blob is hashed once per process and then kept: a hash cannot vouch for part of
        a blob, the blob is one memory map (or one download), and hashing a million-item blob
        takes about a millisecond. Later calls for the same key only unpickle.
        """
        buf = self._items.get(key)
        if buf is None:
            buf = self._read_verified(key, f"foreach items '{name}' of task {where}")
            if len(self._items) >= ITEMS_CACHE_SIZE:
                del self._items[next(iter(self._items))]
            self._items[key] = buf
        return decode_item(buf, index, name=name, where=where)

    def item_keys(self, key: str, *, name: str, where: str) -> list[str]:
        """The content key of each item of a foreach items blob, in order.

        Two equal items (pickled alike) get the same key wherever they sit in the sequence:
        @cache keys a foreach task on its item, not on its position.
        """
        buf = self._items.get(key)
        if buf is None:
            buf = self._read_verified(key, f"foreach items '{name}' of task {where}")
        return [content_key([buf[start:end]])
                for start, end in item_spans(buf, name=name, where=where)]

    def has_many(self, keys: Iterable[str]) -> set[str]:
        """The subset of blob ``keys`` present in the store, checked in one batch."""
        wanted = set(keys)
        unknown = wanted - self._known
        if unknown:
            paths = {blob_path(k): k for k in unknown}
            found = {paths[p] for p in self._storage.exists_many(paths)}
            self._known |= found
        return wanted & self._known

    def refresh_many(self, keys: Iterable[str]) -> set[str]:
        """Give each of blob ``keys`` a fresh modification time, as a write finding it there
        does, so a ``gc`` running now keeps it (its sweep skips what is newer than its cutoff);
        returns the keys present. For a task about to be cloned whose data a succeeded run no
        longer counts (``@transient``): the clone will refer to it, but only once recorded."""
        found = set()
        for key in set(keys):
            try:
                present = self._storage.touch(blob_path(key))
            except OSError:
                present = False
            if present:
                found.add(key)
        return found

    def _put(self, parts: Sequence[Part], what: str) -> str:
        """Store the blob unless it is there; a blob found there is touched, so that garbage
        collection sees it as just written (the run saving it will reference it soon)."""
        key = content_key(parts)
        now = time.time()
        if now - self._claimed.get(key, float("-inf")) < CLAIM_TTL_S:
            return key
        try:
            if not self._storage.touch(blob_path(key)):
                self._storage.put(blob_path(key), parts)
        except OSError as exc:
            raise StoreError(
                f"cannot save {what}: the store refused to write blob {key} to {self.root}: "
                f"{store_message(exc)}",
                fix=_write_fix(exc, self.root),
            ) from exc
        self._claimed[key] = now
        self._known.add(key)
        return key

    def pin(self, key: str, why: str) -> None:
        """Keep blob ``key`` through garbage collection though no run references it (yet)."""
        self._storage.put(f"{PIN_DIR}/{key}", [why.encode("utf-8")])

    def _read_verified(self, key: str, what: str) -> memoryview:
        try:
            buf = self._storage.read(blob_path(key))
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"cannot load {what}: its blob {key} is missing from {self.root}",
                fix="check the datastore root; the blob may have been deleted",
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"cannot load {what}: reading blob {key} from {self.root} failed: "
                f"{store_message(exc)}",
                fix=_read_fix(exc, self.root),
            ) from exc
        return _verified(buf, key, what, f"blob {key} in {self.root}")


def inline_ref(value: object, *, name: str, where: str) -> ArtifactRef:
    """The ref of a small value that carries its encoded bytes itself, stored nowhere: for
    artifacts the client shows without any task having written them (the flow's ``name``)."""
    return _inline_ref(encode(value, name=name, where=where))


def _inline_ref(encoded: Encoded) -> ArtifactRef:
    """The ref of a small artifact, which carries its encoded bytes itself."""
    data = b"".join(bytes(part) for part in encoded.parts)
    return ArtifactRef(content_key([data]), encoded.size, encoded.type_name, PICKLE, inline=data)


def _load_inline(ref: ArtifactRef, name: str, where: str, what: str) -> object:
    # A bytearray, not the bytes: values come back writable, as from a blob's mmap.
    buf = memoryview(bytearray(ref.inline or b""))
    return decode(_verified(buf, ref.key, what, "its inline bytes in the metadata",
                            fix=_ALTERED_ROW), name=name, where=where)


_ALTERED_ROW = ("its row in the metadata database was altered: rerun the task that produced it "
                "(`resume STEP` from a run that has it whole)")


def warm_codecs(rounds: int) -> None:
    """Encode, hash and decode a small artifact and a foreach item, in memory only (no storage
    is touched): a fork server runs this between two forks, so each later task finds the code
    they run already warmed up (Python 3.11 quickens a function's bytecode in place after its
    first calls, a copy-on-write page copied in every forked task that calls it first)."""
    for _ in range(rounds):
        ref = _inline_ref(encode(0, name="warm", where="warm"))
        _load_inline(ref, "warm", "warm", "warm")
        items, _count = encode_items([0, 1], name="warm", where="warm")
        buf = memoryview(bytearray(b"".join(bytes(part) for part in items.parts)))
        decode_item(_verified(buf, content_key([buf]), "warm", "warm"), 1, name="warm",
                    where="warm")


def _verified(buf: memoryview, key: str, what: str, where: str,
              fix: str = "rerun the task that produced it; delete the corrupt blob file first",
              ) -> memoryview:
    """``buf`` if its content hash is ``key``; else a DataIntegrityError naming ``where``."""
    actual = xxhash.xxh3_128_hexdigest(buf)
    if actual != key:
        raise DataIntegrityError(
            f"cannot load {what}: {where} is corrupt ({buf.nbytes} bytes that hash to {actual}, "
            f"not {key})",
            fix=fix,
        )
    return buf


def open_datastore(root: str) -> DataStore:
    """A :class:`DataStore` on a local folder (blobs under ``<root>/blobs/``) or an fsspec URL."""
    return DataStore(open_storage(root))


def _unreachable_fix(exc: OSError, root: str, then: str) -> str:
    """The fix for a store that did not answer in time, or could not be reached at all."""
    if exc.errno == errno.ETIMEDOUT:
        wait = ""
        if root.startswith(("s3://", "s3a://")):
            wait = (" (each S3 request waits HEADWATER_S3_TIMEOUT_S, 30 s by default, and is "
                    "tried again: raise it for a slow server)")
        return (f"the datastore's server for {root} did not answer in time{wait}: check that "
                f"it is up and reachable from here, {then}")
    return (f"the datastore's server for {root} could not be reached: check that it is up "
            f"and reachable from here (AWS_ENDPOINT_URL for an S3-compatible server), {then}")


# What S3 (and S3-compatible servers) answer a key that does not exist, was deleted or has
# expired, or a request signed with the wrong secret.
_REFUSED_CREDENTIALS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                        "InvalidToken", "TokenRefreshRequired", "RequestExpired",
                        "InvalidClientTokenId")


def _read_fix(exc: OSError, root: str) -> str | None:
    """The fix for a blob that could not be read, when the error says why (no answer)."""
    if exc.errno in (errno.ETIMEDOUT, errno.ECONNREFUSED):
        return _unreachable_fix(exc, root, "then `resume` the run")
    return None


def _write_fix(exc: OSError, root: str) -> str:
    """The fix for a blob the store refused: what ran out, when the error says (a full disk, a
    quota, no file descriptor left), else what to check."""
    then = "then `resume` the run: what succeeded before is kept"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "disk" if exc.errno == errno.ENOSPC else "disk quota"
        return f"the {what} holding the datastore is full: free space (`df -h {root}`), {then}"
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"no file descriptor was left: raise the limit (e.g. `ulimit -n 4096`), {then}"
    if exc.errno == errno.EFBIG:
        return ("the blob is larger than this process may write (`ulimit -f`): raise the limit "
                f"(`ulimit -f unlimited`), {then}")
    if exc.errno == errno.EROFS:
        return f"the datastore {root} is on a read-only filesystem: remount it writable, {then}"
    if exc.errno in (errno.ETIMEDOUT, errno.ECONNREFUSED):
        return _unreachable_fix(exc, root, then)
    said = store_message(exc)
    if any(code in said for code in _REFUSED_CREDENTIALS):
        return (f"the datastore {root} no longer accepts this process's credentials (expired, "
                "revoked or wrong): renew them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
                f"AWS_SESSION_TOKEN, an `aws sso login`, the role's session), {then}")
    if said.startswith("AccessDenied"):
        return (f"these credentials may not write to the datastore {root} (AccessDenied: a "
                "policy, a read-only key, a bucket quota): give them write access to it "
                f"(s3:PutObject on its prefix), {then}")
    return ("make the datastore root writable again (does the bucket or folder exist? may these "
            f"credentials write to it? is there space?), {then}")
