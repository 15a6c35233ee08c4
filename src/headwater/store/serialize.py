"""Turn values into blob bytes and back: pickle protocol 5 with out-of-band buffers.

Two blob kinds share one 4-byte preamble::

    offset 0  b"HW"       magic
    offset 2  version     u8 (currently 1)
    offset 3  flags       u8: bits 0-1 kind, bits 4-7 codec (0 = uncompressed)

Kind 0, *inline*: the pickle stream follows the preamble. Every small value is stored like this,
so its overhead is four bytes.

Kind 1, *buffers*: large contiguous buffers (numpy arrays, a big ``bytearray``) were taken out of
the pickle stream. The preamble is followed by ``nbuf: u32, pickle_len: u64`` and ``nbuf`` pairs
``(offset: u64, length: u64)``, then the pickle stream, then each buffer starting at an offset that
is a multiple of 64. Offsets are counted from the start of the blob; a memory map starts on a page
boundary, so an array read from a mapped blob is 64-byte aligned in memory too (what SIMD loops
want) and is handed to numpy without a copy.

Kind 2, *items*: a foreach sequence with every item pickled on its own. The preamble is followed by
``count: u64`` and ``count + 1`` offsets ``u64`` (item ``i`` is ``blob[off[i]:off[i+1]]``), then the
item pickles. Loading item ``i`` unpickles that item only.

The codec nibble leaves room to compress a blob when it pays (a dataframe shrinks ~4x with zstd; a
float array does not shrink at all). Nothing is compressed yet, and a reader refuses codecs it
does not know instead of returning garbage.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterable, Mapping, Sequence, ValuesView
from collections.abc import Set as AbstractSet
from typing import Any

from headwater.exceptions import SerializationError
from headwater.records import Record

MAGIC = b"HW"
VERSION = 1
KIND_INLINE = 0
KIND_BUFFERS = 1
KIND_ITEMS = 2
CODEC_NONE = 0
ALIGN = 64
INLINE_LIMIT = 4096
"""Buffers smaller than this stay inside the pickle stream: a table entry and padding would cost
more than the copy saves, and it keeps small values in the 4-byte inline form."""

_PREAMBLE = struct.Struct("<2sBB")
_BUFFERS_HEAD = struct.Struct("<IQ")
_PAIR = struct.Struct("<QQ")
_U64 = struct.Struct("<Q")
_PAD = bytes(ALIGN)

Part = bytes | memoryview

SERIALIZER_PREFIX = "serializer:"
"""The encoding of an artifact a custom serializer wrote: this prefix, then a JSON document of
which serializer and what it recorded (see :mod:`headwater.store.serializers.dispatch`)."""


class SerializerHook:
    """Where the datastore finds the custom-serializer dispatch: ``dispatch`` is set only while
    a serializer besides pickle is active, so with pickle alone a save costs one check."""

    __slots__ = ("dispatch",)

    def __init__(self) -> None:
        self.dispatch: Any = None


SERIALIZER_HOOK = SerializerHook()


class Encoded(Record, frozen=True, slots=True):
    """A value ready to be written: its blob is ``b"".join(parts)``, never actually joined."""

    parts: list[Part]
    type_name: str
    size: int


def type_name_of(value: object) -> str:
    """``module.qualname`` of the value's type, as the client shows it."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(name: str, where: str) -> str:
    if not name:
        return "value"
    return f"artifact '{name}' of task {where}" if where else f"artifact '{name}'"


class _LargeBytes:
    """Pickles a top-level ``bytes``/``bytearray`` as an out-of-band buffer.

    Pickle writes these two types in-band (a copy into the stream); wrapping the top-level value
    lets a large one go straight from the caller's memory to the file. The stream refers to the
    real type only, so readers never see this class.
    """

    __slots__ = ("value",)

    def __init__(self, value: bytes | bytearray) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self.value), (pickle.PickleBuffer(self.value),)


