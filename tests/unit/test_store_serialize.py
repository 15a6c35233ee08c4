"""The blob format: round trips, out-of-band buffers, alignment, errors, foreach items."""

from __future__ import annotations

import pickle
import struct
import sys
import threading

import numpy as np
import pytest

from headwater.exceptions import SerializationError
from headwater.store import decode, encode
from headwater.store.serialize import (
    ALIGN,
    INLINE_LIMIT,
    decode_item,
    encode_items,
    item_count,
    standalone_pickle,
    type_name_of,
)


class Frame:
    """A pandas-free stand-in for a dataframe: named numpy columns plus an index."""

    def __init__(self, columns: dict[str, np.ndarray], index: np.ndarray) -> None:
        self.columns = columns
        self.index = index

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Frame)
            and self.columns.keys() == other.columns.keys()
            and all(_same(self.columns[k], other.columns[k]) for k in self.columns)
            and _same(self.index, other.index)
        )


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        )
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _blob(value: object) -> memoryview:
    """The encoded blob in a fresh writable buffer, as a local read would hand it over."""
    return memoryview(bytearray(b"".join(encode(value).parts)))


def _aligned_blob(value: object) -> tuple[np.ndarray, memoryview]:
    """The blob copied to a 64-byte aligned address (what a page-aligned memory map gives)."""
    data = b"".join(encode(value).parts)
    raw = np.zeros(len(data) + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    arr = raw[start : start + len(data)]
    arr[:] = np.frombuffer(data, dtype=np.uint8)
    return arr, memoryview(arr)


RNG = np.random.default_rng(0)

VALUES = {
    "int": 7,
    "big_int": 2**200,
    "float_nan": float("inf"),
    "str": "héllo",
    "none": None,
    "dict": {"a": 1, "b": [1, 2, {"c": (3, 4)}]},
    "nested": [{"x": {1, 2}}, ({"y": frozenset({3})},), [[[]]]],
    "bytes_small": b"abc",
    "bytes_large": bytes(range(256)) * 100,
    "bytearray_small": bytearray(b"xyz"),
    "bytearray_large": bytearray(range(256)) * 100,
    "array_large": RNG.standard_normal(100_000),
    "array_small": np.arange(5, dtype=np.int16),
    "array_fortran": np.asfortranarray(RNG.standard_normal((300, 200))),
    "array_noncontiguous": RNG.standard_normal((400, 300))[::3, 1::2],
    "array_0d": np.array(3.25),
    "array_object": np.array([1, "two", None, [3]], dtype=object),
    "array_structured": np.zeros(2000, dtype=[("a", "i4"), ("b", "f8")]),
    "array_empty": np.empty((0, 3)),
    "arrays_in_dict": {"w": RNG.standard_normal((100, 100)), "b": np.ones(7)},
    "frame": Frame(
        {"id": np.arange(10_000), "price": RNG.random(10_000), "tag": np.array(["a", "b"] * 5000)},
        np.arange(10_000) * 2,
    ),
}


@pytest.mark.parametrize("name", list(VALUES))
def test_round_trip(name: str) -> None:
    value = VALUES[name]
    got = decode(_blob(value))
    assert type(got) is type(value)
    assert _same(got, value)


@pytest.mark.parametrize("name", list(VALUES))
def test_a_blob_as_a_standalone_pickle_loads_without_headwater(name: str) -> None:
    """What the UI serves for a value it cannot unpickle: plain ``pickle.loads`` rebuilds it,
    out-of-band buffers (arrays, large bytes) carried in-band."""
    value = VALUES[name]
    got = pickle.loads(standalone_pickle(_blob(value)))
    assert type(got) is type(value)
    assert _same(got, value)


@pytest.mark.parametrize("name", list(VALUES))
def test_size_and_type_name_describe_the_blob(name: str) -> None:
    value = VALUES[name]
    encoded = encode(value)
    assert encoded.size == len(b"".join(encoded.parts))
    assert encoded.type_name == f"{type(value).__module__}.{type(value).__qualname__}"


def test_type_name_is_module_and_qualname() -> None:
    assert type_name_of(1) == "builtins.int"
    assert type_name_of(np.zeros(1)) == "numpy.ndarray"
    assert type_name_of(VALUES["frame"]) == f"{__name__}.Frame"


def test_small_value_has_a_four_byte_header() -> None:
    encoded = encode({"a": 1})
    blob = b"".join(encoded.parts)
    assert blob[:2] == b"HW"
    assert encoded.size == 4 + len(pickle.dumps({"a": 1}, protocol=5))


def test_small_buffers_stay_inline() -> None:
    encoded = encode(np.arange(10))
    assert encoded.size < INLINE_LIMIT
    assert b"".join(encoded.parts)[3] & 0x3 == 0  # inline kind


def test_large_array_is_written_without_copy() -> None:
    arr = RNG.standard_normal(50_000)
    parts = encode(arr).parts
    raw = [p for p in parts if isinstance(p, memoryview) and p.nbytes == arr.nbytes]
    assert len(raw) == 1
    assert np.shares_memory(np.frombuffer(raw[0], dtype=np.uint8), arr)


def test_large_bytes_go_out_of_band() -> None:
    data = bytearray(b"x" * 100_000)
    encoded = encode(data)
    assert any(isinstance(p, memoryview) and p.nbytes == len(data) for p in encoded.parts)


def test_buffers_are_64_byte_aligned_and_shared() -> None:
    # Odd byte sizes above the inline limit: each buffer needs padding before the next.
    value = (
        np.ones(10_001, dtype=np.int8),
        RNG.standard_normal(3333),
        np.arange(7777, dtype=np.int32),
    )
    backing, buf = _aligned_blob(value)
    got = decode(buf)
    assert _same(got, value)
    for arr in got:  # type: ignore[attr-defined]
        assert arr.ctypes.data % ALIGN == 0
        assert np.shares_memory(arr, backing)


def test_decoded_array_is_writable_when_the_buffer_is() -> None:
    backing, buf = _aligned_blob(RNG.standard_normal(10_000))
    got = decode(buf)
    assert isinstance(got, np.ndarray) and got.flags.writeable
    got[0] = 123.0
    assert np.frombuffer(buf, dtype=np.uint8).tobytes().count(np.float64(123.0).tobytes()) == 1


def test_readonly_array_stays_readonly() -> None:
    arr = RNG.standard_normal(10_000)
    arr.flags.writeable = False
    got = decode(_blob(arr))
    assert isinstance(got, np.ndarray) and not got.flags.writeable


def test_decode_accepts_a_non_byte_memoryview() -> None:
    data = b"".join(encode([1, 2, 3]).parts)
    padded = data + bytes(-len(data) % 8)
    assert decode(memoryview(padded).cast("Q")) == [1, 2, 3]


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), (i for i in range(3)), lambda x: x],
    ids=["lock", "generator", "lambda"],
)
def test_unpicklable_names_artifact_task_and_fix(value: object) -> None:
    with pytest.raises(SerializationError) as info:
        encode({"inner": value}, name="model", where="TrainFlow/12/train/3")
    text = str(info.value)
    assert "'model'" in text and "TrainFlow/12/train/3" in text
    assert "del self.model" in text and "_model" in text


