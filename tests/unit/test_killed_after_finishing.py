"""A task that sent a whole, successful result and was then killed before it exited is failed by
its exit, with nothing of that result recorded but its timings, metadata and cards (the chaos
round's ``task.sent`` fault point found the failed attempt recorded with every artifact)."""

from __future__ import annotations

import pickle
import signal
from types import SimpleNamespace

from headwater.records import ArtifactRef, TaskResult
from headwater.runtime.executors.processes import _decode_result


def _sent() -> TaskResult:
    ref = ArtifactRef("k" * 32, 3, "int", "pickle", None)
    return TaskResult(manifest={"x": ref}, next_steps=("end",), foreach_count=None,
                      started_at=1.0, finished_at=2.0, metadata={"where": "here"},
                      cards=[{"index": 0}])


def _check(result: TaskResult) -> None:
    assert result.failure is not None and result.failure.type_name == "TaskKilled"
    assert result.failure.message == "killed by SIGKILL"
    assert result.manifest == {} and result.next_steps == ()
    assert (result.started_at, result.finished_at) == (1.0, 2.0)
    assert result.metadata == {"where": "here"} and result.cards == [{"index": 0}]


def test_a_local_task_killed_after_sending_its_result():
    task = SimpleNamespace(status=signal.SIGKILL, result_bytes=pickle.dumps(_sent()))
    _check(_decode_result(task))


def test_a_dask_task_killed_after_sending_its_result():
    from headwater.runtime.executors.dask.executor import _decode

    _check(_decode({"code": -signal.SIGKILL, "result": pickle.dumps(_sent())}))


def test_a_task_that_exited_cleanly_keeps_its_result():
    task = SimpleNamespace(status=0, result_bytes=pickle.dumps(_sent()))
    result = _decode_result(task)
    assert result.ok and set(result.manifest) == {"x"} and result.next_steps == ("end",)