def _pickle(value: object, name: str, where: str) -> tuple[bytes, list[memoryview]]:
    buffers: list[memoryview] = []

    def take(buf: pickle.PickleBuffer) -> bool:
        raw = buf.raw()
        if raw.nbytes < INLINE_LIMIT:
            return True  # true means "keep it in-band"
        buffers.append(raw)
        return False

    top: object = value
    if isinstance(value, (bytes, bytearray)) and len(value) >= INLINE_LIMIT:
        top = _LargeBytes(value)
    try:
        stream = pickle.dumps(top, protocol=5, buffer_callback=take)
    except Exception as exc:  # pickle raises TypeError, PicklingError, AttributeError, ...
        raise _unpicklable(value, _describe(name, where), _fix_for(name, value), exc) from exc
    return stream, buffers


def _fix_for(name: str, value: object = None) -> str:
    if not name:
        return "store only values that pickle can serialize"
    drop = (f"delete it before the step ends (del self.{name}) or make it private by naming it "
            f"_{name}")
    kind = _kind_fix(name, value)
    return f"{kind}; or {drop}" if kind else drop


def _kind_fix(name: str, value: object) -> str | None:
    """The usual way to keep what a value of this kind was for, when pickle cannot store it:
    a generator's items, a lambda's module-level twin, a file's path, a connection's address."""
    import inspect
    import io

    if inspect.isgenerator(value) or type(value).__name__ in (
            "map", "filter", "zip", "enumerate", "reversed") or (
            type(value).__module__ == "itertools"):
        return (f"it is a one-pass iterator: store its items, self.{name} = list(...) "
                "(or a tuple)")
    if inspect.isfunction(value) and ("<lambda>" in value.__qualname__
                                      or "<locals>" in value.__qualname__):
        return (f"a lambda or a function defined inside a step cannot be stored: define it at "
                f"the top level of the flow file (def {name}(...): ...), which is stored by "
                "name, or store the values it computes")
    if isinstance(value, io.IOBase):
        return (f"an open file belongs to one process: store its path (self.{name}_path = ...) "
                "or its contents, and open it again in the step that needs it")
    if type(value).__name__ in ("Connection", "Cursor", "socket", "lock", "RLock", "Thread",
                                "Engine", "Session", "Client"):
        return ("a connection, lock or client belongs to one process: store what opens it (a "
                "path, a URL, settings) and open it again in each step that needs it")
    return None


def _unpicklable(value: object, what: str, fix: str, exc: Exception) -> SerializationError:
    msg = f"cannot save {what}: a {type_name_of(value)} cannot be pickled ({exc})"
    return SerializationError(msg, fix=fix)


def encode(value: object, *, name: str = "", where: str = "") -> Encoded:
    """Serialize ``value`` without copying its large buffers.

    ``name`` and ``where`` (the artifact and the task) only make error messages useful.
    """
    stream, buffers = _pickle(value, name, where)
    if not buffers:
        head = _PREAMBLE.pack(MAGIC, VERSION, KIND_INLINE)
        return Encoded([head, stream], type_name_of(value), len(head) + len(stream))
    return _encode_buffers(stream, buffers, type_name_of(value))


def _encode_buffers(stream: bytes, buffers: list[memoryview], type_name: str) -> Encoded:
    head_len = _PREAMBLE.size + _BUFFERS_HEAD.size + _PAIR.size * len(buffers)
    pos = head_len + len(stream)
    pairs: list[int] = []
    body: list[Part] = [stream]
    for buf in buffers:
        pad = -pos % ALIGN
        if pad:
            body.append(_PAD[:pad])
        pos += pad
        pairs += (pos, buf.nbytes)
        body.append(buf)
        pos += buf.nbytes
    head = b"".join(
        (
            _PREAMBLE.pack(MAGIC, VERSION, KIND_BUFFERS),
            _BUFFERS_HEAD.pack(len(buffers), len(stream)),
            struct.pack(f"<{len(pairs)}Q", *pairs),
        )
    )
    return Encoded([head, *body], type_name, pos)


def _read_preamble(buf: memoryview, name: str, where: str) -> int:
    """Check magic, version and codec; return the blob kind."""
    if buf.nbytes < _PREAMBLE.size:
        raise SerializationError(f"cannot load {_describe(name, where)}: blob is too short")
    magic, version, flags = _PREAMBLE.unpack_from(buf)
    if magic != MAGIC or version != VERSION:
        raise SerializationError(
            f"cannot load {_describe(name, where)}: not a headwater blob of format {VERSION} "
            f"(magic {bytes(magic)!r}, version {version})",
            fix="read it with the headwater version that wrote it",
        )
    if flags >> 4 != CODEC_NONE:
        raise SerializationError(
            f"cannot load {_describe(name, where)}: unknown compression codec {flags >> 4}",
            fix="upgrade headwater",
        )
    return flags & 0x3


