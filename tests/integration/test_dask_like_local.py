"""A task on a Dask worker sees and reports what the same task run locally does.

Found by running Metaflow's core suite with every task on Dask: the run's user in the task's
environment, the client inside a step reading the run's stores (not the worker's folder), a
native crash named in the task's stderr, a resume clone showing its origin's facts, and the
``metaflow_extensions`` packages of the launching machine (they travel in the code package). Each
test runs on the shared cluster (tests/conftest.py), whose workers start in a folder of their
own with an environment that has no HEADWATER_/METAFLOW_ setting.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater import Flow, namespace

from .acme_extension import write_extension
from .flowrun import TESTER, point_client_at, run_cli, write_flow


@pytest.fixture
def dask_address(dask_cluster) -> str:
    return dask_cluster.address


def _dask(flow: Path, command: str, address: str, cwd: Path):
    return run_cli(flow, command, "--executor", "dask", "--dask-address", address, cwd=cwd,
                   hermetic=True, timeout=180)


AS_THE_RUN_FLOW = """
    import os
    from headwater import FlowSpec, Task, current, get_namespace, step


    class AsTheRunFlow(FlowSpec):
        @step
        def start(self):
            self.env_user = os.environ.get("METAFLOW_USER")
            self.seen_namespace = get_namespace()
            # the client with no set-up, as Metaflow's TagMutationTest uses it in a step
            self.seen_run = Task(current.pathspec).parent.parent.pathspec
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AsTheRunFlow()
"""


def test_a_dask_task_sees_the_runs_user_and_its_client_reads_the_runs_stores(dask_address,
                                                                            tmp_path):
    flow = write_flow(tmp_path, "as_the_run_flow.py", AS_THE_RUN_FLOW)
    proc = _dask(flow, "run", dask_address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    point_client_at(tmp_path / ".headwater")
    run = Flow("AsTheRunFlow").latest_run
    start = run["start"].task
    assert "dask-worker" in start.metadata_dict  # it did run on a worker
    assert start["env_user"].data == TESTER
    assert start["seen_namespace"].data == f"user:{TESTER}"
    assert start["seen_run"].data == run.pathspec


SEGFAULT_FLOW = """
    import ctypes
    from headwater import FlowSpec, step


    class SegfaultFlow(FlowSpec):
        @step
        def start(self):
            print("about to crash", flush=True)
            ctypes.string_at(0)  # reads address 0: SIGSEGV in native code
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SegfaultFlow()
"""


def test_a_segfault_on_a_dask_worker_is_reported_as_a_local_one_is(dask_address, tmp_path):
    flow = write_flow(tmp_path, "segfault_flow.py", SEGFAULT_FLOW)
    proc = _dask(flow, "run", dask_address, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SIGSEGV (segmentation fault)" in proc.stdout + proc.stderr
    point_client_at(tmp_path / ".headwater")
    task = Flow("SegfaultFlow").latest_run["start"].task
    assert task.exception.type_name == "TaskCrashed"
    assert "on the Dask worker was killed by SIGSEGV (segmentation fault)" in \
        task.exception.message
    # the task said nothing about its death: the stored stderr says why it ended
    assert "segmentation fault" in task.stderr
    assert task.stdout == "about to crash\n"


RESUMED_FLOW = """
    from pathlib import Path
    from headwater import FlowSpec, step

    SPARE = {spare!r}


    class ResumedFlow(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            if not Path(SPARE).exists():
                raise RuntimeError("not yet")


    if __name__ == "__main__":
        ResumedFlow()
"""


def test_a_task_resume_clones_from_a_dask_run_shows_its_origins_facts(dask_address, tmp_path):
    spare = tmp_path / "spare"
    flow = write_flow(tmp_path, "resumed_flow.py", RESUMED_FLOW.format(spare=str(spare)))
    first = _dask(flow, "run", dask_address, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    spare.touch()
    again = _dask(flow, "resume", dask_address, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    point_client_at(tmp_path / ".headwater")
    resumed = Flow("ResumedFlow").latest_run
    clone = resumed["start"].task
    origin = Flow("ResumedFlow")[resumed.origin_run_id]["start"].task
    assert clone.origin_pathspec == origin.pathspec
    facts, origin_facts = clone.metadata_dict, origin.metadata_dict
    assert origin_facts["dask-worker"]  # the origin ran on a worker
    assert facts["dask-worker"] == origin_facts["dask-worker"]
    assert facts["dask-worker-address"] == origin_facts["dask-worker-address"]
    assert set(facts) == set(origin_facts) | {"origin-task-id"}


EXTENSION_FLOW = """
    from metaflow import FlowSpec, acme_step, step
    from metaflow.metaflow_config import ACME_LIMIT


    class AcmeOnDaskFlow(FlowSpec):
        @acme_step
        @step
        def start(self):
            self.limit = ACME_LIMIT
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AcmeOnDaskFlow()
"""


def test_the_launching_machines_metaflow_extensions_travel_to_the_workers(dask_address,
                                                                          tmp_path):
    """Metaflow's ExtensionsTest and CardExtensionsImportTest on Dask: the extension package is
    installed where the run is launched only (here: on its PYTHONPATH), never on the workers,
    and the step still gets its decorator and its config value, as Metaflow's remote tasks do
    from the code package."""
    extensions, shim = write_extension(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    flow = write_flow(project, "acme_on_dask_flow.py", EXTENSION_FLOW)
    proc = run_cli(flow, "run", "--executor", "dask", "--dask-address", dask_address,
                   cwd=project, hermetic=True, timeout=180,
                   env={"PYTHONPATH": os.pathsep.join((str(shim), str(extensions)))})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    point_client_at(project / ".headwater")
    start = Flow("AcmeOnDaskFlow").latest_run["start"].task
    assert "dask-worker" in start.metadata_dict  # it did run on a worker
    assert start["pre"].data == "acme:start"
    assert start["limit"].data == 7


WIDE_JOIN_FLOW = """
    from headwater import FlowSpec, step


    class DaskWideFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(CHUNK + 10))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.out = self.input + 1
            self.next(self.join)

        @step
        def join(self, inputs):
            assert [i.out for i in inputs] == [n + 1 for n in self.items_of(inputs)]
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        def items_of(self, inputs):
            return [i.input for i in inputs]

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        DaskWideFlow()
"""


def test_a_wide_join_on_dask_reads_its_inputs_from_the_datastore(dask_address, tmp_path):
    """More than join_parents.CHUNK inputs: the join's spec carries blob keys, which the worker
    reads from the run's datastore (it has no other way to the scheduler's memory)."""
    from headwater.runtime.join_parents import CHUNK

    flow = write_flow(tmp_path, "dask_wide_flow.py",
                      WIDE_JOIN_FLOW.replace("CHUNK + 10", str(CHUNK + 10)))
    done = _dask(flow, "run", dask_address, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    point_client_at(tmp_path)
    namespace(None)
    run = Flow("DaskWideFlow").latest_run
    assert run.successful
    assert run["join"].task["total"].data == sum(range(1, CHUNK + 11))
