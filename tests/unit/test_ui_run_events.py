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
