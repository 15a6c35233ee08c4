"""``task.metadata``: the facts Metaflow records about each attempt of a task, in its shape.

Metaflow's tasks write these facts one by one as they run (a file or a service call each);
headwater's tasks write none of them. Everything here is derived, when the client asks, from
what the scheduler already recorded in the same transaction as the task's end (its attempts,
its frames, its transition) and from the run's system tags, so a run pays nothing for it.

Per attempt, at its start: ``attempt``, ``ds-type``, ``ds-root``, ``origin-run-id`` (the
string ``'None'`` for a fresh run, as Metaflow writes it), the run's ``user``, ``runtime``,
``python_version``, ``metaflow_version`` and ``script-name``, and inside a foreach
``foreach-stack`` (a list of ``var=value``) and ``foreach-execution-path``. Per finished
attempt: ``attempt_ok`` (type ``internal_attempt_status``, ``'True'``/``'False'``) and
``attempt-done``. Per task: ``origin-task-id`` for a task resume cloned,
``internal_task_type`` for a control task, and headwater's own facts (``dask-worker``,
``environment``, ``cache-key``, ...). Log locations are not facts here: logs are read through
``task.stdout`` whatever the datastore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from headwater.client import _context, lineage, run_graph
from headwater.meta.rows import FAILED, SUCCEEDED
from headwater.records import INTERNAL_FACTS

if TYPE_CHECKING:
    from headwater.client.core import Task
    from headwater.meta import AttemptRow

# Metaflow's limits on what a foreach-stack entry shows (MAXIMUM_FOREACH_VALUE_CHARS and the
# task's MAX_FOREACH_PATH_LENGTH).
_VALUE_CHARS = 30
_PATH_CHARS = 256

# The run's system tags that Metaflow also records as facts of every task.
_RUN_FACTS = ("user", "runtime", "python_version", "metaflow_version")

# URL schemes -> Metaflow's datastore type names (anything without a scheme is local).
_DS_TYPES = {"s3": "s3", "gs": "gs", "gcs": "gs", "az": "azure", "abfs": "azure",
             "abfss": "azure"}


class Metadata(NamedTuple):
    """One fact recorded about a task, in Metaflow's shape (``task.metadata``)."""

    name: str
    value: Any  # a string, except foreach-stack's list, as in Metaflow
    created_at: int  # milliseconds since the epoch
    type: str
    task: Task


def _millis(seconds: float | None, fallback: float) -> int:
    return int((seconds if seconds is not None else fallback) * 1000)


def datastore_facts() -> dict[str, str]:
    """``ds-type`` and ``ds-root`` of the datastore the client reads."""
    from headwater.redaction import redact  # a root set before it was refused may hold one

    root = str(_context.current().settings.datastore_root)
    scheme = root.split("://", 1)[0].lower() if "://" in root else ""
    return {"ds-type": _DS_TYPES.get(scheme, "local" if not scheme else scheme),
            "ds-root": redact(root)}


def task_metadata(task: Task, attempts: list[AttemptRow]) -> list[Metadata]:
    """Every fact of ``task``, oldest first; ``attempts`` are the attempts it shows (without
    @catch's stand-in after a step that raised, which Metaflow counts within the failed one)."""
    row = task._fresh()
    run_row = task._run_row
    graph = task._details.graph
    if graph is None:  # once per step listed (its tasks share their details), once recorded
        graph = run_graph.recorded_graph(run_row) or {}
        task._details.graph = graph or None
    started = {**datastore_facts(), "origin-run-id": str(run_row.origin_run_id)}
    started.update(_run_facts(run_row.system_tags, graph))
    started.update(_foreach_facts(task, graph))
    stand_in = task._stand_in()
    numbers = [a.attempt for a in attempts]
    if not numbers and row.status != "running":  # cloned by resume: one attempt, as Metaflow's
        numbers = [0]
    records: list[Metadata] = []

    def add(name: str, value: Any, when: int, kind: str | None = None) -> None:
        records.append(Metadata(name, value, when, kind or name, task))

    by_number = {a.attempt: a for a in attempts}
    for number in numbers:
        attempt = by_number.get(number)
        begin = _millis(attempt.started_at if attempt else None, row.created_at)
        add("attempt", str(number), begin)
        for name, value in started.items():
            add(name, value, begin)
        ok = _attempt_ok(attempt, row.status, caught=stand_in == number + 1)
        if ok is not None:
            end = _millis(attempt.finished_at if attempt else None,
                          row.finished_at or row.created_at)
            add("attempt_ok", ok, end, "internal_attempt_status")
            add("attempt-done", str(number), end)
    done = _millis(row.finished_at, row.created_at)
    if row.origin_pathspec:
        add("origin-task-id", row.origin_pathspec.rsplit("/", 1)[-1], done)
    if lineage.is_control_task(row):  # Metaflow's mark of a num_parallel control task
        add("internal_task_type", "control_task", done)
    facts = (row.transition or {}).get("metadata")
    for name, value in (facts.items() if isinstance(facts, dict) else ()):
        if name not in INTERNAL_FACTS:
            add(name, value, done)
    records.sort(key=lambda m: m.created_at)
    return records