def test_bad_magic_and_unknown_codec_are_refused() -> None:
    with pytest.raises(SerializationError, match="not a headwater blob"):
        decode(memoryview(b"PK\x01\x00junk"), name="x", where="F/1/s/1")
    blob = bytearray(b"".join(encode(1).parts))
    blob[3] |= 0x10
    with pytest.raises(SerializationError, match="codec"):
        decode(memoryview(blob))
    with pytest.raises(SerializationError, match="too short"):
        decode(memoryview(b"HW"))


class Vanishing:
    pass


def test_unpickling_failure_names_the_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = _blob(Vanishing())
    monkeypatch.delattr(sys.modules[__name__], "Vanishing")
    with pytest.raises(SerializationError) as info:
        decode(blob, name="thing", where="F/1/s/2")
    assert "'thing'" in str(info.value) and "F/1/s/2" in str(info.value)


# ---- foreach items -------------------------------------------------------------------------


def _items_blob(seq: object) -> tuple[memoryview, int]:
    encoded, count = encode_items(seq, name="xs", where="F/1/start/1")
    return memoryview(b"".join(encoded.parts)), count


@pytest.mark.parametrize(
    "seq",
    [[1, "a", None, {"k": [1]}], (3, 4), range(5, 9), "abc", np.arange(4), []],
    ids=["list", "tuple", "range", "str", "ndarray", "empty"],
)
def test_items_round_trip(seq: object) -> None:
    buf, count = _items_blob(seq)
    assert count == len(seq) == item_count(buf)  # type: ignore[arg-type]
    assert [decode_item(buf, i) for i in range(count)] == list(seq)  # type: ignore[call-overload]


