"""``--executor dask``: whole flows on a real Dask cluster (a scheduler and two workers on loopback).

The cluster (tests/conftest.py) is started once for the session as separate ``dask scheduler`` /
``dask worker`` processes, as a user would; the headwater scheduler stays in the ``python flow.py run`` process
and the tasks run on the workers, reading and writing the test's local datastore.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import Flow
from proctools import all_end
from servers import free_port

from .flowrun import (
    background,
    example,
    hermetic_env,
    point_client_at,
    run_cli,
    run_count,
    task_lines,
    wait_for_file,
    write_flow,
)


@pytest.fixture
def dask_address(dask_cluster) -> str:
    """The shared cluster's scheduler (tests/conftest.py): workers w1 and w2, loopback only."""
    return dask_cluster.address


def _dask_run_argv(flow_file: Path, address: str) -> list[str]:
    """``python -u FLOW run`` on the cluster at ``address``, for a run started in the background."""
    return [sys.executable, "-u", str(flow_file), "run", "--executor", "dask", "--dask-address",
            address]


def _run(flow_file: Path, address: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(flow_file, "run", "--executor", "dask", "--dask-address", address, *args,
                   cwd=cwd, hermetic=True, timeout=180)


def _latest(cwd: Path, flow: str):
    point_client_at(cwd / ".headwater")
    return Flow(flow).latest_run


def test_branch_flow(dask_address, tmp_path):
    proc = _run(example("branch_flow.py"), dask_address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("Done! Run BranchFlow/")
    printed = [t.text for t in task_lines(proc.stdout) if t.step == "join"]
    assert "a is 11" in printed and "b is 12" in printed
    run = _latest(tmp_path, "BranchFlow")
    assert run.successful
    assert "runtime:dask" in run.system_tags
    assert run["a"].task.data.x == 11
    assert run["a"].task.runtime_name == "dask"
    assert run["b"].task.data.x == 12
    assert run.data.total == 23
    assert run["join"].task.stdout == "a is 11\nb is 12\n"


def test_foreach_flow(dask_address, tmp_path):
    proc = _run(example("foreach_flow.py"), dask_address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = _latest(tmp_path, "ForeachFlow")
    expected = ["0: the bird", "1: the fish", "2: the fox"]
    items = sorted(run["make_title"], key=lambda t: t.index)
    assert [t.data.title for t in items] == expected
    assert [t.stdout for t in items] == [title + "\n" for title in expected]
    assert run.data.titles == expected


RETRY_FLOW = """
    from headwater import FlowSpec, current, retry, step
    from helper import double


    class RetryFlow(FlowSpec):
        @retry(times=2, minutes_between_retries=0)
        @step
        def start(self):
            print("attempt", current.retry_count)
            if current.retry_count < 1:
                raise ValueError("the first attempt fails")
            self.value = double(21)
            self.next(self.end)

        @step
        def end(self):
            print("value", self.value)


    if __name__ == "__main__":
        RetryFlow()
"""


def test_retry_flow_and_code_package(dask_address, tmp_path):
    """@retry reruns a failed task on the cluster; a sibling module travels in the code package."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    flow = write_flow(code_dir, "retry_flow.py", RETRY_FLOW)
    write_flow(code_dir, "helper.py", "def double(x):\n    return 2 * x\n")
    proc = _run(flow, dask_address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "retrying (attempt 2 of 3)" in proc.stdout
    run = _latest(tmp_path, "RetryFlow")
    assert run.successful
    assert run.data.value == 42
    start = run["start"].task
    assert start.data.value == 42
    first, second = start.attempts
    assert first.failure.type_name == "ValueError" and first.status != second.status
    assert second.failure is None
    assert start.stdout == "attempt 1\n"
    # The code the tasks ran is kept with the run, readable from the client.
    code = run.code
    assert code is not None and start.code.key == code.key
    assert sorted(code.files) == ["helper.py", "retry_flow.py"]
    assert code.script_name == "retry_flow.py"
    assert code.flowspec == flow.read_text()
    unpacked = Path(code.extract(tmp_path / "unpacked"))
    assert (unpacked / "helper.py").read_text() == (code_dir / "helper.py").read_text()
    assert code.path.endswith(code.key) and code.path.startswith(str(tmp_path / ".headwater"))


FAILING_FLOW = """
    from headwater import FlowSpec, step


    class FailingFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.boom)

        @step
        def boom(self):
            print("about to fail")
            raise RuntimeError("no luck on the cluster")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FailingFlow()
"""


def test_failing_task(dask_address, tmp_path):
    flow = write_flow(tmp_path, "failing_flow.py", FAILING_FLOW)
    proc = _run(flow, dask_address, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "RuntimeError: no luck on the cluster" in proc.stdout + proc.stderr
    assert "Run FailingFlow/" in proc.stdout and "failed: FailingFlow/" in proc.stdout
    run = _latest(tmp_path, "FailingFlow")
    assert not run.successful
    boom = run["boom"].task
    assert boom.exception.type_name == "RuntimeError"
    assert "no luck on the cluster" in boom.exception.message
    assert boom.stdout == "about to fail\n"
    assert "RuntimeError: no luck on the cluster" in boom.stderr
    assert {s.id for s in run} == {"boom", "start"}


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    proc = run_cli(example("branch_flow.py"), "--executor", "dask", "--dask-address", address,
                   "run", cwd=tmp_path, hermetic=True, timeout=60,
                   env={"HEADWATER_DASK_TIMEOUT": "2"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"cannot reach the Dask scheduler at {address}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Task is starting" not in proc.stdout
    assert run_count(tmp_path / ".headwater") == 0


def test_executor_from_the_environment_needs_an_address(tmp_path):
    proc = run_cli(example("branch_flow.py"), "run", cwd=tmp_path, hermetic=True,
                   env={"HEADWATER_EXECUTOR": "dask"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "--executor dask needs the address of a Dask scheduler" in proc.stderr
    assert run_count(tmp_path / ".headwater") == 0


KILLED_FLOW = """
    import os
    import time
    from pathlib import Path
    from headwater import FlowSpec, step


    class KilledFlow(FlowSpec):
        @step
        def start(self):
            # the task's parent is the worker's fork server, whose parent is the Dask worker
            server = Path(f"/proc/{os.getppid()}/stat").read_text()
            worker = server.rpartition(")")[2].split()[1]
            with open(PID_FILE, "a") as pids:  # one line per start of this task, anywhere
                pids.write(f"{os.getpid()} {worker}\\n")
            time.sleep(120)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        KilledFlow()
"""


def test_worker_killed_mid_task_fails_the_task(dask_address, tmp_path):
    pid_file = tmp_path / "worker.pid"  # the same machine: the test finds the worker here
    flow = write_flow(tmp_path, "killed_flow.py",
                      KILLED_FLOW.replace("PID_FILE", repr(str(pid_file))))
    with background(_dask_run_argv(flow, dask_address), cwd=tmp_path, env=hermetic_env()) as proc:
        first_task, worker = wait_for_file(pid_file, proc).splitlines()[0].split()
        os.kill(int(worker), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "the Dask worker running the task" in out, out + err
    run = _latest(tmp_path, "KilledFlow")
    assert not run.successful
    assert run["start"].task.exception.type_name == "TaskCrashed"
    # Dask may have started the task again on the other worker before the run gave up on it:
    # every process that ran the step is stopped, none sleeps on unowned.
    started = [int(line.split()[0]) for line in pid_file.read_text().splitlines()]
    assert started[0] == int(first_task)
    assert all_end(started), pid_file.read_text()


LIVE_FLOW = """
    import time
    from pathlib import Path
    from headwater import FlowSpec, step


    class LiveFlow(FlowSpec):
        @step
        def start(self):
            print("waiting for the go file", flush=True)
            go = Path(GO_FILE)
            for _ in range(1200):
                if go.exists():
                    break
                time.sleep(0.05)
            self.saw_go = go.exists()
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LiveFlow()
"""


def test_output_is_live_and_tasks_carry_their_pid(dask_address, tmp_path):
    """The task's print reaches the console while it runs (it waits for the test to see it)."""
    go = tmp_path / "go"
    flow = write_flow(tmp_path, "live_flow.py", LIVE_FLOW.replace("GO_FILE", repr(str(go))))
    lines = []
    with background(_dask_run_argv(flow, dask_address), cwd=tmp_path, env=hermetic_env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "waiting for the go file" in line:
                go.touch()
                break
        out, err = proc.communicate(timeout=60)
    out = "".join(lines) + out
    assert proc.returncode == 0, out + err
    tls = task_lines(out)
    assert all(t.pid for t in tls), out
    assert len({t.pid for t in tls}) == 2, "each task in a process of its own"
    run = _latest(tmp_path, "LiveFlow")
    assert run["start"].task.data.saw_go is True
    assert run["start"].task.stdout == "waiting for the go file\n"


TIMEOUT_FLOW = """
    import time
    from headwater import FlowSpec, step, timeout


    class SlowFlow(FlowSpec):
        @timeout(seconds=1)
        @step
        def start(self):
            time.sleep(120)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SlowFlow()
"""


def test_timeout_kills_the_remote_task(dask_address, tmp_path):
    flow = write_flow(tmp_path, "slow_flow.py", TIMEOUT_FLOW)
    proc = _run(flow, dask_address, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = _latest(tmp_path, "SlowFlow")
    assert run["start"].task.exception.type_name == "TimeoutException"


WIDE_FLOW = """
    from headwater import FlowSpec, step


    class WideFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(10_000))
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.value = self.input * self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.count = len(list(inputs))
            self.next(self.end)

        @step
        def end(self):
            print("total", self.total)


    if __name__ == "__main__":
        WideFlow()
"""


def test_a_foreach_of_ten_thousand_tasks(dask_address, tmp_path):
    """The issue's scale: 10,000 tasks, each its own process on a worker, all recorded."""
    flow = write_flow(tmp_path, "wide_flow.py", WIDE_FLOW)
    proc = run_cli(flow, "--quiet", "run", "--executor", "dask", "--dask-address", dask_address,
                   cwd=tmp_path, hermetic=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = _latest(tmp_path, "WideFlow")
    assert run.successful
    assert run.data.total == sum(i * i for i in range(10_000))
    assert run["join"].task.data.count == 10_000
    tasks = list(run["square"])
    assert len(tasks) == 10_000
    assert sorted(t.index for t in tasks) == list(range(10_000))
    assert {t.metadata_dict["dask-worker"] for t in tasks} == {"w1", "w2"}


SLEEPY_FLOW = """
    import os
    import time
    from headwater import FlowSpec, step


    class SleepyFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.nap, foreach="items")

        @step
        def nap(self):
            print("napping in", os.getpid(), flush=True)
            time.sleep(120)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SleepyFlow()
"""


def test_ctrl_c_stops_the_tasks_on_the_workers(dask_address, tmp_path):
    flow = write_flow(tmp_path, "sleepy_flow.py", SLEEPY_FLOW)
    napping: list[int] = []
    with background(_dask_run_argv(flow, dask_address), cwd=tmp_path, env=hermetic_env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "napping in" in line:
                napping.append(int(line.rsplit(" ", 1)[1]))
                if len(napping) == 2:
                    break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    assert all_end(napping), "a task outlived the interrupted run"
    run = _latest(tmp_path, "SleepyFlow")
    assert run.finished and not run.successful
    assert all(not t.successful for t in run["nap"])


ELSEWHERE_FLOW = """
    from headwater import FlowSpec, step
    from only_here import greeting  # importable where the run starts, not on the workers


    class ElsewhereFlow(FlowSpec):
        @step
        def start(self):
            self.text = greeting()
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ElsewhereFlow()
"""


def test_a_module_missing_on_the_workers_is_named_with_the_fix(dask_address, tmp_path):
    """The flow imports a module found only on the launching machine's path (outside the flow's
    folder, so not in the code package): the task fails saying which module and what to do."""
    code, lib = tmp_path / "code", tmp_path / "lib"
    code.mkdir()
    lib.mkdir()
    (lib / "only_here.py").write_text("def greeting():\n    return 'hi'\n")
    flow = write_flow(code, "elsewhere_flow.py", ELSEWHERE_FLOW)
    proc = run_cli(flow, "run", "--executor", "dask", "--dask-address", dask_address,
                   cwd=tmp_path, hermetic=True, timeout=180, env={"PYTHONPATH": str(lib)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failure = _latest(tmp_path, "ElsewhereFlow")["start"].task.exception
    assert failure.type_name == "CodePackageError"
    assert "No module named 'only_here'" in failure.message
    assert "install 'only_here' on the workers" in failure.message
    assert "Traceback" not in proc.stderr


def test_cards_are_rendered_on_the_workers_and_recorded(dask_address, tmp_path):
    from headwater.cards import get_cards

    from .flowrun import flow_file

    flow = tmp_path / "report_flow.py"
    flow.write_text(flow_file("cards/report_flow.py").read_text())
    proc = _run(flow, dask_address, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = _latest(tmp_path, "ReportFlow")
    start = run["start"].task
    assert "dask-worker" in start.metadata_dict  # it ran on a worker
    cards = get_cards(start)
    assert len(cards) == 1 and "Training report" in cards[0].html
    assert [c.id for c in get_cards(run["end"].task)] == ["summary", "details"]
