"""The storage backends: the same contract on a local folder and on fsspec's memory filesystem."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.exceptions import StoreError
from headwater.store import FsspecStorage, LocalStorage, Storage, open_storage
from headwater.store.storage import (
    MMAP_MIN,
    TEMP_PREFIX,
    S3Storage,
    _bytes_view,
    _window,
    store_message,
)


@pytest.fixture
def memory_url() -> Iterator[str]:
    import fsspec

    url = f"memory://hw-test-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture(params=["local", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path, memory_url: str) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    return FsspecStorage(memory_url)


def test_put_read_size_exists(storage: Storage) -> None:
    storage.put("blobs/ab/abc", [b"hello ", memoryview(b"world")])
    assert bytes(storage.read("blobs/ab/abc")) == b"hello world"
    assert storage.size("blobs/ab/abc") == 11
    assert storage.size("blobs/ab/nope") is None
    assert storage.exists_many(["blobs/ab/abc", "blobs/ab/nope", "blobs/cd/x"]) == {"blobs/ab/abc"}
    assert storage.exists_many([]) == set()


def test_many_existence_checks_in_one_call(storage: Storage) -> None:
    keys = [f"blobs/{i % 7:02d}/k{i}" for i in range(60)]
    for key in keys[::2]:
        storage.put(key, [b"x"])
    assert storage.exists_many(keys + keys) == set(keys[::2])


def test_missing_key_raises_file_not_found(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.read("blobs/zz/missing")


def test_read_is_writable_and_private(storage: Storage) -> None:
    data = os.urandom(MMAP_MIN * 2)
    storage.put("big", [data])
    buf = storage.read("big")
    assert not buf.readonly
    buf[0] = (buf[0] + 1) % 256
    assert bytes(storage.read("big")) == data


def test_put_replaces_whole_value(storage: Storage) -> None:
    storage.put("k", [b"first version"])
    storage.put("k", [b"2nd"])
    assert bytes(storage.read("k")) == b"2nd"


def test_empty_blob(storage: Storage) -> None:
    storage.put("empty", [])
    assert bytes(storage.read("empty")) == b""
    assert storage.size("empty") == 0


def test_list_by_prefix(storage: Storage) -> None:
    for key in ["blobs/ab/ab1", "blobs/ab/ab2", "blobs/ac/ac1", "logs/x"]:
        storage.put(key, [b"."])
    assert storage.list("blobs/ab/") == ["blobs/ab/ab1", "blobs/ab/ab2"]
    assert storage.list("blobs/a") == ["blobs/ab/ab1", "blobs/ab/ab2", "blobs/ac/ac1"]
    assert storage.list("blobs/ab/ab2") == ["blobs/ab/ab2"]
    assert storage.list("") == ["blobs/ab/ab1", "blobs/ab/ab2", "blobs/ac/ac1", "logs/x"]
    assert storage.list("nothing/here/") == []


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", f"a/{TEMP_PREFIX}x"])
def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StoreError, match="invalid storage key"):
        storage.put(key, [b"x"])


# ---- local specifics -----------------------------------------------------------------------


def test_local_creates_folders_lazily(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    assert not (tmp_path / "root").exists()
    assert store.exists_many(["blobs/ab/x"]) == set()
    assert store.list("blobs/") == []
    store.put("blobs/ab/x", [b"1"])
    assert (tmp_path / "root" / "blobs" / "ab" / "x").read_bytes() == b"1"


def test_local_large_read_is_a_copy_on_write_map(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    data = b"a" * (MMAP_MIN + 1)
    store.put("big", [data])
    buf = store.read("big")
    assert isinstance(buf.obj, mmap.mmap)
    buf[:3] = b"zzz"
    assert (tmp_path / "big").read_bytes() == data
    store.put("small", [b"abc"])
    assert isinstance(store.read("small").obj, bytearray)  # small files: one read, no map


def _leave_temp_file(folder: Path, age_s: float) -> Path:
    """What a writer killed between creating its temp file and renaming it leaves behind."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{TEMP_PREFIX}deadbeef.1234.abcd"
    tmp.write_bytes(b"half a blo")
    old = time.time() - age_s
    os.utime(tmp, (old, old))
    return tmp


