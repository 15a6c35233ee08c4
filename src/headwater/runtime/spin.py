"""``spin RUN/STEP/TASK``: run one task of a past run again, with the inputs it had.

The point is the edit-and-retry loop on one step: change the code, spin the task, look at what it
printed and produced, without re-running its ancestors. Nothing is recorded in metadata (the run
stays as it was); the task runs as ``spin-<RUN>`` and its artifacts go to the content-addressed
store only, so they are reported here and never show up in the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.decorators.mutation import apply_mutators
from headwater.decorators.registry import step_policy
from headwater.exceptions import NotFoundError
from headwater.graph import check_flow
from headwater.meta import open_metadata
from headwater.records import ParentRef, TaskSpec
from headwater.runtime.configs import recorded_configs
from headwater.runtime.project import project_info
from headwater.runtime.single import SingleOutcome, run_single_task
from headwater.settings import Settings, current_username
from headwater.store import open_datastore


@dataclass
class SpinOutcome:
    pathspec: str  # the task that was spun
    outcome: SingleOutcome
    artifacts: dict[str, Any]  # what it produced (parameters and configs left out)


def spin_task(flow_cls: type, target: str, settings: Settings, *, branch: str | None = None,
              production: bool = False) -> SpinOutcome:
    """Re-run the task ``target`` (``RUN/STEP/TASK`` or ``FLOW/RUN/STEP/TASK``) of ``flow_cls``."""
    flow = flow_cls.__name__
    run_id, step, task_id = _parse(flow, target)
    graph = check_flow(flow_cls)
    if step not in graph:
        raise NotFoundError(f"flow {flow} has no step {step!r} in its current code",
                            fix=f"its steps are: {', '.join(graph.nodes)}")
    meta = open_metadata(settings.metadata_url)
    try:
        run = meta.get_run(flow, run_id)
        if run is None:
            raise NotFoundError(f"run {flow}/{run_id} does not exist")
        task = meta.get_task(flow, run_id, step, task_id)
        if task is None:
            ids = ", ".join(t.task_id for t in meta.list_tasks(flow, run_id, step, limit=10))
            raise NotFoundError(f"task {flow}/{run_id}/{step}/{task_id} does not exist",
                                fix=f"tasks of {step}: {ids}" if ids else
                                f"run {run_id} has no task of step '{step}'")
        parents = [_parent(meta, flow, run_id, ref) for ref in task.parents]
        params = run.params
    finally:
        meta.close()
    with open_datastore(settings.datastore_root) as store:
        return _spin(flow_cls, graph, store, run_id, step, task_id, params, task, parents,
                     branch, production)


def _spin(flow_cls: type, graph: Any, store: Any, run_id: str, step: str, task_id: str,
          params: Any, task: Any, parents: list[ParentRef], branch: str | None,
          production: bool) -> SpinOutcome:
    flow = flow_cls.__name__
    user = current_username()
    scope = recorded_configs(flow_cls, params, store, f"{flow}/{run_id}").scope
    apply_mutators(flow_cls, scope)  # as the run did: its decorators, @project
    project = project_info(flow_cls, user, branch, production, scope)
    spec = TaskSpec(
        flow_name=flow, run_id=f"spin-{run_id}", step=step, task_id=task_id, attempt=0,
        parents=parents, params=params, frames=task.frames, is_join=graph[step].is_join,
        origin_run_id=run_id, username=user, namespace=f"user:{user}",
        extra={"env": step_policy(getattr(flow_cls, step), [], scope).env,
               "current": project.current_fields() if project else {}},
    )
    outcome = run_single_task(flow_cls, graph, spec, store, capture=False)
    produced = {
        name: store.load_artifact(ref, name=name, where=spec.pathspec)
        for name, ref in outcome.result.manifest.items() if name not in params
    }
    return SpinOutcome(f"{flow}/{run_id}/{step}/{task_id}", outcome, produced)


def _parse(flow: str, target: str) -> tuple[str, str, str]:
    parts = target.strip("/").split("/")
    if len(parts) == 4 and parts[0] == flow:
        parts = parts[1:]
    if len(parts) != 3 or not all(parts):
        raise NotFoundError(f"spin needs a task pathspec RUN_ID/STEP/TASK_ID, got {target!r}",
                            fix=f"e.g. spin 12/train/3 (see: logs or the client's {flow}(...))")
    return parts[0], parts[1], parts[2]


def _parent(meta: Any, flow: str, run_id: str, ref: str) -> ParentRef:
    step, _, task_id = ref.partition("/")
    row = meta.get_task(flow, run_id, step, task_id)
    manifest = meta.get_artifacts(flow, run_id, step, task_id)
    return ParentRef(step, task_id, manifest, row.frames if row else ())
