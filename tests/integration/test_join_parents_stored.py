"""A join over many inputs gets them from the datastore, not from the scheduler's memory.

Past ``join_parents.CHUNK`` arrivals, the scheduler stores a join's parents in blobs as they
arrive and keeps only their step and task id; the join's spec carries the blobs' keys and no
parent. Here real runs are watched as the scheduler hands the join to the executor: what its
spec carries, and how many artifact references the scheduler still holds at that moment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.integration.flowrun import hermetic_env

from headwater.runtime.join_parents import CHUNK

N = 2 * CHUNK + 40  # two full chunks and a partial one

FLOW = textwrap.dedent(f'''
    import os
    from headwater import FlowSpec, Parameter, step

    class WideFlow(FlowSpec):
        n = Parameter("n", default={N}, type=int)

        @step
        def start(self):
            self.items = list(range(self.n))
            self.label = "wide"
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if os.environ.get("WIDE_FAIL") == str(self.input):
                raise RuntimeError("item " + str(self.input) + " fails")
            self.out = self.input * 3
            self.next(self.join)

        @step
        def join(self, inputs):
            assert [i.index for i in inputs] == list(range(self.n))
            assert [i.input for i in inputs] == list(range(self.n))
            assert inputs[self.n - 1].out == 3 * (self.n - 1)
            self.total = sum(i.out for i in inputs)
            self.merge_artifacts(inputs, exclude=["out"])
            self.next(self.end)

        @step
        def end(self):
            assert self.total == 3 * sum(range(self.n))
            assert self.label == "wide" and len(self.items) == self.n

    if __name__ == "__main__":
        WideFlow()
''')

# Runs the flow in this interpreter with the executor's submit watched: for the join's spec,
# what it carries, and the ArtifactRef objects alive in the scheduler when it is submitted.
PROBE = textwrap.dedent('''
    import gc, json, runpy, sys
    from headwater.records import ArtifactRef
    from headwater.runtime.executors.local.executor import LocalExecutor
    submit = LocalExecutor.submit
    def watched(self, key, spec):
        if spec.is_join:
            gc.collect()
            held = sum(1 for o in gc.get_objects() if type(o) is ArtifactRef)
            with open("join-spec.json", "w") as out:
                json.dump({"parents": len(spec.parents),
                           "keys": len(spec.extra.get("parents_keys", ())),
                           "refs_held": held}, out)
        return submit(self, key, spec)
    LocalExecutor.submit = watched
    sys.argv = ["wide.py"] + sys.argv[1:]
    runpy.run_path("wide.py", run_name="__main__")
''')


def _run(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path,
                          env=hermetic_env(env), capture_output=True, text=True, timeout=900)


def test_wide_join_reads_its_inputs_from_the_datastore(tmp_path):
    (tmp_path / "wide.py").write_text(FLOW)
    done = _run(tmp_path, "--quiet", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads((tmp_path / "join-spec.json").read_text())
    assert seen["parents"] == 0  # no input travels in the spec ...
    assert seen["keys"] == 3  # ... they are in three blobs: 2 full chunks and the rest
    # Every input made its own 'out' reference; all but the last chunk's are no longer held.
    assert seen["refs_held"] < CHUNK, seen


def test_resumed_wide_join_mixes_cloned_and_new_inputs(tmp_path):
    (tmp_path / "wide.py").write_text(FLOW)
    failed = _run(tmp_path, "--quiet", "run", env={"WIDE_FAIL": str(CHUNK + 3)})
    assert failed.returncode != 0
    resumed = _run(tmp_path, "--quiet", "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    seen = json.loads((tmp_path / "join-spec.json").read_text())
    assert seen["parents"] == 0 and seen["keys"] == 3
    check = textwrap.dedent(f'''
        from headwater import Flow, namespace
        namespace(None)
        run = Flow("WideFlow").latest_run
        assert run.successful and run["end"].task["total"].data == 3 * sum(range({N}))
        origin = Flow("WideFlow")["1"]
        done_before = sum(1 for t in origin["work"] if t.successful)
        ran_again = sum(1 for t in run["work"] if t.origin_pathspec is None)
        print(done_before + ran_again, done_before)
    ''')
    shown = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=hermetic_env(),
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    total, done_before = map(int, shown.stdout.split())
    # what succeeded before was cloned, the rest (the failed item, those never started) ran
    assert total == N and done_before > CHUNK
