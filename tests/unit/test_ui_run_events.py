"""A run's event stream sends at most TASKS_PER_EVENT tasks an event, and still every change:
a page opened on a foreach finishing thousands of tasks gets them over a few events, not one
event of megabytes. Driven with a recorded run (a fake reader), the polls not waited for."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from headwater.ui import events


class _Run:
    """A run whose 1,200 tasks all finished in the last second; it ends after ``polls``."""

    def __init__(self, tasks: int, polls: int) -> None:
        now = events.time.time()
        self.tasks = [{"pathspec": f"F/1/work/{i}", "status": "succeeded", "finished_at": now}
                      for i in range(tasks)]
        self.polls = polls
        self.asked: list[float] = []

    def call(self, func, *args):  # type: ignore[no-untyped-def]
        return func(*args)

    def snapshot(self, flow: str, run_id: str, since: float) -> tuple[dict, list[dict]]:
        self.asked.append(since)
        status = "running" if len(self.asked) <= self.polls else "succeeded"
        return {"status": status}, [t for t in self.tasks if t["finished_at"] >= since]


def _events(run: _Run) -> list[tuple[str, object]]:
    async def disconnected() -> bool:
        return False

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(reader=run)),
                              path_params={"flow": "F", "run_id": "1"},
                              is_disconnected=disconnected)

    async def read() -> list[tuple[str, object]]:
        response = await events.run_events(request)  # type: ignore[arg-type]
        out = []
        async for chunk in response.body_iterator:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.startswith("event: "):
                name, data = text.split("\n")[:2]
                out.append((name[7:], json.loads(data[6:])))
        return out

    return asyncio.run(read())


def test_a_burst_of_changes_is_sent_over_several_bounded_events(monkeypatch):
    monkeypatch.setattr(events, "POLL_S", 0)
    run = _Run(1_200, polls=1)  # the run ends right after the first poll
    got = _events(run)
    tasks = [data for name, data in got if name == "tasks"]
    assert all(len(batch) <= events.TASKS_PER_EVENT for batch in tasks)
    sent = [t["pathspec"] for batch in tasks for t in batch]
    assert sorted(sent) == sorted(t["pathspec"] for t in run.tasks)  # each once, none lost
    assert len(sent) == len(set(sent))
    assert got[-1] == ("end", {"status": "succeeded"})  # only after the last of them
    # the window was held back while tasks were left over: the first poll's start reused
    assert run.asked[1] == run.asked[0]


def test_a_quiet_run_sends_each_change_once(monkeypatch):
    monkeypatch.setattr(events, "POLL_S", 0)
    run = _Run(3, polls=3)
    got = _events(run)
    tasks = [data for name, data in got if name == "tasks"]
    assert [len(batch) for batch in tasks] == [3]
    assert got[-1] == ("end", {"status": "succeeded"})


class _Foreach:
    """A foreach of ``width`` tasks started and finished a batch a poll, on a clock the test
    moves (a poll is a step of LOOKBACK_S + 1 seconds): each task is running for one poll, then
    succeeded, then out of the look-back window."""

    def __init__(self, width: int, batch: int) -> None:
        self.width, self.batch, self.poll = width, batch, 0
        self.clock = events.time.time()
        self.tasks: dict[str, dict] = {}

    def call(self, func, *args):  # type: ignore[no-untyped-def]
        return func(*args)

    def snapshot(self, flow: str, run_id: str, since: float) -> tuple[dict, list[dict]]:
        self.poll += 1
        self.clock += events.LOOKBACK_S + 1
        for task in self.tasks.values():
            if task["status"] == "running":
                task.update(status="succeeded", finished_at=self.clock)
        first = (self.poll - 1) * self.batch
        for i in range(first, min(first + self.batch, self.width)):
            self.tasks[f"F/1/work/{i}"] = {"pathspec": f"F/1/work/{i}", "status": "running",
                                           "created_at": self.clock, "finished_at": None}
        done = len(self.tasks) == self.width and all(
            t["status"] == "succeeded" for t in self.tasks.values())
        return {"status": "succeeded" if done else "running"}, [
            dict(t) for t in self.tasks.values() if t["status"] == "running"
            or t["created_at"] >= since or (t["finished_at"] or 0) >= since]


def test_a_stream_remembers_the_tasks_of_its_window_not_every_task_it_sent(monkeypatch):
    """A foreach of 20,000 tasks, 200 started a poll: the stream sends every task's start and
    end, yet never holds more than the tasks a poll finds (before, it kept a copy of every task
    it had sent: memory grew with the run)."""
    monkeypatch.setattr(events, "POLL_S", 0)
    run = _Foreach(20_000, 200)
    # the stream's clock is the run's (its look-back window moves a poll at a time)
    monkeypatch.setattr(events, "time", SimpleNamespace(time=lambda: run.clock))
    sizes: list[int] = []

    class Recorded(events.TaskDiff):
        def changed(self, candidates, limit):  # type: ignore[no-untyped-def]
            out = super().changed(candidates, limit)
            sizes.append(len(self.sent))
            return out

    monkeypatch.setattr(events, "TaskDiff", Recorded)
    got = _events(run)  # type: ignore[arg-type]
    sent = [t for name, data in got if name == "tasks" for t in data]
    final = {t["pathspec"]: t["status"] for t in sent}
    assert len(final) == 20_000 and set(final.values()) == {"succeeded"}
    assert len(sent) == 40_000  # each task's start and its end, each once
    assert max(sizes) <= 5 * 200  # a few polls' worth, not 20,000
    assert got[-1] == ("end", {"status": "succeeded"})


def test_a_task_diff_resends_only_what_changed():
    diff = events.TaskDiff()
    a, b = {"pathspec": "F/1/s/1", "status": "running"}, {"pathspec": "F/1/s/2", "status": "running"}
    assert diff.changed([a, b], 1) == ([a], True)
    assert diff.changed([a, b], 1) == ([b], False)
    assert diff.changed([a, b], 5) == ([], False)
    done = {**a, "status": "succeeded"}
    assert diff.changed([done], 5) == ([done], False)
    assert set(diff.sent) == {"F/1/s/1"}  # the task no longer found is forgotten
