"""What the sixth differential round (tools/differential.py, seeds 430, 443 and from 446) found
comparing with a real Metaflow 2.19.38, pinned on headwater (docs/decisions.md, "Differential
testing, sixth round").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from headwater import Flow

from .helpers import shim_folder

ARMS = '''
import os

from metaflow import FlowSpec, step


class ArmsFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        if os.environ.get("FAIL_RIGHT"):
            raise RuntimeError("failing right on purpose")
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = sorted(inp.side for inp in inputs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ArmsFlow()
'''


def test_a_join_inside_a_foreach_after_a_resume_names_the_clone_and_the_rerun(
        tmp_path: Path, run_headwater, client):
    """Seed 430: a static branch inside a foreach, one arm failed, then ``resume``. The join's
    parents are both arms, the clone and the task that ran again, and the clone before them
    names both as children. Metaflow 2.19.38 lists only the arm that ran again there (it
    matches the foreach path a clone keeps from its origin run): kept, headwater names what
    fed what."""
    (tmp_path / "arms.py").write_text(ARMS)
    failed = run_headwater("run", "arms.py", extra_env={"FAIL_RIGHT": "1"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    resumed = run_headwater("resume", "arms.py")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    client()
    run = Flow("ArmsFlow").latest_run
    left, right, meet = run["left"].task, run["right"].task, run["meet"].task
    fan = run["fan"].task
    assert left.origin_pathspec is not None and right.origin_pathspec is None
    assert fan.origin_pathspec is not None
    assert meet.data.sides == ["left", "right"]
    assert sorted(meet.parent_task_pathspecs) == sorted([left.pathspec, right.pathspec])
    assert sorted(fan.child_task_pathspecs) == sorted([left.pathspec, right.pathspec])
    assert list(left.child_task_pathspecs) == [meet.pathspec]
    assert list(right.parent_task_pathspecs) == [fan.pathspec]


WIDE = '''
from metaflow import FlowSpec, current, retry, step


class WideFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("flaky start")
        self.next(self.split)

    @step
    def split(self):
        self.items = [1, 2, 3, 4]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
'''

RUNNER = '''
import json
from metaflow import Runner

with Runner("wide.py", show_output=False) as runner:
    done = runner.run(max_num_splits=3)
    print(json.dumps({"status": done.status, "returncode": done.returncode,
                      "successful": done.run.successful, "stdout": done.stdout}))
'''


def test_a_runner_run_over_max_num_splits_fails_at_the_step_that_fans_out(tmp_path: Path):
    """Seed 443: a foreach wider than ``max_num_splits``, through the Runner, after a start
    that failed its first attempt. Both systems fail the run at the step that fans out, with an
    error of the framework's own naming the limit (Metaflow's ``Step split (task-id N) failed:
    Foreach ... more than the current maximum of 3``); the tool had read Metaflow's last
    exception line instead, the retried start's ``RuntimeError``."""
    (tmp_path / "wide.py").write_text(WIDE)
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {**os.environ, "PYTHONPATH": shim_folder(tmp_path)}
    done = subprocess.run([sys.executable, "runner.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    import json

    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == "failed" and seen["returncode"] == 1
    assert seen["successful"] is False
    output = seen["stdout"]
    assert "RuntimeError: flaky start" in output  # the first attempt's, before the retry
    tail = output[output.index("RuntimeError: flaky start"):]
    assert "step 'split'" in tail and "--max-num-splits (3)" in tail, tail
    assert "failed: WideFlow/1/split/" in tail, tail


FAN_OUT_CATCH = '''
from metaflow import FlowSpec, catch, step


class FanOutCatchFlow(FlowSpec):
    @catch(var="failure")
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, FANOUT)

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanOutCatchFlow()
'''


def test_catch_on_a_step_that_fans_out_is_refused_before_the_run(tmp_path: Path,
                                                                 run_headwater):
    """Metaflow refuses ``@catch`` on a foreach split step (and a ``num_parallel`` one, which
    its graph calls a foreach too) before anything runs; headwater ran it, and a caught failure
    then failed again for want of items to fan out over."""
    for fan_out in ('foreach="items"', "num_parallel=2"):
        source = FAN_OUT_CATCH.replace("FANOUT", fan_out)
        if "num_parallel" in fan_out:
            source = source.replace("import FlowSpec, catch, step",
                                    "import FlowSpec, catch, parallel, step")
            source = source.replace("    @step\n    def body", "    @parallel\n    @step\n"
                                    "    def body")
        (tmp_path / "fanout.py").write_text(source)
        done = run_headwater("run", "fanout.py")
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert "step 'start' fans out" in output and "@catch" in output, output
        assert "remove @catch from 'start'" in output, output
        assert "Task is starting" not in output, output
    (tmp_path / "fanout.py").write_text(FAN_OUT_CATCH.replace('    @catch(var="failure")\n', "")
                                        .replace("FANOUT", 'foreach="items"'))
    with_catch = run_headwater("--with", "catch", "run", "fanout.py")
    assert with_catch.returncode == 1, with_catch.stdout + with_catch.stderr
    assert "step 'start' fans out" in with_catch.stdout + with_catch.stderr


PROJECT = '''
from metaflow import FlowSpec, Parameter, current, project, resources, step


@project(name="diffproj")
class ProjectFlow(FlowSpec):
    req = Parameter("req", required=True, type=int)

    @resources(cpu=1, memory=512)
    @step
    def start(self):
        self.proj = [current.project_name, current.branch_name, current.is_user_branch,
                     current.is_production, current.project_flow_name]
        self.ctags = sorted(t for t in current.tags if t.startswith("t6"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProjectFlow()
'''


def test_project_facts_and_run_tags_read_as_metaflow_gives_them(tmp_path: Path, run_headwater,
                                                                 client):
    """The sixth grammar's features, values as Metaflow 2.19.38 gave them for the same flow:
    ``@project``'s ``current`` facts on a user branch and on ``--branch b6``, its system tags,
    and the ``--tag`` values in ``current.tags``."""
    (tmp_path / "proj.py").write_text(PROJECT)
    user = {"USERNAME": "tester", "USER": "tester"}
    plain = run_headwater("run", "proj.py", "--req", "3", "--tag", "t6_a", "--tag", "t6 spaced",
                          extra_env=user)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    branched = run_headwater("--branch", "b6", "run", "proj.py", "--req", "4", extra_env=user)
    assert branched.returncode == 0, branched.stdout + branched.stderr
    client()
    first, second = sorted(Flow("ProjectFlow"), key=lambda run: int(run.id))
    on_user = first["start"].task.data
    assert on_user.proj == ["diffproj", "user.tester", True, False,
                         "diffproj.user.tester.ProjectFlow"]
    assert on_user.ctags == ["t6 spaced", "t6_a"]
    assert {"project:diffproj", "project_branch:user.tester"} <= set(first.system_tags)
    assert {"t6_a", "t6 spaced"} <= set(first.user_tags)
    test = second["start"].task.data
    assert test.proj == ["diffproj", "test.b6", False, False, "diffproj.test.b6.ProjectFlow"]
    assert test.ctags == []
    assert "project_branch:test.b6" in second.system_tags
