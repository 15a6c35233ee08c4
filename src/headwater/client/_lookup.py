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
        raise bad_pathspec(kind, pathspec, shape)
    components = pathspec.split("/")
    if len(components) != parts or not all(components):
        raise bad_pathspec(kind, pathspec, shape)
    return components


def load_flow(name: str, *, check: bool) -> FlowRow:
    """A flow exists if it was ever run; it is in a namespace if one of its runs is."""
    db = meta()
    row = db.get_flow(name)
    if row is None:
        raise flow_not_found(name, db.list_flows(), _context.current().settings.datastore_root)
    ns = get_namespace()
    if check and ns is not None and not db.list_runs(name, tags=(ns,), limit=1):
        raise NamespaceMismatchError(
            f"flow '{name}' exists but has no runs in the current namespace '{ns}'",
            fix="call namespace(None) to see runs of every namespace",
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
