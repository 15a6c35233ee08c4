"""Content addressing: dedup, verified reads, zero-copy loads, foreach items."""

from __future__ import annotations

import mmap
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import xxhash

from headwater.exceptions import ArtifactError, DataIntegrityError, SerializationError
from headwater.records import ArtifactRef
from headwater.store import DataStore, LocalStorage, open_datastore
from headwater.store.datastore import INLINE_MAX_BYTES, blob_path, content_key
from headwater.store.storage import Part

WHERE = "TrainFlow/7/train/42"


class CountingStorage(LocalStorage):
    """Local storage that counts the calls a test cares about."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts = 0
        self.reads = 0

    def put(self, key: str, parts: Sequence[Part]) -> None:
        self.puts += 1
        super().put(key, parts)

    def read(self, key: str) -> memoryview:
        self.reads += 1
        return super().read(key)


@pytest.fixture
def memory_url() -> Iterator[str]:
    import fsspec

    url = f"memory://hw-test-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture(params=["local", "memory"])
def ds(request: pytest.FixtureRequest, tmp_path: Path, memory_url: str) -> DataStore:
    return open_datastore(str(tmp_path) if request.param == "local" else memory_url)


def _blob_file(ds: DataStore, key: str) -> Path:
    return Path(ds.root, blob_path(key))


# ---- artifacts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, "text", None, {"a": [1, 2.5, (3, "x")]}, b"raw" * 5000, bytearray(10), np.arange(10**5)],
    ids=["int", "str", "none", "nested", "bytes", "bytearray", "array"],
)
def test_artifact_round_trip(ds: DataStore, value: object) -> None:
    ref = ds.save_artifact(value, name="x", where=WHERE)
    assert len(ref.key) == 32 and ref.encoding == "pickle5"
    assert ref.type_name == f"{type(value).__module__}.{type(value).__qualname__}"
    if ref.size <= INLINE_MAX_BYTES:  # small: its bytes ride in the ref, no blob is written
        assert ref.inline is not None and len(ref.inline) == ref.size
        assert xxhash.xxh3_128_hexdigest(ref.inline) == ref.key
        assert not ds.has_many([ref.key])
    else:
        assert ref.inline is None
        assert ds.storage.size(blob_path(ref.key)) == ref.size
    got = ds.load_artifact(ref, name="x", where=WHERE)
    assert type(got) is type(value)
    if isinstance(value, np.ndarray):
        assert np.array_equal(got, value)  # type: ignore[arg-type]
    else:
        assert got == value


def test_key_is_xxh3_128_of_the_blob(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_artifact({"k": np.ones(10_000)}, name="x", where=WHERE)
    data = _blob_file(ds, ref.key).read_bytes()
    assert xxhash.xxh3_128_hexdigest(data) == ref.key
    assert content_key([data[:10], memoryview(data)[10:]]) == ref.key


def test_same_value_is_stored_once(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    ds = DataStore(storage)
    first = ds.save_artifact(np.arange(1000), name="a", where="F/1/start/1")
    again = ds.save_artifact(np.arange(1000), name="b", where="F/1/end/2")
    assert first == again
    other_process = DataStore(storage)  # a new process checks the store, then skips the write
    assert other_process.save_artifact(np.arange(1000), name="c", where="F/2/start/1") == first
    assert storage.puts == 1
    assert storage.list("blobs/") == [blob_path(first.key)]


def test_local_blobs_live_under_root_blobs(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_artifact("x" * 5000, name="x", where=WHERE)
    assert ds.root == str(tmp_path)
    assert (tmp_path / "blobs" / ref.key[:2] / ref.key).is_file()


def test_loaded_array_is_zero_copy_from_the_map_and_privately_writable(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    original = np.random.default_rng(1).standard_normal((500, 400))
    ref = ds.save_artifact(original, name="weights", where=WHERE)
    before = _blob_file(ds, ref.key).read_bytes()

    arr = ds.load_artifact(ref, name="weights", where=WHERE)
    assert isinstance(arr, np.ndarray)
    base: object = arr
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    assert np.shares_memory(arr, np.frombuffer(base.obj, dtype=np.uint8))
    assert arr.ctypes.data % 64 == 0

    assert arr.flags.writeable
    arr[0, 0] = 1e300
    assert _blob_file(ds, ref.key).read_bytes() == before
    assert np.array_equal(ds.load_artifact(ref, name="weights", where=WHERE), original)


def test_remote_array_is_writable_too(memory_url: str) -> None:
    ds = open_datastore(memory_url)
    ref = ds.save_artifact(np.zeros(100_000), name="w", where=WHERE)
    arr = ds.load_artifact(ref, name="w", where=WHERE)
    assert isinstance(arr, np.ndarray) and arr.flags.writeable


def test_unpicklable_artifact_names_artifact_and_task(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    with pytest.raises(SerializationError) as info:
        ds.save_artifact(threading.Lock(), name="lock", where=WHERE)
    text = str(info.value)
    assert "'lock'" in text and WHERE in text and "del self.lock" in text
    assert not (tmp_path / "blobs").exists()


# ---- integrity -----------------------------------------------------------------------------


def _corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        del data[len(data) // 2 :]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate"])
@pytest.mark.parametrize("value", [{"small": "x" * 2000}, np.arange(100_000)],
                         ids=["small", "large"])
def test_corrupt_blob_is_never_returned(tmp_path: Path, how: str, value: object) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_artifact(value, name="model", where=WHERE)
    _corrupt(_blob_file(ds, ref.key), how)
    with pytest.raises(DataIntegrityError) as info:
        open_datastore(str(tmp_path)).load_artifact(ref, name="model", where=WHERE)
    text = str(info.value)
    assert "'model'" in text and WHERE in text and ref.key in text


def test_corrupt_remote_blob(memory_url: str) -> None:
    ds = open_datastore(memory_url)
    ref = ds.save_artifact(list(range(1000)), name="xs", where=WHERE)
    path = blob_path(ref.key)
    ds.storage.put(path, [b"HW\x01\x00garbage"])
    with pytest.raises(DataIntegrityError, match="'xs'"):
        ds.load_artifact(ref, name="xs", where=WHERE)


def test_small_values_ride_inline_and_are_still_verified(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_artifact({"epoch": 3}, name="state", where=WHERE)
    assert ref.inline is not None
    assert not (tmp_path / "blobs").exists()  # no file for a small value
    assert ds.load_artifact(ref, name="state", where=WHERE) == {"epoch": 3}
    damaged = ArtifactRef(ref.key, ref.size, ref.type_name, ref.encoding,
                          inline=ref.inline[:-2] + b"K\x04.")
    with pytest.raises(DataIntegrityError) as info:
        ds.load_artifact(damaged, name="state", where=WHERE)
    assert "'state'" in str(info.value) and "inline bytes" in str(info.value)
    assert "metadata database was altered" in info.value.fix and "blob file" not in info.value.fix


def test_a_small_array_loaded_inline_is_writable_as_from_a_blob(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_artifact(np.arange(4), name="small", where=WHERE)
    assert ref.inline is not None
    arr = ds.load_artifact(ref, name="small", where=WHERE)
    arr[0] = 7  # user code may change what it loaded, as with a memory-mapped blob
    assert arr.tolist() == [7, 1, 2, 3]
    assert ds.load_artifact(ref, name="small", where=WHERE).tolist() == [0, 1, 2, 3]


def test_the_inline_limit_is_the_pickle_size(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    refs = [ds.save_artifact(b"x" * n, name="b", where=WHERE) for n in range(900, 1100, 8)]
    assert {r.inline is not None for r in refs} == {True, False}
    assert all((r.inline is not None) == (r.size <= INLINE_MAX_BYTES) for r in refs)


def test_missing_blob_names_artifact_and_task(ds: DataStore) -> None:
    ref = ArtifactRef(key="0" * 32, size=10, type_name="builtins.int")
    with pytest.raises(ArtifactError) as info:
        ds.load_artifact(ref, name="gone", where=WHERE)
    assert "'gone'" in str(info.value) and WHERE in str(info.value)
    assert not isinstance(info.value, DataIntegrityError)


def test_unknown_encoding_is_refused(ds: DataStore) -> None:
    ref = ds.save_artifact(1, name="x", where=WHERE)
    with pytest.raises(ArtifactError, match="unknown encoding 'zstd-pickle9'"):
        ds.load_artifact(
            ArtifactRef(ref.key, ref.size, ref.type_name, "zstd-pickle9"), name="x", where=WHERE
        )


# ---- raw bytes -----------------------------------------------------------------------------


def test_bytes_round_trip(ds: DataStore) -> None:
    ref = ds.save_bytes(memoryview(b"line 1\nline 2\n"))
    assert (ref.encoding, ref.type_name, ref.size) == ("raw", "bytes", 14)
    assert ds.load_bytes(ref.key, what="stdout of task F/1/s/1") == b"line 1\nline 2\n"
    assert ds.load_artifact(ref, name="log", where=WHERE) == b"line 1\nline 2\n"
    assert ds.save_bytes(b"line 1\nline 2\n") == ref


def test_corrupt_bytes_name_what(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    ref = ds.save_bytes(b"x" * 1000)
    _corrupt(_blob_file(ds, ref.key), "flip")
    with pytest.raises(DataIntegrityError, match="stdout of task F/1/s/1"):
        ds.load_bytes(ref.key, what="stdout of task F/1/s/1")


def test_has_many(ds: DataStore) -> None:
    a = ds.save_bytes(b"a").key
    b = ds.save_artifact("b" * 5000, name="b", where=WHERE).key
    missing = "f" * 32
    assert ds.has_many([a, b, missing]) == {a, b}
    assert open_datastore(ds.root).has_many([a, missing]) == {a}


# ---- foreach items -------------------------------------------------------------------------

BUILT = {"count": 0}


def _rebuild(index: int) -> Item:
    BUILT["count"] += 1
    return Item(index)


class Item:
    """A foreach item that counts how many times unpickling built one."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return _rebuild, (self.index,)