def test_item_index_out_of_range() -> None:
    buf, _ = _items_blob([1, 2])
    with pytest.raises(IndexError, match="out of range"):
        decode_item(buf, 2, name="xs")


@pytest.mark.parametrize(
    "seq", [{"a": 1}, (i for i in range(2)), 5], ids=["dict", "gen", "int"]
)
def test_items_need_a_sequence(seq: object) -> None:
    with pytest.raises(SerializationError) as info:
        encode_items(seq, name="params", where="F/1/start/1")
    text = str(info.value)
    assert "foreach over 'params' needs a list, tuple, range, set or other sequence" in text
    assert type(seq).__name__ in text


def test_a_dict_to_fan_out_over_is_told_each_list_it_could_be() -> None:
    """A parameter grid written as a dict (newuser7): the fix names its keys, its pairs and
    every combination, and the combination expression it shows works as written."""
    grid = {"lr": [0.1, 0.2], "depth": [3, 5]}
    with pytest.raises(SerializationError) as info:
        encode_items(grid, name="grid", where="F/1/start/1")
    fix = info.value.fix or ""
    assert "list(self.grid)" in fix and "list(self.grid.items())" in fix
    shown = fix[fix.index("[dict("):]
    import itertools

    step = type("Step", (), {"grid": grid})
    combos = eval(shown, {"itertools": itertools, "self": step})  # noqa: S307
    assert combos == [{"lr": 0.1, "depth": 3}, {"lr": 0.1, "depth": 5},
                      {"lr": 0.2, "depth": 3}, {"lr": 0.2, "depth": 5}]
    assert encode_items(combos, name="grid")[1] == 4  # and it is a list a foreach takes


def test_a_set_or_a_dicts_keys_are_items_in_the_order_iterated_once() -> None:
    members = {"b", "a", "c"}
    buf, count = _items_blob(members)
    assert count == 3
    assert [decode_item(buf, i, name="xs") for i in range(3)] == list(members)
    keys, _ = _items_blob({"x": 1, "y": 2}.keys())
    assert [decode_item(keys, i, name="xs") for i in range(2)] == ["x", "y"]


def test_unpicklable_item_names_its_index() -> None:
    with pytest.raises(SerializationError, match="item 1 of foreach 'xs'"):
        encode_items([1, threading.Lock()], name="xs", where="F/1/start/1")


def test_item_blob_is_not_a_value_blob() -> None:
    buf, _ = _items_blob([1])
    with pytest.raises(SerializationError, match="foreach items"):
        decode(buf)
    with pytest.raises(SerializationError, match="not a foreach items blob"):
        item_count(_blob([1]))


def test_items_header_layout() -> None:
    buf, count = _items_blob(["a", "bb"])
    assert count == 2
    (n,) = struct.unpack_from("<Q", buf, 4)
    offsets = struct.unpack_from("<3Q", buf, 12)
    assert n == 2 and offsets[0] == 4 + 8 * 4 and offsets[-1] == buf.nbytes
