"""A running task's output is kept for readers elsewhere as segments, each byte written once:
rewriting the whole output so far every half second made a task that prints steadily cost
writes growing with the square of its output."""

from __future__ import annotations

from types import SimpleNamespace

from headwater.runtime import live_logs
from headwater.runtime.live_logs import LiveLogs
from headwater.store.datastore import live_log_key, live_log_segment_key, read_live_log
from headwater.store.local_storage import LocalStorage

STEM = live_log_key("F", "1", "train", "7", 0, "stdout")


def _task(storage):
    logs = LiveLogs(storage, "F", "1")
    logs.started("7")
    logs._tasks["7"].started -= 60  # old enough to be followed
    live = SimpleNamespace(spec=SimpleNamespace(step="train", task_id="7", attempt=0),
                           stdout=bytearray(), stderr=bytearray())
    return logs, live


def _flush_now(logs, live):
    logs._tasks["7"].last_write = -1e9  # its wait is over
    logs.flush({"7": live})


def test_each_flush_stores_only_what_was_printed_since_the_last_one(tmp_path):
    storage = LocalStorage(tmp_path)
    logs, live = _task(storage)
    printed = b""
    for n in range(30):
        line = f"epoch {n}: loss {1 / (n + 1):.4f}\n".encode()
        live.stdout += line
        printed += line
        _flush_now(logs, live)
        assert read_live_log(storage, STEM) == printed
    segments = storage.list(STEM)
    assert len(segments) == 30
    assert sum(storage.size(key) for key in segments) == len(printed)  # nothing written twice
    logs.flush({"7": live})  # nothing new: no empty segment
    assert len(storage.list(STEM)) == 30
    logs.finished("7")
    assert storage.list("logs/live/") == [] and read_live_log(storage, STEM) is None


def test_the_wait_between_segments_grows_with_their_number():
    assert live_logs._wait(0) == live_logs.EVERY_S
    assert live_logs._wait(live_logs.SLOWER_EVERY - 1) == live_logs.EVERY_S
    assert live_logs._wait(live_logs.SLOWER_EVERY) == 2 * live_logs.EVERY_S
    # printing for a day leaves thousands of segments, not the ~170,000 of a fixed half second
    elapsed, segments = 0.0, 0
    while elapsed < 24 * 3600:
        elapsed += live_logs._wait(segments)
        segments += 1
    assert segments < 10_000


def test_a_reader_joins_an_earlier_versions_whole_copy_and_the_segments_in_order(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put(STEM, [b"whole so far\n"])
    storage.put(live_log_segment_key(STEM, 10), [b"tenth\n"])
    storage.put(live_log_segment_key(STEM, 9), [b"ninth\n"])
    other = live_log_key("F", "1", "train", "7", 10, "stdout")  # attempt 10, not a segment
    storage.put(other, [b"another attempt\n"])
    storage.put(STEM + ".partial-note", [b"not a segment\n"])
    assert read_live_log(storage, STEM) == b"whole so far\nninth\ntenth\n"
    assert read_live_log(storage, live_log_key("F", "1", "train", "8", 0, "stdout")) is None