def test_one_item_of_100k_unpickles_only_that_item(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    ds = DataStore(storage)
    key, count = ds.save_items([Item(i) for i in range(100_000)], name="shards", where=WHERE)
    assert count == 100_000

    child = DataStore(storage)  # a foreach child, in its own process
    BUILT["count"] = 0
    item = child.load_item(key, 54_321, name="shards", where=WHERE)
    assert isinstance(item, Item) and item.index == 54_321
    assert BUILT["count"] == 1

    reads = storage.reads
    assert child.load_item(key, 7, name="shards", where=WHERE).index == 7  # type: ignore[attr-defined]
    assert storage.reads == reads  # the verified blob is reused
    assert BUILT["count"] == 2


def test_items_round_trip_and_dedup(ds: DataStore) -> None:
    seq = [{"lr": 0.1}, {"lr": 0.01}, "x", None]
    key, count = ds.save_items(seq, name="params", where=WHERE)
    assert count == 4
    assert [ds.load_item(key, i, name="params", where=WHERE) for i in range(4)] == seq
    assert ds.save_items(tuple(seq), name="params", where=WHERE)[0] == key


def test_items_of_range_and_array(ds: DataStore) -> None:
    key, count = ds.save_items(range(10, 20), name="r", where=WHERE)
    assert count == 10 and ds.load_item(key, 9, name="r", where=WHERE) == 19
    key, count = ds.save_items(np.arange(6).reshape(3, 2), name="rows", where=WHERE)
    assert count == 3
    assert np.array_equal(ds.load_item(key, 2, name="rows", where=WHERE), [4, 5])  # type: ignore[arg-type]


def test_items_need_a_sequence(ds: DataStore) -> None:
    with pytest.raises(SerializationError, match="foreach over 'todo' needs a list, tuple, range"):
        ds.save_items(iter(["a", "b"]), name="todo", where=WHERE)


def test_a_set_is_saved_as_its_members_in_the_order_iterated(ds: DataStore) -> None:
    members = {"a", "b", "c"}
    key, count = ds.save_items(members, name="todo", where=WHERE)
    assert count == 3
    assert [ds.load_item(key, i, name="todo", where=WHERE) for i in range(3)] == list(members)


def test_corrupt_items_blob(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    key, _ = ds.save_items(list(range(1000)), name="xs", where=WHERE)
    _corrupt(_blob_file(ds, key), "flip")
    with pytest.raises(DataIntegrityError) as info:
        open_datastore(str(tmp_path)).load_item(key, 3, name="xs", where=WHERE)
    assert "'xs'" in str(info.value) and WHERE in str(info.value) and key in str(info.value)


def test_item_cache_is_bounded(tmp_path: Path) -> None:
    ds = open_datastore(str(tmp_path))
    keys = [ds.save_items([i], name="xs", where=WHERE)[0] for i in range(20)]
    assert [ds.load_item(k, 0, name="xs", where=WHERE) for k in keys] == list(range(20))
    assert len(ds._items) <= 8


def test_concurrent_writers_of_one_value_agree(tmp_path: Path) -> None:
    value = np.arange(200_000)
    refs: list[ArtifactRef] = []

    def save() -> None:
        refs.append(open_datastore(str(tmp_path)).save_artifact(value, name="v", where=WHERE))

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(refs)) == 1
    folder = _blob_file(open_datastore(str(tmp_path)), refs[0].key).parent
    assert os.listdir(folder) == [refs[0].key]
