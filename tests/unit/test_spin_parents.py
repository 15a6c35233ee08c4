"""Spinning a join reads its inputs' step whole when it has many, a few queries in all."""

from __future__ import annotations

from types import SimpleNamespace

from headwater.records import ArtifactRef, Frame
from headwater.runtime.spin import _parents


class _Meta:
    """Answers like the metadata store for a foreach of ``count`` tasks; counts the calls."""

    def __init__(self, count: int) -> None:
        self.count, self.calls = count, {}

    def _row(self, task_id: str):
        index = int(task_id) - 2
        return SimpleNamespace(task_id=task_id, frames=(Frame("start", "1", index, self.count,
                                                              True, "k"),))

    def _seen(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def get_task(self, flow, run_id, step, task_id):
        self._seen("get_task")
        return self._row(task_id)

    def get_artifacts(self, flow, run_id, step, task_id):
        self._seen("get_artifacts")
        return {"out": ArtifactRef(task_id.zfill(32), 1, "builtins.int")}

    def list_tasks(self, flow, run_id, step):
        self._seen("list_tasks")
        return [self._row(str(i + 2)) for i in range(self.count)]

    def get_step_artifacts(self, flow, run_id, step):
        self._seen("get_step_artifacts")
        return {str(i + 2): {"out": ArtifactRef(str(i + 2).zfill(32), 1, "builtins.int")}
                for i in range(self.count)}


def test_many_inputs_cost_two_queries_and_keep_their_order():
    meta = _Meta(500)
    refs = [f"work/{i + 2}" for i in reversed(range(500))]
    parents = _parents(meta, "F", "1", refs)
    assert meta.calls == {"list_tasks": 1, "get_step_artifacts": 1}
    assert [p.task_id for p in parents] == [r.split("/")[1] for r in refs]
    assert parents[0].frames[-1].index == 499 and parents[0].manifest["out"].key == "501".zfill(32)


def test_a_few_inputs_are_read_one_by_one():
    meta = _Meta(500)
    parents = _parents(meta, "F", "1", ["work/2", "work/3"])
    assert meta.calls == {"get_task": 2, "get_artifacts": 2}
    assert [p.frames[-1].index for p in parents] == [0, 1]
