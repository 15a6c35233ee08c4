"""A join over a foreach holds what its inputs passed on unchanged once, not once per input.

The scheduler keeps every finished foreach task's references until the join starts, then
pickles them all into the join's TaskSpec: with 100,000 items, what each task merely passed on
(the list, the parameters) made up a large part of the scheduler's memory. Here a real run's
join spec is caught as the scheduler hands it to the executor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.integration.flowrun import hermetic_env

FLOW = textwrap.dedent('''
    from headwater import FlowSpec, Parameter, step

    class FanFlow(FlowSpec):
        n = Parameter("n", default=40, type=int)

        @step
        def start(self):
            self.items = list(range(self.n))
            self.label = "fan"
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.out = self.input * 3
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            assert self.total == 3 * sum(range(self.n))

    if __name__ == "__main__":
        FanFlow()
''')

# Runs the flow in this interpreter with the executor's submit watched: for the join's spec,
# how many distinct objects stand for each artifact across its inputs.
PROBE = textwrap.dedent('''
    import json, runpy, sys
    from headwater.runtime.executors.local.executor import LocalExecutor
    submit = LocalExecutor.submit
    def watched(self, key, spec):
        if spec.is_join:
            seen = {}
            for parent in spec.parents:
                for name, ref in parent.manifest.items():
                    seen.setdefault(name, set()).add(id(ref))
            with open("join-spec.json", "w") as out:
                json.dump({"inputs": len(spec.parents),
                           "objects": {name: len(ids) for name, ids in seen.items()}}, out)
        return submit(self, key, spec)
    LocalExecutor.submit = watched
    sys.argv = ["fan.py", "run"]
    runpy.run_path("fan.py", run_name="__main__")
''')


def test_inputs_share_what_they_passed_on(tmp_path):
    (tmp_path / "fan.py").write_text(FLOW)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=hermetic_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads((tmp_path / "join-spec.json").read_text())
    assert seen["inputs"] == 40
    # Passed on from start unchanged: one object each, whichever input it is read through.
    assert seen["objects"]["items"] == 1
    assert seen["objects"]["label"] == 1
    assert seen["objects"]["n"] == 1
    # Made by each task: its own.
    assert seen["objects"]["out"] == 40
