"""A 20,000-task run written through headwater's SQLite metadata store, then read back as the
client reads it: CPU of each half, and the file's page size and size.

    PYTHONPATH=SRC python benchmarks/metadata_pages.py [TASKS]

Run it once per headwater tree (``SRC``: a checkout's ``src``) to compare what a change to the
metadata file (e.g. its page size) costs a large history. Writes go in turns of 16 tasks, as a
scheduler's do; reads are ``list_tasks``, ``get_step_artifacts`` and one ``get_task`` +
``get_artifacts`` for every 97th task, three times. Everything happens in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import time

from headwater.meta import open_metadata
from headwater.records import ArtifactRef, TaskResult

FLOW, STEP, TURN = "BigFlow", "work", 16


def main(tasks: int) -> None:
    folder = tempfile.mkdtemp(prefix="hwbench-pages-")
    try:
        path = os.path.join(folder, "meta.sqlite")
        began = time.process_time()
        with open_metadata(path) as meta:
            run = meta.new_run(FLOW, user="bench", tags=[], system_tags=[], params={},
                               origin_run_id=None, pid=1, host="bench", code=None,
                               environments=None)
            ref = ArtifactRef("0" * 32, 4, "builtins.int", inline=b"")
            for first in range(0, tasks, TURN):
                ids = [str(i) for i in range(first, min(tasks, first + TURN))]
                with meta.transaction():
                    for task_id in ids:
                        meta.task_started(FLOW, run, STEP, task_id, frames=(),
                                          parents=["start/1"], started_at=time.time())
                with meta.transaction():
                    for task_id in ids:
                        result = TaskResult(manifest={name: ref for name in "abcde"},
                                            next_steps=("join",))
                        result.started_at = result.finished_at = time.time()
                        meta.attempt_finished(FLOW, run, STEP, task_id, 0, result,
                                              stdout_key=None, stderr_key=None, final=True)
        wrote = time.process_time() - began
        began = time.process_time()
        with open_metadata(path) as meta:
            for _ in range(3):
                meta.list_tasks(FLOW, run, STEP)
                meta.get_step_artifacts(FLOW, run, STEP)
                for i in range(0, tasks, 97):
                    meta.get_task(FLOW, run, STEP, str(i))
                    meta.get_artifacts(FLOW, run, STEP, str(i))
        read = time.process_time() - began
        conn = sqlite3.connect(path)
        try:
            (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        finally:
            conn.close()
        print(f"page size {page_size}: write {wrote:.2f} s CPU, read {read:.2f} s CPU, "
              f"file {os.path.getsize(path) / 1e6:.1f} MB ({tasks} tasks)")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