def _unpickle(data: memoryview, buffers: Iterable[memoryview], name: str, where: str) -> object:
    try:
        return pickle.loads(data, buffers=buffers)
    except Exception as exc:  # a missing module or class, a failing __setstate__, ...
        raise SerializationError(
            f"cannot load {_describe(name, where)}: unpickling failed ({type(exc).__name__}: {exc})",
            fix=_unpickling_fix(exc),
        ) from exc


def _unpickling_fix(exc: Exception) -> str:
    """What to do when a value's class cannot be found here. The common case is a class
    defined in the flow file itself: the flow ran as ``__main__``, so pickle looks for
    ``__main__.Model`` in the reading process (a notebook, a script), which has none."""
    import re  # only on this error

    found = re.search(r"get attribute '([^']+)' on <module '__main__'", str(exc))
    if isinstance(exc, AttributeError) and found:
        cls = found.group(1)
        return (f"{cls} is a class defined in the flow's own file (the flow ran as __main__): "
                f"import it into this script or notebook first (from <flow file> import {cls}): "
                "pickle looks for it among the names of the running script; for later runs, "
                "move it into a module of its own beside the flow and import it from there")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (f"make the module {exc.name} importable here: install its package, or put the "
                "flow's folder on sys.path (PYTHONPATH) if it is a file beside the flow")
    return "check that the modules and classes the value needs are importable here"


def decode(buf: memoryview, *, name: str = "", where: str = "") -> object:
    """Rebuild a value from its blob.

    Out-of-band buffers are handed to pickle as slices of ``buf``, so a numpy array read from a
    memory map shares the map's pages (and is writable when ``buf`` is).
    """
    stream, buffers = _stream_and_buffers(buf, name, where)
    return _unpickle(stream, buffers, name, where)


def _stream_and_buffers(buf: memoryview, name: str,
                        where: str) -> tuple[memoryview, list[memoryview]]:
    """A value blob's pickle stream and its out-of-band buffers (none for an inline blob), as
    slices of ``buf``."""
    buf = memoryview(buf).cast("B") if buf.format != "B" or buf.ndim != 1 else buf
    kind = _read_preamble(buf, name, where)
    if kind == KIND_INLINE:
        return buf[_PREAMBLE.size :], []
    if kind != KIND_BUFFERS:
        raise SerializationError(f"cannot load {_describe(name, where)}: blob holds foreach items")
    nbuf, stream_len = _BUFFERS_HEAD.unpack_from(buf, _PREAMBLE.size)
    table_at = _PREAMBLE.size + _BUFFERS_HEAD.size
    pairs = struct.unpack_from(f"<{2 * nbuf}Q", buf, table_at)
    start = table_at + _PAIR.size * nbuf
    buffers = [buf[pairs[i] : pairs[i] + pairs[i + 1]] for i in range(0, len(pairs), 2)]
    return buf[start : start + stream_len], buffers


def standalone_pickle(buf: memoryview, *, name: str = "", where: str = "") -> bytes:
    """The value of a blob as one ordinary pickle (``pickle.loads`` reads it, no headwater
    needed), made without unpickling it: a reader that cannot import the value's classes can
    still hand the bytes to a process that can.

    An inline blob's stream is such a pickle already. A *buffers* blob's stream refers to its
    out-of-band buffers with ``NEXT_BUFFER``; each one is replaced by a ``BYTEARRAY8`` carrying
    the buffer's bytes (what pickle writes in-band), and ``FRAME`` markers, whose lengths the
    insertions would break, are dropped (frames are optional).
    """
    import pickletools

    view, buffer_list = _stream_and_buffers(buf, name, where)
    if not buffer_list:  # no buffer to fold in: the stream is an ordinary pickle already
        return bytes(view)
    stream = bytes(view)
    buffers = iter(buffer_list)
    ops = [(op.name, pos) for op, _arg, pos in pickletools.genops(stream)]
    out: list[Part] = []
    for i, (opname, pos) in enumerate(ops):
        end = ops[i + 1][1] if i + 1 < len(ops) else len(stream)
        if opname == "FRAME":
            continue
        if opname == "NEXT_BUFFER":
            data = next(buffers)
            out += [pickle.BYTEARRAY8, _U64.pack(data.nbytes), data]
        else:
            out.append(stream[pos:end])
    return b"".join(out)


