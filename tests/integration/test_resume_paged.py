"""Resume of a large foreach reads its origin a page at a time, and clones every task once.

A 2,000-item foreach fails at one item; its resume is watched from inside the scheduler's
process: every metadata query it makes, and how many rows each one returns. The plan must read
the origin's tasks, manifests and attempts in pages (never a whole step at once), fetch each
origin task's details exactly once, and clone every task that succeeded exactly once, with the
same values as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.integration.flowrun import hermetic_env

from headwater.runtime.resume import PAGE

N = 2000
FAILS = N - 10

FLOW = textwrap.dedent(f'''
    import os
    from headwater import FlowSpec, Parameter, step

    class PagedFlow(FlowSpec):
        n = Parameter("n", default={N}, type=int)

        @step
        def start(self):
            self.items = list(range(self.n))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if os.environ.get("PAGED_FAIL") == str(self.input):
                raise RuntimeError("item " + str(self.input) + " fails")
            self.out = self.input * 3
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        PagedFlow()
''')

# Runs the flow in this interpreter with the SQLite reader and the plan's fetches watched.
PROBE = textwrap.dedent('''
    import atexit, json, runpy, sys
    from headwater.meta.sqlite_conn import SQLiteConnections
    from headwater.meta.sql_store import SQLMetadata
    seen = {"largest": 0, "largest_sql": "", "pages": 0, "fetched": [], "whole": []}
    query = SQLiteConnections.query
    def watched_query(self, statement, params=()):
        rows = query(self, statement, params)
        # how many tasks the rows are of: artifacts and attempts come several rows a task
        column = {"artifacts": 0, "attempts": 3}.get(statement.split(" FROM ")[1].split()[0]) \
            if " FROM " in statement else None
        tasks = len(rows) if column is None else len({row[column] for row in rows})
        if tasks > seen["largest"]:
            seen["largest"], seen["largest_sql"] = tasks, " ".join(statement.split())[:120]
        if "(step, task_id) >" in statement:
            seen["pages"] += 1
        return rows
    SQLiteConnections.query = watched_query
    fetch = SQLMetadata.get_tasks_artifacts
    def watched_fetch(self, flow, run_id, step, task_ids):
        seen["fetched"].append([run_id, step, list(task_ids)])
        return fetch(self, flow, run_id, step, task_ids)
    SQLMetadata.get_tasks_artifacts = watched_fetch
    for name in ("get_step_artifacts", "list_step_attempts"):
        def whole(self, flow, run_id, step, _name=name, _real=getattr(SQLMetadata, name)):
            seen["whole"].append([_name, run_id, step])
            return _real(self, flow, run_id, step)
        setattr(SQLMetadata, name, whole)
    atexit.register(lambda: open("seen.json", "w").write(json.dumps(seen)))
    sys.argv = ["paged.py"] + sys.argv[1:]
    runpy.run_path("paged.py", run_name="__main__")
''')

CHECK = textwrap.dedent('''
    import json
    from headwater import Flow, namespace
    namespace(None)
    origin, resumed = Flow("PagedFlow")["1"], Flow("PagedFlow")["2"]
    before = {t.pathspec: [t.index, t.data.out] for t in origin["work"] if t.successful}
    after = [(t.origin_pathspec, t.index, t.data.out) for t in resumed["work"]]
    print(json.dumps({"before": before, "after": after, "ok": resumed.successful,
                      "total": resumed["end"].task["total"].data}))
''')


def test_resume_of_a_large_foreach_reads_pages_and_clones_each_task_once(tmp_path):
    (tmp_path / "paged.py").write_text(FLOW)
    env = hermetic_env({"PAGED_FAIL": str(FAILS)})
    failed = subprocess.run([sys.executable, "paged.py", "--quiet", "run"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=1800)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    resumed = subprocess.run([sys.executable, "-c", PROBE, "--quiet", "resume"], cwd=tmp_path,
                             env=hermetic_env(), capture_output=True, text=True, timeout=1800)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    seen = json.loads((tmp_path / "seen.json").read_text())
    # No query of the resume returned more than a page of tasks' rows, the origin's tasks came in
    # several pages, and no step's manifests or attempts were read whole.
    assert seen["largest"] <= PAGE, seen["largest_sql"]
    assert seen["pages"] >= N // PAGE
    assert seen["whole"] == []
    fetched = [task_id for run_id, step, ids in seen["fetched"] if run_id == "1"
               for task_id in ids]
    assert len(fetched) == len(set(fetched))  # each origin task's details read once

    shown = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, env=hermetic_env(),
                           capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    facts = json.loads(shown.stdout)
    assert facts["ok"] and facts["total"] == 3 * sum(range(N))
    before, after = facts["before"], facts["after"]
    assert len(before) > N // 2 and len(fetched) >= len(before)
    assert sorted(index for _, index, _ in after) == list(range(N))
    cloned = [origin for origin, _, _ in after if origin is not None]
    # every task that succeeded before was cloned exactly once, and only those; the failed
    # item and those it stopped from starting ran
    assert sorted(cloned) == sorted(before)
    assert FAILS in {index for origin, index, _ in after if origin is None}
    # a clone is its origin's place and holds its origin's value
    assert all(before[origin] == [index, out] and out == 3 * index
               for origin, index, out in after if origin is not None)
