"""``@resources`` under ``--executor dask``: tasks land only on workers that declare enough.

The shared cluster (tests/conftest.py) has w1 ("CPU=1,MEMORY=4096") and w2
("CPU=2,MEMORY=8192,GPU=1"); a second cluster started here has one worker, "plain", that declares
no resources at all. Flows run as a user runs them (``python flow.py run --executor dask ...``) and
are read back with the client.
"""

from __future__ import annotations

import time

import pytest

import servers
from headwater import Flow
from headwater.runtime.executors.dask.resources import dask_request

from .flowrun import point_client_at, run_cli, task_lines, write_flow

NOTE = "Note: no Dask worker declares"


def _run(flow_file, address: str, cwd, *args: str):
    return run_cli(flow_file, "run", "--executor", "dask", "--dask-address", address, *args,
                   cwd=cwd, hermetic=True, timeout=120)


def _latest(cwd, flow: str):
    point_client_at(cwd / ".headwater")
    return Flow(flow).latest_run


@pytest.fixture(scope="module")
def plain_cluster(tmp_path_factory):
    """A scheduler with one worker that declares no resources (as `dask worker ADDRESS`)."""
    with servers.dask_cluster(tmp_path_factory.mktemp("dask-plain"), {"plain": None}) as cluster:
        yield cluster


def test_resources_options_become_dask_resources():
    assert dask_request({"cpu": 2, "memory": 8192, "gpu": 0, "disk": 100}) == \
        {"CPU": 2, "MEMORY": 8192}
    assert dask_request({"cpu": 0.5, "memory": "16000", "gpu": 1}) == \
        {"CPU": 0.5, "MEMORY": 16000, "GPU": 1}
    assert dask_request({}) == {}


PLACED_FLOW = """
    from headwater import FlowSpec, resources, step


    class PlacedFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(4))
            self.next(self.big, foreach="items")

        @resources(cpu=2)
        @step
        def big(self):
            self.x = 10 * self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.xs = sorted(i.x for i in inputs)
            self.next(self.gpu)

        @resources(gpu=1)
        @step
        def gpu(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PlacedFlow()
"""


