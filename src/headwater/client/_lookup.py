"""Finding the rows behind a pathspec, or saying exactly what exists instead.

Every "not found" names the missing pathspec and lists what is there (the latest runs in the
namespace, the steps of the run, the tasks of the step), and an object outside the current
namespace raises NamespaceMismatchError rather than pretending not to exist.
"""

from __future__ import annotations

from datetime import datetime

from headwater.client import _context
from headwater.client._errors import (
    MissingChild,
    bad_pathspec,
    flow_not_found,
    run_not_found,
    step_not_found,
    task_not_found,
)
from headwater.client.namespace import check_namespace, get_namespace, namespace_tags
from headwater.exceptions import NamespaceMismatchError, NotFoundError
from headwater.meta import FlowRow, MetadataStore, RunRow, StepRow, TaskRow


def meta() -> MetadataStore:
    """The metadata reader of the current client context."""
    return _context.current().meta


def dt(ts: float | None) -> datetime | None:
    """Metaflow's client returns naive local datetimes; so do we."""
    return None if ts is None else datetime.fromtimestamp(ts)


def split_pathspec(pathspec: object, parts: int, kind: str, shape: str) -> list[str]:
    """``'Flow/12/start'`` -> its components, or an error showing the expected ``shape``."""
    if not isinstance(pathspec, str):
        # Run(2): a run id typed as a number
        other = _other_kind(str(pathspec), [str(pathspec)], kind, shape) \
            if isinstance(pathspec, int) and not isinstance(pathspec, bool) else None
        raise other or bad_pathspec(kind, pathspec, shape)
    components = pathspec.split("/")
    if len(components) != parts or not all(components):
        raise _other_kind(pathspec, components, kind, shape) \
            or bad_pathspec(kind, pathspec, shape)
    return components


_KINDS = ("Flow", "Run", "Step", "Task", "DataArtifact")


def _other_kind(pathspec: str, components: list[str], kind: str,
                shape: str) -> NotFoundError | None:
    """``Task('F/2/train')`` (a step's pathspec) or ``Run('2')`` (a run id alone): say what the
    text names and how to read that, rather than only the shape expected."""
    if not all(components) or len(components) > len(_KINDS):
        return None
    named = _KINDS[len(components) - 1]
    if named == "Flow" and kind == "run" and pathspec.isdigit():
        owners = _flows_with_run(pathspec)
        example = f"Run('{owners[0]}/{pathspec}')" if owners else f"Run('FlowName/{pathspec}')"
        listed = f" (run {pathspec} exists in {', '.join(owners)})" if owners else ""
        return NotFoundError(f"{pathspec!r} is not a run pathspec: it is a run id alone",
                             fix=f"name the flow too, as a run pathspec looks like '{shape}': "
                             f"{example}{listed}")
    if named.lower() == kind:
        return None
    then = ""
    if named == "Step" and kind == "task":
        then = (f"; its first task is Step('{pathspec}').task, every one "
                f"list(Step('{pathspec}')), or name one: Task('{pathspec}/TASK_ID')")
    elif named == "Flow" and kind == "run":
        then = f"; its latest run is Flow('{pathspec}').latest_run"
    return NotFoundError(f"{pathspec!r} is not a {kind} pathspec but a {named.lower()} one",
                         fix=f"a {kind} pathspec looks like '{shape}'; read this one with "
                         f"{named}('{pathspec}'){then}")


def _flows_with_run(run_id: str) -> list[str]:
    """The flows (at most ten looked at) that have a run of this id."""
    try:
        db = meta()
        return [flow for flow in db.list_flows()[:10] if db.get_run(flow, run_id) is not None]
    except Exception:  # noqa: BLE001 - only a hint: the error says what is wrong without it
        return []


def load_flow(name: str, *, check: bool) -> FlowRow:
    """A flow exists if it was ever run; it is in a namespace if one of its runs is."""
    db = meta()
    row = db.get_flow(name)
    if row is None:
        raise flow_not_found(name, db.list_flows(), _context.current().settings.datastore_root)
    ns = get_namespace()
    if check and ns is not None and not db.list_runs(name, tags=(ns,), limit=1):
        users = sorted({f"user:{r.user}" for r in db.list_runs(name, limit=50) if r.user})
        whose = (f"; its latest runs are in {', '.join(users[:3])}"
                 f"{' and others' if len(users) > 3 else ''}" if users else "")
        read = f"namespace({users[0]!r}) to read those, or " if users else ""
        raise NamespaceMismatchError(
            f"flow '{name}' exists but has no runs in the current namespace '{ns}'{whose}",
            fix=f"call {read}namespace(None) to see runs of every namespace",
        )
    return row


def load_run(flow: str, run_id: str, *, check: bool, child: bool = False) -> RunRow:
    db = meta()
    row = db.get_run(flow, run_id)
    if row is None:
        if db.get_flow(flow) is None:
            raise flow_not_found(flow, db.list_flows(),
                                 _context.current().settings.datastore_root)
        latest = [r.run_id for r in db.list_runs(flow, tags=namespace_tags(), limit=5)]
        message = run_not_found(flow, run_id, latest, get_namespace())
        raise MissingChild(message) if child else NotFoundError(message)
    if check:
        check_namespace("run", row.pathspec, row.all_tags, row.user)
    return row


def load_step(run_row: RunRow, step: str, *, child: bool = False) -> StepRow:
    db = meta()
    row = db.get_step(run_row.flow, run_row.run_id, step)
    if row is None:
        message = step_not_found(
            run_row.pathspec, step, db.list_steps(run_row.flow, run_row.run_id)
        )
        raise MissingChild(message) if child else NotFoundError(message)
    return row


def load_task(run_row: RunRow, step: str, task_id: str, *, child: bool = False) -> TaskRow:
    db = meta()
    row = db.get_task(run_row.flow, run_row.run_id, step, task_id)
    if row is not None:
        return row
    if db.get_step(run_row.flow, run_row.run_id, step) is None:
        message = step_not_found(
            run_row.pathspec, step, db.list_steps(run_row.flow, run_row.run_id)
        )
    else:
        ids = [t.task_id for t in db.list_tasks(run_row.flow, run_row.run_id, step, limit=11)]
        message = task_not_found(f"{run_row.pathspec}/{step}", task_id, ids)
    raise MissingChild(message) if child else NotFoundError(message)
