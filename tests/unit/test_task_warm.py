"""What a fork server runs before it forks tasks (``warm_task_path``, ``warm_codecs``, the tasks'
streams): no user code, no store, and nothing left changed behind it."""

from __future__ import annotations

import os

from headwater import FlowSpec, step
from headwater.flow.current import current
from headwater.graph import build_graph
from headwater.runtime.executors import forkserver
from headwater.runtime.task import warm_task_path
from headwater.store.datastore import warm_codecs

CALLS: list[str] = []


class StepsMustNotRun(FlowSpec):
    @step
    def start(self):
        CALLS.append("start")
        self.next(self.end)

    @step
    def end(self):
        CALLS.append("end")


class CountsInstances(FlowSpec):
    def __new__(cls, *args, **kwargs):
        CALLS.append("__new__")
        return super().__new__(cls)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_warm_task_path_runs_no_step_and_leaves_current_as_it_was() -> None:
    CALLS.clear()
    before = dict(current.__dict__)
    warm_task_path(StepsMustNotRun, build_graph(StepsMustNotRun))
    assert CALLS == []
    assert current.__dict__ == before
    assert not current.is_running_flow


def test_warm_task_path_makes_no_instance_of_a_flow_with_its_own_new() -> None:
    CALLS.clear()
    warm_task_path(CountsInstances, build_graph(CountsInstances))
    assert CALLS == []


def test_warm_codecs_runs_in_memory() -> None:
    warm_codecs(2)


def test_task_streams_are_made_like_a_tasks_and_the_fds_put_back() -> None:
    ours = [os.fstat(1), os.fstat(2)]
    try:
        forkserver._make_task_streams()
        if not forkserver._single_threaded():  # then each task makes its own, as before
            assert forkserver._TASK_STREAMS == []
            return
        out, err = forkserver._TASK_STREAMS
        for stream, fd in ((out, 1), (err, 2)):
            assert stream.fileno() == fd
            assert (stream.encoding, stream.errors, stream.line_buffering) == (
                "utf-8", "backslashreplace", True)
        after = [os.fstat(1), os.fstat(2)]
        assert [(s.st_dev, s.st_ino) for s in after] == [(s.st_dev, s.st_ino) for s in ours]
    finally:
        forkserver._TASK_STREAMS.clear()