def test_steps_land_on_the_worker_that_fits(dask_cluster, tmp_path):
    flow = write_flow(tmp_path, "placed_flow.py", PLACED_FLOW)
    proc = _run(flow, dask_cluster.address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert NOTE not in proc.stderr  # both workers declare CPU and MEMORY: all enforced
    run = _latest(tmp_path, "PlacedFlow")
    assert run.successful
    assert run.data.xs == [0, 10, 20, 30]
    big = list(run["big"])
    assert len(big) == 4
    # only w2 declares CPU=2 and GPU=1
    assert [t.metadata_dict["dask-worker"] for t in big] == ["w2"] * 4
    assert run["gpu"].task.metadata_dict["dask-worker"] == "w2"
    # a step without @resources may run anywhere, and its worker is recorded too
    start = run["start"].task.metadata_dict
    assert start["dask-worker"] in {"w1", "w2"}
    assert start["dask-worker-address"].startswith("tcp://127.0.0.1:")
    assert run["gpu"].task.metadata_dict["dask-worker-address"] != \
        "tcp://127.0.0.1:0"  # a real address, as the scheduler knows it


FIT_FOREACH_FLOW = """
    from headwater import FlowSpec, resources, step


    class FitFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(6))
            self.next(self.work, foreach="items")

        @resources(memory=4096)
        @step
        def work(self):
            self.y = self.input + 1
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FitFlow()
"""


def test_foreach_whose_tasks_fit_runs(dask_cluster, tmp_path):
    flow = write_flow(tmp_path, "fit_flow.py", FIT_FOREACH_FLOW)
    proc = _run(flow, dask_cluster.address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = _latest(tmp_path, "FitFlow")
    assert run.successful
    assert run.data.total == sum(range(1, 7))
    workers = {t.metadata_dict["dask-worker"] for t in run["work"]}
    assert workers <= {"w1", "w2"} and workers


TOO_BIG_FLOW = """
    from headwater import FlowSpec, resources, step


    class TooBigFlow(FlowSpec):
        @step
        def start(self):
            self.value = 7
            self.next(self.train)

        @resources(memory=100000)
        @step
        def train(self):
            self.model = self.value * 2
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        TooBigFlow()
"""


def test_request_no_worker_can_meet_fails_at_once(dask_cluster, tmp_path):
    flow = write_flow(tmp_path, "too_big_flow.py", TOO_BIG_FLOW)
    began = time.monotonic()
    proc = _run(flow, dask_cluster.address, tmp_path)
    took = time.monotonic() - began
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert took < 60, f"took {took:.0f} s: the task was queued instead of refused"
    assert "Traceback" not in out
    assert "ResourcesUnavailable: no Dask worker can run step train" in proc.stdout
    assert "failed: TooBigFlow/" in proc.stdout
    assert not any(t.step == "train" and "Task is starting" in t.text
                   for t in task_lines(proc.stdout))
    run = _latest(tmp_path, "TooBigFlow")
    assert not run.successful
    assert run["start"].task.successful
    failure = run["train"].task.exception
    assert failure.type_name == "ResourcesUnavailable"
    message = failure.message
    assert "@resources(cpu=1, memory=100000)" in message
    assert "Dask resources CPU=1, MEMORY=100000" in message
    assert "w1 (tcp://127.0.0.1:" in message and "CPU=1, MEMORY=4096" in message
    assert "w2 (tcp://127.0.0.1:" in message and "CPU=2, MEMORY=8192, GPU=1" in message
    assert '--resources "CPU=1,MEMORY=100000"' in message
    assert "dask-worker" not in run["train"].task.metadata_dict  # it never reached a worker

    # The failed run resumes like any other: here on the local executor, which does not place.
    resumed = run_cli(flow, "resume", cwd=tmp_path, hermetic=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = _latest(tmp_path, "TooBigFlow")
    assert again.successful and again.id != run.id
    assert again.data.model == 14


CAUGHT_FLOW = """
    from headwater import FlowSpec, catch, resources, step


    class CaughtFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.train)

        @catch(var="problem", print_exception=False)
        @resources(memory=100000)
        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            print("went on")


    if __name__ == "__main__":
        CaughtFlow()
"""


def test_catch_lets_the_flow_go_on_past_a_refused_task(dask_cluster, tmp_path):
    """@catch's stand-in does not run the step, so it is not refused like the step was."""
    flow = write_flow(tmp_path, "caught_flow.py", CAUGHT_FLOW)
    proc = _run(flow, dask_cluster.address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "@catch lets the flow go on" in proc.stdout
    run = _latest(tmp_path, "CaughtFlow")
    assert run.successful
    problem = run["train"].task.data.problem
    assert problem.type == "ResourcesUnavailable"
    assert run["end"].task.stdout == "went on\n"


MEMORY_FLOW = """
    from headwater import FlowSpec, resources, step


    class MemoryFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.train, foreach="items")

        @resources(memory=2000)
        @step
        def train(self):
            self.y = self.input * 3
            self.next(self.join)

        @step
        def join(self, inputs):
            self.ys = sorted(i.y for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MemoryFlow()
"""


def test_undeclared_cpu_and_memory_are_not_enforced_with_one_note(plain_cluster, tmp_path):
    flow = write_flow(tmp_path, "memory_flow.py", MEMORY_FLOW)
    proc = _run(flow, plain_cluster.address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith(NOTE)]
    assert len(notes) == 2, proc.stderr  # once per name and run, not once per task
    memory = next(n for n in notes if "declares MEMORY;" in n)
    assert "@resources(memory=2000) of step train is not enforced" in memory
    assert '--resources "MEMORY=..."' in memory
    assert any("declares CPU;" in n for n in notes)
    run = _latest(tmp_path, "MemoryFlow")
    assert run.successful and run.data.ys == [3, 6, 9]
    assert {t.metadata_dict["dask-worker"] for t in run["train"]} == {"plain"}


GPU_FLOW = """
    from headwater import FlowSpec, resources, step


    class GpuFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.render)

        @resources(gpu=1)
        @step
        def render(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        GpuFlow()
"""


def test_gpu_is_enforced_even_when_no_worker_declares_it(plain_cluster, tmp_path):
    flow = write_flow(tmp_path, "gpu_flow.py", GPU_FLOW)
    proc = _run(flow, plain_cluster.address, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert "ResourcesUnavailable: no Dask worker can run step render" in proc.stdout
    run = _latest(tmp_path, "GpuFlow")
    assert not run.successful
    failure = run["render"].task.exception
    assert failure.type_name == "ResourcesUnavailable"
    assert "@resources(cpu=1, memory=4096, gpu=1)" in failure.message
    assert "Dask resources GPU=1" in failure.message
    assert "plain (tcp://127.0.0.1:" in failure.message
    assert "no resources declared" in failure.message
    assert '--resources "GPU=1"' in failure.message