def _check_sequence(seq: object, name: str) -> Sequence[Any]:
    if isinstance(seq, (AbstractSet, ValuesView)):
        # A set (or a dict's keys/values) is iterated once, here, as Metaflow's foreach accepts
        # it: its items keep that order, whatever order another process would iterate them in.
        return list(seq)
    ok = isinstance(seq, Sequence) or (
        hasattr(seq, "__len__") and hasattr(seq, "__getitem__") and not isinstance(seq, Mapping)
    )
    if not ok:
        fix = f"convert it first, e.g. self.{name} = list(...)"
        if isinstance(seq, Mapping):  # a parameter grid, usually: say how each shape is made
            fix = (f"a dict is not a list of items: set self.{name} to its keys "
                   f"(list(self.{name})), its pairs (list(self.{name}.items())), or, for a grid "
                   f"of settings, every combination: [dict(zip(self.{name}, values)) for "
                   f"values in itertools.product(*self.{name}.values())]")
        raise SerializationError(
            f"foreach over '{name}' needs a list, tuple, range, set or other sequence; "
            f"got {type_name_of(seq)}", fix=fix)
    return seq  # type: ignore[return-value]


def encode_items(seq: object, *, name: str = "", where: str = "") -> tuple[Encoded, int]:
    """Serialize a foreach sequence with each item pickled on its own; return it and its length."""
    items = _check_sequence(seq, name)
    streams: list[Part] = []
    for index, item in enumerate(items):
        streams.append(_pickle_item(item, index, name, where))
    count = len(streams)
    data_at = _PREAMBLE.size + _U64.size * (count + 2)
    offsets = [data_at]
    for stream in streams:
        offsets.append(offsets[-1] + len(stream))
    head = _PREAMBLE.pack(MAGIC, VERSION, KIND_ITEMS) + struct.pack(
        f"<{count + 2}Q", count, *offsets
    )
    return Encoded([head, *streams], type_name_of(seq), offsets[-1]), count


def _pickle_item(item: object, index: int, name: str, where: str) -> bytes:
    """Pickle one foreach item in-band: items are read one at a time, never memory-mapped whole."""
    try:
        return pickle.dumps(item, protocol=5)
    except Exception as exc:
        what = f"item {index} of foreach '{name}' in task {where}"
        fix = f"make every item of self.{name} picklable (pass ids or paths instead of handles)"
        raise _unpicklable(item, what, fix, exc) from exc


def item_count(buf: memoryview, *, name: str = "", where: str = "") -> int:
    """Number of items in an items blob."""
    if _read_preamble(buf, name, where) != KIND_ITEMS:
        raise SerializationError(f"cannot load {_describe(name, where)}: not a foreach items blob")
    return _U64.unpack_from(buf, _PREAMBLE.size)[0]


def item_spans(buf: memoryview, *, name: str = "", where: str = "") -> list[tuple[int, int]]:
    """``(start, end)`` of every item's pickle in an items blob, reading only the header."""
    count = item_count(buf, name=name, where=where)
    offsets = struct.unpack_from(f"<{count + 1}Q", buf, _PREAMBLE.size + _U64.size)
    return list(zip(offsets[:-1], offsets[1:], strict=True))


def decode_item(buf: memoryview, index: int, *, name: str = "", where: str = "") -> object:
    """Unpickle item ``index`` of an items blob, touching only the header and that item."""
    count = item_count(buf, name=name, where=where)
    if not 0 <= index < count:
        raise IndexError(f"foreach item {index} of '{name}' is out of range (it has {count} items)")
    start, end = struct.unpack_from("<QQ", buf, _PREAMBLE.size + _U64.size * (index + 1))
    return _unpickle(buf[start:end], (), f"{name}[{index}]", where)
