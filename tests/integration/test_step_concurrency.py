"""@concurrency(limit=N): real runs whose tasks stamp their start and end in one file, and the
order of the stamps shows how many ran at once; the deployers' compiled form of the limit.

Each limited task waits, after stamping its start, until as many of its step's tasks as the
limit are running (or every task has started), so a run that honours the limit reaches it
exactly, and one that does not goes past it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import hw
from .flowrun import hermetic_env, task_lines, write_flow

ITEMS = 6

FLOW = """
    import os
    import time

    from headwater import FlowSpec, concurrency, step

    ITEMS = {items}
    LIMIT = {limit}


    def events():
        return os.path.join(os.environ["DIR"], "events.txt")


    def stamp(kind, index):
        fd = os.open(events(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{{kind}} {{index}}\\n".encode())
        finally:
            os.close(fd)


    def running_and_started():
        with open(events()) as handle:
            words = handle.read().split()
        started, ended = words.count("start"), words.count("end")
        return started - ended, started


    class LimitFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(ITEMS))
            self.next(self.call, foreach="items")

        @concurrency(limit=LIMIT)
        @step
        def call(self):
            stamp("start", self.input)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running, started = running_and_started()
                if running >= LIMIT or started == ITEMS:
                    break
                time.sleep(0.02)
            self.out = self.input * 2
            stamp("end", self.input)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.out for i in inputs)
            print("TOTAL", self.total)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LimitFlow()
"""


def most_at_once(path: Path) -> int:
    """The most tasks that had stamped their start and not yet their end, at any point."""
    running = peak = 0
    for line in path.read_text().splitlines():
        running += 1 if line.startswith("start ") else -1
        peak = max(peak, running)
    return peak


def run_flow(folder: Path, limit: int, top: tuple[str, ...] = (),
             more: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``python limit_flow.py TOP run --max-workers 4 MORE`` to a succeeded end."""
    flow = write_flow(folder, "limit_flow.py", FLOW.format(items=ITEMS, limit=limit))
    done = hw(flow, *top, "run", "--max-workers", "4", *more, cwd=folder, DIR=str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    total = [t.text for t in task_lines(done.stdout) if t.text.startswith("TOTAL")]
    assert total == [f"TOTAL {sum(i * 2 for i in range(ITEMS))}"], done.stdout
    lines = (folder / "events.txt").read_text().splitlines()
    assert sorted(lines) == sorted([f"start {i}" for i in range(ITEMS)]
                                   + [f"end {i}" for i in range(ITEMS)])
    return done


@pytest.mark.parametrize("limit", [1, 3])
def test_a_step_never_runs_more_tasks_at_once_than_its_limit(tmp_path, limit) -> None:
    # --max-workers 4 would allow four; the step's limit is what holds
    run_flow(tmp_path, limit)
    assert most_at_once(tmp_path / "events.txt") == limit


def test_the_limit_holds_on_dask_too(tmp_path, dask_cluster) -> None:
    # Dask workers do not inherit the run's environment: @environment hands the folder over.
    paths = f'environment:vars={json.dumps({"DIR": str(tmp_path)})}'
    run_flow(tmp_path, 1, ("--with", paths),
             ("--executor", "dask", "--dask-address", dask_cluster.address))
    assert most_at_once(tmp_path / "events.txt") == 1


def test_a_bad_limit_is_refused_naming_the_step_option(tmp_path) -> None:
    flow = write_flow(tmp_path, "limit_flow.py", FLOW.format(items=ITEMS, limit=0))
    done = hw(flow, "run", cwd=tmp_path, DIR=str(tmp_path))
    assert done.returncode != 0
    assert "@concurrency(limit=0): must be a whole number of tasks, 1 or more" in done.stderr
    assert "@concurrency(limit=4)" in done.stderr, done.stderr


# -- deployers ---------------------------------------------------------------------------------

NESTED = """
    from headwater import FlowSpec, concurrency, step


    class NestedLimitFlow(FlowSpec):
        @step
        def start(self):
            self.rows = [1, 2]
            self.next(self.outer, foreach="rows")

        @step
        def outer(self):
            self.cols = [1, 2]
            self.next(self.inner, foreach="cols")

        @concurrency(limit=2)
        @step
        def inner(self):
            self.next(self.inner_join)

        @step
        def inner_join(self, inputs):
            self.next(self.outer_join)

        @step
        def outer_join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        NestedLimitFlow()
"""


def _argo(flow: Path, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(flow), "argo-workflows", "create", "--only-json"],
                          cwd=cwd, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def test_argo_bounds_the_fan_out_that_runs_the_step(tmp_path) -> None:
    flow = write_flow(tmp_path, "limit_flow.py", FLOW.format(items=ITEMS, limit=3))
    docs = json.loads(_argo(flow, tmp_path).stdout)
    template = (docs if isinstance(docs, list) else [docs])[0]
    templates = {t["name"]: t for t in template["spec"]["templates"]}
    limit = templates["limit-start"]
    assert limit["parallelism"] == 3
    (items,) = limit["dag"]["tasks"]
    assert items["template"] == "body-start"
    assert items["withParam"] == "{{inputs.parameters.children}}"
    fan_out = next(t for t in templates["main"]["dag"]["tasks"] if t["name"] == "start-foreach")
    assert fan_out["template"] == "limit-start" and "withParam" not in fan_out
    assert "parallelism" not in template["spec"]  # the run's own bound is --max-workers'
    from hera.workflows.models import WorkflowTemplate  # Argo's schema: nothing unknown

    again = WorkflowTemplate.model_validate(template).model_dump(
        by_alias=True, exclude_none=True, mode="json")
    assert again == template


def test_argo_refuses_a_limit_inside_a_nested_foreach(tmp_path) -> None:
    flow = write_flow(tmp_path, "nested_limit_flow.py", NESTED)
    done = _argo(flow, tmp_path, ok=False)
    assert "step 'inner' of flow NestedLimitFlow has @concurrency(limit=2) inside a nested " \
           "foreach (start > outer)" in done.stderr, done.stderr
    assert "airflow create" in done.stderr


def test_a_failure_drops_the_held_tasks_and_the_run_ends(tmp_path) -> None:
    source = FLOW.format(items=ITEMS, limit=1).replace(
        '            stamp("start", self.input)\n',
        '            stamp("start", self.input)\n'
        '            if self.input == 0:\n'
        '                raise ValueError("the API said no")\n')
    flow = write_flow(tmp_path, "limit_flow.py", source)
    done = hw(flow, "run", "--max-workers", "4", cwd=tmp_path, DIR=str(tmp_path))
    assert done.returncode != 0
    assert "the API said no" in done.stdout + done.stderr
    # item 0 ran first and failed; the five held behind the limit never started
    assert (tmp_path / "events.txt").read_text().splitlines() == ["start 0"]