def test_killed_writer_leftover_is_ignored_then_cleaned(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.put("blobs/de/deadbeef-other", [b"kept"])
    fresh = _leave_temp_file(tmp_path / "blobs" / "de", age_s=0)
    assert store.list("blobs/") == ["blobs/de/deadbeef-other"]
    assert store.exists_many(["blobs/de/deadbeef"]) == set()
    assert store.cleanup_temp(older_than_s=3600) == 0
    assert fresh.exists()
    stale = _leave_temp_file(tmp_path / "blobs" / "ef", age_s=7200)
    assert store.cleanup_temp(older_than_s=3600) == 1
    assert not stale.exists() and fresh.exists()
    assert store.cleanup_temp(older_than_s=-1) == 1
    assert not fresh.exists()
    assert store.list("") == ["blobs/de/deadbeef-other"]


def test_failed_put_leaves_nothing_visible(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    with pytest.raises(TypeError):  # fails after the first part reached the temp file
        store.put("blobs/ab/k", [b"first part", "not bytes"])  # type: ignore[list-item]
    assert store.exists_many(["blobs/ab/k"]) == set()
    assert os.listdir(tmp_path / "blobs" / "ab") == []


def test_fsync_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWATER_FSYNC", raising=False)
    assert LocalStorage(tmp_path).fsync is False
    monkeypatch.setenv("HEADWATER_FSYNC", "1")
    store = LocalStorage(tmp_path)
    assert store.fsync is True
    store.put("a/b", [b"durable"])
    assert bytes(store.read("a/b")) == b"durable"


def test_local_backend_does_not_import_fsspec(tmp_path: Path) -> None:
    code = (
        "import sys; from headwater.store import open_datastore; "
        f"ds = open_datastore({str(tmp_path)!r}); ref = ds.save_artifact([1], name='x', where='t'); "
        "assert ds.load_artifact(ref, name='x', where='t') == [1]; "
        "assert 'fsspec' not in sys.modules, 'fsspec imported'"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# ---- choosing a backend --------------------------------------------------------------------


def test_open_storage_chooses_by_url(tmp_path: Path, memory_url: str) -> None:
    local = open_storage(str(tmp_path))
    assert isinstance(local, LocalStorage) and local.root == str(tmp_path)
    via_file_url = open_storage(f"file://{tmp_path}")
    assert isinstance(via_file_url, LocalStorage) and via_file_url.root == str(tmp_path)
    remote = open_storage(memory_url)
    assert isinstance(remote, FsspecStorage) and remote.root == memory_url
    assert not isinstance(remote, S3Storage)
    s3 = open_storage("s3://some-bucket/some/prefix/")  # no request is made until a transfer
    assert isinstance(s3, S3Storage) and s3.root == "s3://some-bucket/some/prefix"


def test_fsspec_backend_without_atomic_put_writes_via_temp_name(tmp_path: Path) -> None:
    # fsspec's own local filesystem stands in for sftp/hdfs-like backends: temp name, then move.
    store = FsspecStorage(f"file://{tmp_path}")
    store.put("blobs/ab/k", [b"abc", memoryview(b"def")])
    assert bytes(store.read("blobs/ab/k")) == b"abcdef"
    assert sorted(os.listdir(tmp_path / "blobs" / "ab")) == ["k"]
    stale = _leave_temp_file(tmp_path / "blobs" / "ab", age_s=7200)
    assert store.list("blobs/") == ["blobs/ab/k"]
    assert store.cleanup_temp(older_than_s=3600) == 1
    assert not stale.exists()


def test_memory_backend_roots_do_not_leak_into_each_other(memory_url: str) -> None:
    a = FsspecStorage(memory_url + "/a")
    b = FsspecStorage(memory_url + "/ab")
    a.put("k", [b"1"])
    b.put("k", [b"2"])
    assert a.list("") == ["k"] and b.list("") == ["k"]
    assert bytes(a.read("k")) == b"1"


# ---- S3 helpers (the transfers themselves run against real servers: tests/integration) -------


def test_multipart_windows_cover_the_parts_exactly_once() -> None:
    # A pickle header, a large buffer (a 2-D array's, cast to bytes), a trailer: the windows an
    # upload sends are the joined bytes cut in part-size pieces, without joining them first.
    array = memoryview(bytearray(os.urandom(4 * 1000))).cast("B", (4, 1000)).cast("I")
    parts = [b"header", array, b"", b"t"]
    views = [_bytes_view(p) for p in parts]
    whole = b"".join(views)
    assert sum(v.nbytes for v in views) == len(whole) == 4007
    for size in (1, 5, 6, 7, 999, 4000, 4007, 5000):
        windows = [_window(views, start, size) for start in range(0, len(whole), size)]
        assert all(isinstance(w, bytes) for w in windows)
        assert b"".join(windows) == whole
        assert all(len(w) == size for w in windows[:-1])


def test_store_message_is_the_stores_own_words(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder belongs")
    with pytest.raises(OSError) as refused:
        LocalStorage(tmp_path / "blocker").put("x/y", [b"1"])
    said = store_message(refused.value)
    assert said.startswith("Not a directory: ") and "blocker" in said
    assert store_message(ValueError("bad reply")) == "ValueError: bad reply"


def test_store_message_keeps_the_s3_error_code() -> None:
    # s3fs turns the server's reply into a FileNotFoundError and keeps the reply as its cause.
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    reply = {"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}}
    translated = translate_boto_error(ClientError(reply, "PutObject"))
    assert isinstance(translated, FileNotFoundError)
    assert store_message(translated) == "NoSuchBucket: The specified bucket does not exist"
