"""How the UI's tasks API orders a task list (``headwater.ui.reader.sorted_tasks``)."""

from __future__ import annotations

from headwater.ui.reader import sorted_tasks


def _task(task_id: str, status: str, start: float, end: float | None, **more: object) -> dict:
    return {"step": "work", "task_id": task_id, "status": status, "created_at": start,
            "finished_at": end, **more}


TASKS = [_task("9", "succeeded", 10.0, 15.0), _task("10", "failed", 5.0, 6.0),
         _task("11", "failed", 20.0, None, interrupted=True), _task("12", "succeeded", 1.0, 6.0)]


def ids(tasks: list[dict]) -> list[str]:
    return [t["task_id"] for t in tasks]


def test_task_ids_sort_as_numbers():
    assert ids(sorted_tasks(TASKS, "task", "asc")) == ["9", "10", "11", "12"]
    assert ids(sorted_tasks(TASKS, "task", "desc")) == ["12", "11", "10", "9"]


def test_ties_keep_registration_order_both_ways():
    assert ids(sorted_tasks(TASKS, "status", "asc")) == ["10", "11", "9", "12"]
    assert ids(sorted_tasks(TASKS, "status", "desc")) == ["9", "12", "10", "11"]
    assert ids(sorted_tasks(TASKS, "duration", "desc")) == ["9", "12", "10", "11"]


def test_a_task_without_a_duration_goes_last_and_an_interrupted_one_counts_to_its_stop():
    assert ids(sorted_tasks(TASKS, "duration", "asc")) == ["10", "9", "12", "11"]
    assert ids(sorted_tasks(TASKS, "duration", "asc", ended_at=100.0)) == ["10", "9", "12", "11"]
    assert ids(sorted_tasks(TASKS, "duration", "desc", ended_at=100.0)) == ["11", "9", "12", "10"]
    assert ids(sorted_tasks(TASKS, "started", "asc")) == ["12", "10", "9", "11"]