def _attempt_ok(attempt: AttemptRow | None, task_status: str, *, caught: bool) -> str | None:
    """'True' or 'False' once the attempt ended; None while it runs. An attempt whose raise
    @catch caught is ok, as in Metaflow (the task went on)."""
    if attempt is None:  # a clone: always ok, as Metaflow records it
        return "True" if task_status != "running" else None
    if attempt.status == SUCCEEDED or (attempt.status == FAILED and caught):
        return "True"
    if attempt.status == FAILED:
        return "False"
    return None


def _run_facts(system_tags: tuple[str, ...], graph: dict[str, Any]) -> dict[str, str]:
    facts: dict[str, str] = {}
    for tag in system_tags:
        name, _, value = tag.partition(":")
        if name in _RUN_FACTS:
            facts[name] = value
    script = graph.get("file")
    if script and isinstance(script, str):
        facts["script-name"] = script.replace("\\", "/").rsplit("/", 1)[-1]
    return facts


def _foreach_facts(task: Task, graph: dict[str, Any]) -> dict[str, Any]:
    """``foreach-stack`` (``var=value`` of each enclosing foreach, as Metaflow shortens them)
    and ``foreach-execution-path`` (``step:index`` of each, the step being the one each
    foreach runs)."""
    frames = [f for f in task._row.frames if f.is_foreach]
    if not frames:
        return {}
    steps = _mapping(graph.get("steps"))
    stack: list[str] = []
    path: list[str] = []
    length = 0
    complete = True
    for frame in frames:
        info = _mapping(steps.get(frame.step))
        after = info.get("next")
        body = after[0] if isinstance(after, list) and after else frame.step
        path.append(f"{body}:{frame.index}")
        var = info.get("foreach_artifact")
        var = var if isinstance(var, str) else None
        value = _item_value(task, frame) if complete and var else None
        if not value:
            complete = False  # Metaflow stops at the first frame without a var and a value
            continue
        entry = f"{var}={value}"
        if length + len(entry) > _PATH_CHARS:
            complete = False
            continue
        length += len(entry)
        stack.append(entry)
    facts: dict[str, Any] = {}
    if stack:
        facts["foreach-stack"] = stack
    facts["foreach-execution-path"] = ",".join(path)
    return facts


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is an object, else an empty one: the recorded graph is read as data a
    hand-changed record may have reshaped, and a fact it cannot give is simply left out."""
    return value if isinstance(value, dict) else {}


def _item_value(task: Task, frame: Any) -> str | None:
    """The foreach item of ``frame`` as Metaflow shows it: a str, int, float or bool as is,
    anything else through reprlib; at most 30 characters. None when it cannot be read."""
    if not frame.items_key:
        return None
    try:
        item = _context.current().store().load_item(
            frame.items_key, frame.index, name="foreach item", where=task.pathspec)
    except Exception:  # noqa: BLE001 - a fact to show, never a reason to fail the read
        return None
    if isinstance(item, (str, int, float, bool)):
        value: Any = item
    else:
        import reprlib  # here: the client is imported by every flow written for Metaflow

        value = reprlib.repr(item)
    return str(value)[:_VALUE_CHARS]
