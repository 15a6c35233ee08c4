"""Read-only stores in a long-lived process keep seeing new runs while writers come and go.

A process that holds several read-only connections to one SQLite file (the client's per-thread
connections, a notebook beside the web UI) must keep its claim on the file: a writer process that
believes it is the last one closes by checkpointing and deleting the ``-wal`` and ``-shm`` files,
and a reader left holding the deleted WAL index would then read an old picture of the database
for the rest of its life.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from headwater.meta import open_metadata

# One writer process: record a run, close the store, exit (its close checkpoints the WAL).
WRITER = """
import os, sys
from headwater.meta import open_metadata
from headwater.meta.liveness import this_host
meta = open_metadata(sys.argv[1])
meta.new_run("PetsFlow", user="alice", tags=[], system_tags=["runtime:local"], params={},
             origin_run_id=None, pid=os.getpid(), host=this_host())
meta.close()
"""


def write_one_run(path: str) -> None:
    proc = subprocess.run([sys.executable, "-c", WRITER, path], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def run_count(meta) -> int:
    return len(meta.list_runs("PetsFlow"))


def counts_from_threads(meta, threads: int) -> list[int]:
    """The run count as each of ``threads`` threads (each with its own connection) reads it."""
    seen: list[int] = [-1] * threads

    def read(i: int) -> None:
        seen[i] = run_count(meta)

    workers = [threading.Thread(target=read, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return seen


def test_readers_in_several_threads_see_every_run_of_writers_that_exited(tmp_path: Path):
    path = str(tmp_path / "root" / "meta.sqlite")
    write_one_run(path)  # the file exists, and no writer holds it open
    reader = open_metadata(path, readonly=True)
    try:
        assert run_count(reader) == 1  # this thread's connection
        assert counts_from_threads(reader, 2) == [1, 1]  # two more connections, same process
        for expected in range(2, 7):
            write_one_run(path)
            assert run_count(reader) == expected
            assert counts_from_threads(reader, 2) == [expected, expected]
        assert not getattr(reader._db._local, "snapshot", None)  # never fell back to immutable
    finally:
        reader.close()


def test_a_reader_and_a_writer_in_one_process_stay_current_while_other_writers_exit(
        tmp_path: Path):
    path = str(tmp_path / "root" / "meta.sqlite")
    write_one_run(path)
    reader = open_metadata(path, readonly=True)
    writer = open_metadata(path)
    try:
        assert run_count(reader) == 1
        assert run_count(writer) == 1  # a second SQLite connection to the file in this process
        for expected in range(2, 6):
            write_one_run(path)
            assert run_count(reader) == expected
            assert run_count(writer) == expected
    finally:
        writer.close()
        reader.close()
    assert os.path.exists(path)


def test_a_file_that_is_not_a_database_is_refused_as_damaged_and_left_alone(tmp_path: Path):

    path = tmp_path / "meta.sqlite"
    junk = b"these are notes someone saved over the metadata file\n" * 40
    path.write_bytes(junk)
    for readonly in (True, False):
        message = _refusal(path, readonly)
        assert f"the metadata database {path} is damaged" in message
        assert "restore it from a backup" in message
    assert path.read_bytes() == junk
    assert sorted(os.listdir(tmp_path)) == ["meta.sqlite"]


def _refusal(path: Path, readonly: bool) -> str:
    """The error a reader or a writer of ``path`` gets on its first read."""
    from headwater.exceptions import MetadataError

    store = open_metadata(str(path), readonly=readonly)
    try:
        with pytest.raises(MetadataError) as err:
            run_count(store)
    finally:
        store.close()
    return str(err.value)


def test_a_folder_in_place_of_the_metadata_file_is_refused_as_damaged(tmp_path: Path):

    path = tmp_path / "meta.sqlite"
    path.mkdir()
    for readonly in (True, False):
        message = _refusal(path, readonly)
        assert f"the metadata database {path} is damaged (a folder, not a file)" in message
    assert path.is_dir() and list(path.iterdir()) == []
