"""One task of a deployed run: the orchestrator (Argo Workflows, Airflow) schedules, this runs.

A local run has one scheduler that alone writes metadata. A deployed run has none: the
orchestrator starts each task as a process of its own, in the order of the compiled DAG. So this
module does, for one task, what the scheduler does for all of them:

1. find the run: the start task registers it (idempotently, keyed by the orchestrator's run id,
   kept as the system tag ``orchestrator_run:<id>`` beside ``deployment:<name>``); every other
   task looks it up by those two tags (the orchestrator's id is unique within one deployment only);
2. find the task's inputs in the metadata: its parent tasks, located by step name and foreach
   path (task ids are derived from the path, see :func:`task_id_for`), and for a join every task
   that closes the same split;
3. run the step in a forked child (the same isolation as a local task) and record the attempt,
   its logs and its artifacts (this process writes its own task's rows, in one transaction each);
4. say what the orchestrator needs next (:func:`write_outputs`): the task ids of the foreach
   children, the branch a conditional took. The end task marks the run succeeded; a task that
   fails for good marks it failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.decorators.mutation import apply_mutators
from headwater.decorators.registry import plugins_step_init, split_with, step_policy
from headwater.decorators.transient import transient_names
from headwater.environments.lock import step_lock
from headwater.exceptions import (
    ArtifactError,
    HeadwaterException,
    NotFoundError,
    ParameterError,
    StepEnvironmentError,
)
from headwater.flow.parameters import flow_parameters
from headwater.flow.trigger import Trigger
from headwater.graph.model import FOREACH, PARALLEL, SPLIT, Graph
from headwater.meta import open_metadata
from headwater.meta.codec import load_environments, load_trigger
from headwater.meta.rows import run_outcome
from headwater.meta.tags import endpoint_tags, transient_tags
from headwater.records import (
    Frame,
    ParentRef,
    TaskFailure,
    TaskResult,
    TaskSpec,
    replace,
    was_caught,
)
from headwater.runtime.configs import config_scope, configs_from_refs, resolve_configs
from headwater.runtime.deployed_values import load_deployed_values
from headwater.runtime.packaged_task import flow_load_error, load_task_flow
from headwater.runtime.parameters import resolve_parameters, store_parameters
from headwater.runtime.project import project_info
from headwater.runtime.scheduler import version_tags
from headwater.runtime.single import SingleOutcome, run_single_task
from headwater.runtime.step_timeout import backstop_after
from headwater.settings import Settings, current_username

RUN_TAG = "orchestrator_run:"
ROOT_TASK_ID = "1"
HEARTBEAT_EVERY_S = 30.0
EVENTS_URL_ENV = "HEADWATER_EVENTS_URL"  # an Argo Events webhook: where "finished" events go
EVENTS_TOKEN_ENV = "HEADWATER_EVENTS_TOKEN"  # its bearer token, never written in a manifest
ENVIRONMENTS_KEY = "environments"  # in the deployment's code dict: the blob of its locks


class DeployedRunError(HeadwaterException):
    """A deployed task cannot find its run or its inputs (the orchestrator ran it out of order)."""

    headline = "Deployed run error"


def task_id_for(path: tuple[int, ...]) -> str:
    """The task id of a step's task at foreach path ``path`` (indexes, outermost first).

    ``()`` -> ``"1"``, ``(2,)`` -> ``"1-2"``, ``(2, 0)`` -> ``"1-2-0"``. The same in every
    process, so a task finds its parents without asking anyone.
    """
    return "-".join([ROOT_TASK_ID, *map(str, path)])


def path_of(task_id: str) -> tuple[int, ...]:
    parts = task_id.split("-")
    if parts[0] != ROOT_TASK_ID or not all(p.isdigit() for p in parts[1:]):
        raise DeployedRunError(f"{task_id!r} is not a deployed task id (1, 1-0, 1-0-3, ...)")
    return tuple(int(p) for p in parts[1:])


def _foreach_path(frames: tuple[Frame, ...]) -> tuple[int, ...]:
    return tuple(f.index for f in frames if f.is_foreach)


@dataclass
class DeployedTask:
    """What the orchestrator says about the task to run (all of it from the compiled DAG)."""

    step: str
    task_id: str
    run_key: str  # the orchestrator's id of this run (Argo workflow name, Airflow run_id)
    params: Mapping[str, str] = field(default_factory=dict)  # raw values, start only
    tags: tuple[str, ...] = ()
    deployment: str = ""  # the deployed name, recorded as a system tag
    orchestrator: str = ""  # "argo-workflows" / "airflow"
    branch: str | None = None
    production: bool = False
    trigger: list[dict[str, Any]] | None = None  # the events that started the run
    code: Mapping[str, str] | None = None  # the code package the run was deployed with
    output_dir: str | None = None
    with_specs: tuple[str, ...] = ()  # `create --with ...`: decorators added to every step
    # The flow decorators' options as `create` saw them; None for a deployment made before they
    # travelled with it (each task then reads METAFLOW_<NAME> or the default).
    flow_options: Mapping[str, Any] | None = None
    # The datastore key of the values `create` fixed (start only; see deployed_values).
    configs_key: str = ""
    run_id: str | None = None  # headwater's id of the run, once the task has found it


def trigger_events(text: str, flow: str, step: str, run_key: str) -> list[dict[str, Any]] | None:
    """The events an Argo Events sensor passed the start task (``--trigger``): one JSON object
    or a list of them; None when there were none (empty, or Argo's unexpanded ``{{...}}``).

    The text is whatever was posted to the event source's webhook, so anyone who can post
    there chooses it: a body that is no JSON, is nested past Python's stack, or holds no event
    object is refused here, naming the run, before anything is recorded. Before, it was a
    ``JSONDecodeError`` or ``RecursionError`` traceback, or (``[1]``) a trigger recorded
    with the run that every reader of ``Run.trigger`` then took for a damaged database."""
    text = text.strip()
    if not text or text.startswith("{{"):
        return None
    try:
        return load_trigger(text)
    except ValueError as err:  # json's JSONDecodeError is one
        why = str(err)
        raise DeployedRunError(
            f"{flow} step '{step}' (orchestrator's run {run_key!r}): the event that started the run "
            f"is not a JSON object or a list of them ({why[:200]})",
            fix="send the event's payload as a JSON object; the run was not started") from None


def load_and_run(settings: Settings, code: Mapping[str, Any],
                 task: DeployedTask) -> tuple[str, TaskResult]:
    """Import the flow from its code package and run ``task``: ``(the task's name, its result)``.

    Whatever headwater error stops the task before or around its step (the flow cannot be
    imported, the package's blob is missing, the metadata database or the datastore cannot be
    reached, the run or the parent task is not found, a parameter value does not parse) is
    raised with :func:`task_name` in front of its message and its own fix kept: the pod's log
    then says which task failed and what to do, as a local run's output does."""
    flow = str(code.get("class") or "the flow")
    try:
        try:
            flow_cls, graph, store = load_task_flow(settings.datastore_root, dict(code))
        except Exception as exc:  # noqa: BLE001 - the flow's own import may raise anything
            raise flow_load_error(
                exc, "the task", "from its code package",
                "in the image the deployment runs (`create --image`; for Airflow's local "
                "operator, in its workers' Python)") from None
        result = run_deployed_task(flow_cls, graph, store, settings, task)
    except HeadwaterException as exc:
        fix = exc.fix
        if isinstance(exc, ParameterError) and fix:  # the value came with the trigger
            fix = (f"{fix}, when triggering the deployment (`{task.orchestrator or 'argo-workflows'} "
                   "trigger`, or the run's parameters in the orchestrator)")
        raise _named(exc, task_name(flow, task), fix) from None
    return task_name(flow, task), result


def task_name(flow: str, task: DeployedTask) -> str:
    """``DeployLinearFlow/4/middle/1 (argo-workflows run 'wf-1')``: the task as the client and
    the orchestrator's UI name it (before its run is found: ``DeployLinearFlow step 'middle',
    task 1 (...)``)."""
    who = (f"{flow}/{task.run_id}/{task.step}/{task.task_id}" if task.run_id
           else f"{flow} step '{task.step}', task {task.task_id}")
    return f"{who} ({task.orchestrator or 'orchestrator'} run {task.run_key!r})"


def _named(exc: HeadwaterException, name: str, fix: str | None) -> HeadwaterException:
    """``exc``, its message now starting with ``name`` and its fix ``fix`` (its class kept)."""
    if not hasattr(exc, "msg"):  # a subclass that did not go through HeadwaterException's init
        exc.args = (f"{name}: {exc}",)
        return exc
    exc.msg, exc.fix = f"{name}: {exc.msg}", fix
    exc.args = (exc.msg if fix is None else f"{exc.msg}\n  fix: {fix}",)
    return exc


def run_deployed_task(flow_cls: type, graph: Graph, store: Any, settings: Settings,
                      task: DeployedTask) -> TaskResult:
    """Run ``task`` and record it; returns its result (the caller turns it into an exit code)."""
    if task.step not in graph:
        raise NotFoundError(f"flow {flow_cls.__name__} has no step {task.step!r}",
                            fix="re-deploy the flow: the deployed DAG and the code disagree")
    flow = flow_cls.__name__
    user = current_username()
    meta = open_metadata(settings.metadata_url)
    try:
        envs = deployed_environments(store, task.code)
        # `create --with` decorators go on the steps before the mutators run, as at create.
        extra_decorators = split_with(flow_cls, tuple(task.with_specs))
        run_id = (_register_run(meta, store, flow_cls, graph, task, user, envs)
                  if graph[task.step].is_start else _find_run(meta, flow, task))
        task.run_id = run_id  # errors from here on name the run
        run = meta.get_run(flow, run_id)
        # The run's configs (those `create` resolved): every task of the run sees the same.
        scope = config_scope(flow_cls, configs_from_refs(flow_cls, run.params, store,
                                                         f"{flow}/{run_id}"))
        apply_mutators(flow_cls, scope)  # as at create: the flow was imported afresh here
        project = project_info(flow_cls, user, task.branch, task.production, scope)
        parents, frames = _inputs(meta, graph, flow, run_id, task)
        plugins_step_init(flow_cls, [node.name for node in graph])  # as at create
        policy = step_policy(getattr(flow_cls, task.step), extra_decorators, scope)
        current = dict(project.current_fields() if project else {})
        events = task.trigger or _recorded_trigger(meta, flow, run_id, graph)
        if events:
            current["trigger"] = Trigger(events)
        if task.flow_options is not None:
            current["_hw_flow_options"] = dict(task.flow_options)
        extra: dict[str, Any] = {"env": policy.env, "current": current}
        if policy.catch_var:  # @catch(var=...): None when the step did not fail
            extra["catch_var"] = policy.catch_var
        if policy.catch_var is not None:  # @catch: its last attempt prints what it caught
            extra["catch_print"] = policy.catch_print
        if policy.attempts > 1:
            extra["max_user_code_retries"] = policy.attempts - 1
        if policy.timeout_s is not None:  # @timeout: the step raises where it stands
            extra["timeout"] = policy.timeout_s
        if policy.secrets:  # @secrets: fetched by the task itself, as in a local run
            extra["secrets"] = policy.secrets
        spec = TaskSpec(
            flow_name=flow, run_id=run_id, step=task.step, task_id=task.task_id, attempt=0,
            parents=parents, params=run.params, frames=frames, is_join=graph[task.step].is_join,
            username=user, tags=tuple(run.tags), namespace=f"user:{user}", extra=extra,
        )
        spec.attempt = _start_attempt(meta, spec)
        attempt = _Attempt(meta, flow_cls, graph, store, settings, policy,
                           step_lock(envs, task.step), task)
        result = attempt.run(spec)
        if not result.ok and spec.attempt + 1 >= policy.attempts and policy.catch_var is not None:
            # @catch, as in a local run: the failure is recorded, then a stand-in attempt stores
            # it in the step's variable and takes the step's transition; the DAG goes on.
            kept = {k: v for k, v in result.manifest.items() if k not in spec.params}
            caught = {"var": policy.catch_var, "failure": result.failure,
                      "print": policy.catch_print, "kept": kept}
            spec = replace(spec, extra={**spec.extra, "catch": caught})
            spec.attempt = _start_attempt(meta, spec)
            result = attempt.run(spec)
        if result.ok and task.output_dir:
            write_outputs(task.output_dir, graph, spec, result)
        if result.ok and graph[task.step].is_end and os.environ.get(EVENTS_URL_ENV):
            publish_finished(os.environ[EVENTS_URL_ENV], flow, run_id,
                             project.flow_name if project else None)
        return result
    finally:
        meta.close()


@dataclass
class _Attempt:
    """Runs one attempt of the deployed task and records it (the scheduler's part of a task)."""

    meta: Any
    flow_cls: type
    graph: Graph
    store: Any
    settings: Settings
    policy: Any  # the step's StepPolicy
    lock: Any  # the step's EnvLock (@pypi/@conda) or None: the flow's own Python
    task: DeployedTask

    def run(self, spec: TaskSpec) -> TaskResult:
        flow, run_id = spec.flow_name, spec.run_id
        catching = "catch" in spec.extra
        timeout = None if catching else self.policy.timeout_s
        # The step raises TimeoutException itself; the kill is the backstop, as in `run`.
        outcome = self._execute(spec, None if timeout is None else backstop_after(timeout))
        _echo(outcome.stdout, sys.stdout)
        _echo(outcome.stderr, sys.stderr)
        result = outcome.result
        if outcome.timed_out and not result.ok:
            result.failure = TaskFailure(
                "TimeoutException",
                f"step '{spec.step}' ran longer than its @timeout of {timeout:g} s and was stopped")
            print(f"{result.failure.type_name}: {result.failure.message}", file=sys.stderr)
        if self.graph[self.task.step].is_start and self.task.trigger:
            result.metadata["trigger"] = json.dumps(self.task.trigger)  # Run.trigger reads it
        if self.lock is not None:
            result.metadata["environment"] = self.lock.id
        final = (result.ok or catching
                 or (spec.attempt + 1 >= self.policy.attempts and self.policy.catch_var is None))
        meta = self.meta
        with meta.transaction():
            meta.attempt_finished(
                flow, run_id, spec.step, spec.task_id, spec.attempt, result,
                stdout_key=_save_log(self.store, outcome.stdout),
                stderr_key=_save_log(self.store, outcome.stderr), final=final)
            if result.ok and self.graph[spec.step].is_end:
                status = run_outcome(ran_ok=True, end_caught=was_caught(result.metadata))
                meta.run_finished(flow, run_id, status, time.time())
            elif not result.ok and final:
                meta.run_finished(flow, run_id, "failed", time.time())
            else:
                meta.heartbeat(flow, run_id, time.time())
        return result

    def _execute(self, spec: TaskSpec, timeout: float | None) -> SingleOutcome:
        def beat() -> None:
            self.meta.heartbeat(spec.flow_name, spec.run_id, time.time())

        if self.lock is None:
            return run_single_task(self.flow_cls, self.graph, spec, self.store,
                                   while_waiting=beat, every_s=HEARTBEAT_EVERY_S,
                                   timeout_s=timeout)
        from headwater.runtime.deployed_env import run_in_environment

        return run_in_environment(self.lock, spec, self.settings.datastore_root,
                                  dict(self.task.code or {}), while_waiting=beat,
                                  every_s=HEARTBEAT_EVERY_S, timeout_s=timeout)


def deployed_environments(store: Any, code: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The @pypi/@conda locks made at ``create`` (a run record: step -> lock id, and the locks),
    stored in the datastore beside the code package; None when the flow deployed without them."""
    key = (code or {}).get(ENVIRONMENTS_KEY)
    if not key:
        return None
    try:
        text = bytes(store.load_bytes(key, what="the deployment's environment locks"))
        return load_environments(text.decode("utf-8"))  # the same checks as a run's record
    except (ArtifactError, ValueError, TypeError) as exc:  # missing or damaged: no packages
        why = exc.msg if isinstance(exc, ArtifactError) else f"{key} is damaged ({exc})"[:300]
        raise StepEnvironmentError(
            f"the @pypi/@conda environment locks `create` stored cannot be read: {why}",
            fix="give the task the datastore root the flow was deployed with, or deploy it "
            "again (`create` resolves the environments and stores their locks)") from None


# -- the run ------------------------------------------------------------------------------------

def _run_tag(key: str) -> str:
    return f"{RUN_TAG}{key}"


def _run_lookup(task: DeployedTask) -> list[str]:
    """The tags that find this deployment's run of ``task.run_key``. The orchestrator's id is
    unique within one deployment only: two Airflow DAGs of one flow (a @project branch and
    production, or two ``--name``s) both call their daily run ``scheduled__<date>``, and without
    the deployment's name the second would write its tasks into the first one's run."""
    return [_run_tag(task.run_key), *([f"deployment:{task.deployment}"] if task.deployment
                                      else [])]


def _find_run(meta: Any, flow: str, task: DeployedTask) -> str:
    rows = meta.list_runs(flow, tags=_run_lookup(task), limit=1)
    if not rows:
        raise DeployedRunError(
            f"no run of {flow} is registered for the orchestrator's run {task.run_key!r}: its "
            "start task has not run, used another metadata database, or the run was deleted",
            fix="start the deployment again (trigger it) rather than re-running one task; if "
            "the start task did run, check that every task was given the same --metadata "
            "(HEADWATER_METADATA)")
    return rows[0].run_id


def _register_run(meta: Any, store: Any, flow_cls: type, graph: Graph, task: DeployedTask,
                  user: str, envs: dict[str, Any] | None = None) -> str:
    """The run of ``task.run_key``: registered once; a retried start task finds it again.

    Its configs are those `create` resolved and stored (``task.configs_key``); a deployment
    made before they travelled with it resolves them here, from their defaults."""
    flow = flow_cls.__name__
    rows = meta.list_runs(flow, tags=_run_lookup(task), limit=1)
    if rows:
        return rows[0].run_id
    where = f"{flow}/parameters"
    if task.configs_key:
        kept = load_deployed_values(store, task.configs_key, flow)
        configs = configs_from_refs(flow_cls, kept.configs, store, f"the deployment of {flow}")
        config_refs, defaults = kept.configs, kept.defaults
    else:
        configs = resolve_configs(flow_cls, (), ())
        config_refs, defaults = store_parameters(configs, store, where), {}
    scope = config_scope(flow_cls, configs)
    apply_mutators(flow_cls, scope)  # they may add parameters, @project
    project = project_info(flow_cls, user, task.branch, task.production, scope)
    given = {k: v for k, v in task.params.items() if v != ""}
    # An IncludeFile given no value (nor HEADWATER_RUN_<NAME>) takes the content `create` read
    # from its default file.
    params = flow_parameters(flow_cls)
    defaults = {attr: ref for attr, ref in defaults.items() if attr in params
                and params[attr].name not in given and params[attr].env_default() is None}
    values = resolve_parameters(flow_cls, given, user, scope, skip=tuple(defaults))
    refs = {**store_parameters(values, store, where), **defaults, **config_refs}
    system = [_run_tag(task.run_key), f"user:{user}", *version_tags(),
              *([f"runtime:{task.orchestrator}"] if task.orchestrator else []),
              *([f"deployment:{task.deployment}", f"production:{task.deployment}"]
                if task.deployment else []),
              *(project.system_tags() if project else []), *transient_tags(transient_names(flow_cls)),
              *endpoint_tags(graph.start_step, graph.end_step)]
    # pid 0 and no host: no scheduler process to watch; liveness is the tasks' heartbeats.
    return meta.new_run(flow, user=user, tags=list(task.tags), system_tags=system, params=refs,
                        origin_run_id=None, pid=0, host="", code=task.code,
                        environments=envs)


def _recorded_trigger(meta: Any, flow: str, run_id: str,
                      graph: Graph) -> list[dict[str, Any]] | None:
    """The events the start task recorded: every task of the run sees the same trigger."""
    row = meta.get_task(flow, run_id, graph.start_step or "start", ROOT_TASK_ID)
    return row.trigger if row else None


def _start_attempt(meta: Any, spec: TaskSpec) -> int:
    """Register the task (first attempt) and its next attempt; a re-run pod is a new attempt."""
    key = (spec.flow_name, spec.run_id, spec.step, spec.task_id)
    with meta.transaction():
        row = meta.get_task(*key)
        attempt = 0 if row is None else row.attempts
        if row is None:
            meta.new_task(*key, frames=spec.frames,
                          parents=[f"{p.step}/{p.task_id}" for p in spec.parents])
        meta.attempt_started(*key, attempt, time.time())
        meta.heartbeat(spec.flow_name, spec.run_id, time.time())
    return attempt


# -- the inputs ---------------------------------------------------------------------------------

def _inputs(meta: Any, graph: Graph, flow: str, run_id: str,
            task: DeployedTask) -> tuple[list[ParentRef], tuple[Frame, ...]]:
    """The task's parents and its split stack, read from the tasks they recorded."""
    if graph[task.step].is_start:
        return [], ()
    path = path_of(task.task_id)
    node = graph[task.step]
    if node.is_join:
        return _join_inputs(meta, graph, flow, run_id, task.step, path)
    for parent_step in node.in_steps:
        parent_node = graph[parent_step]
        fans_out = parent_node.transition in (FOREACH, PARALLEL)
        if fans_out and not path:
            continue
        parent_path = path[:-1] if fans_out else path
        row = meta.get_task(flow, run_id, parent_step, task_id_for(parent_path))
        if row is None or row.status != "succeeded":
            continue
        taken = (row.transition or {}).get("next_steps") or parent_node.out
        if task.step not in taken:
            continue  # a conditional that took another case
        parent = ParentRef(parent_step, row.task_id,
                           meta.get_artifacts(flow, run_id, parent_step, row.task_id), row.frames)
        return [parent], _child_frames(graph, parent, row, task.step, path)
    raise DeployedRunError(
        f"none of the parent steps of step '{task.step}' ({', '.join(node.in_steps)}) has a "
        f"succeeded task leading to task {task.task_id} in run {flow}/{run_id}",
        fix="run the whole run from its start (trigger the deployment) rather than one task "
        "alone; if the workflow's template was edited by hand, deploy the flow again")


def _child_frames(graph: Graph, parent: ParentRef, row: Any, step: str,
                  path: tuple[int, ...]) -> tuple[Frame, ...]:
    node = graph[parent.step]
    if node.transition == SPLIT:
        index = node.out.index(step)
        return parent.frames + (Frame(parent.step, parent.task_id, index, len(node.out)),)
    if node.transition in (FOREACH, PARALLEL):
        info = row.transition or {}
        count = int(info.get("foreach_count") or 0)
        if path[-1] >= count:
            raise DeployedRunError(f"step '{step}': foreach index {path[-1]} is out of range "
                                   f"(step '{parent.step}' made {count} items)")
        return parent.frames + (Frame(parent.step, parent.task_id, path[-1], count, True,
                                      info.get("foreach_items_key")),)
    return parent.frames


def _join_inputs(meta: Any, graph: Graph, flow: str, run_id: str, step: str,
                 path: tuple[int, ...]) -> tuple[list[ParentRef], tuple[Frame, ...]]:
    """Every task that closes the split this join closes, under the join's own foreach path."""
    arrived: dict[int, ParentRef] = {}
    expected = None
    for parent_step in graph[step].in_steps:
        rows = meta.list_tasks(flow, run_id, parent_step)
        manifests = meta.get_step_artifacts(flow, run_id, parent_step)
        for row in rows:
            if not row.frames or _foreach_path(row.frames[:-1]) != path:
                continue
            if row.status != "succeeded":
                continue
            top = row.frames[-1]
            expected = top.num_splits
            arrived[top.index] = ParentRef(parent_step, row.task_id,
                                           manifests.get(row.task_id, {}), row.frames)
    if not arrived or len(arrived) != expected:
        raise DeployedRunError(
            f"join step '{step}' of {flow}/{run_id}: {len(arrived)} of {expected or '?'} inputs "
            "have succeeded", fix="the orchestrator must run a join after all its inputs")
    parents = [arrived[i] for i in sorted(arrived)]
    return parents, parents[0].frames[:-1]


# -- what the orchestrator reads back -----------------------------------------------------------

def task_outputs(graph: Graph, spec: TaskSpec, result: TaskResult) -> dict[str, Any]:
    """``{"task_id", "children", "branch"}``: the foreach children's task ids and the case taken."""
    node = graph[spec.step]
    path = path_of(spec.task_id)
    children: list[str] = []
    if node.transition in (FOREACH, PARALLEL):
        children = [task_id_for(path + (i,)) for i in range(result.foreach_count or 0)]
    branch = result.next_steps[0] if len(result.next_steps) == 1 else ""
    return {"task_id": spec.task_id, "children": children, "branch": branch}


def write_outputs(folder: str, graph: Graph, spec: TaskSpec, result: TaskResult) -> None:
    """``children.json`` (Argo's withParam), ``branch`` (Argo's when) and ``return.json`` (Airflow's
    XCom, the file the KubernetesPodOperator reads) in ``folder``."""
    outputs = task_outputs(graph, spec, result)
    os.makedirs(folder, exist_ok=True)
    files = {"children.json": json.dumps(outputs["children"]), "branch": outputs["branch"],
             "return.json": json.dumps(outputs)}
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def publish_finished(url: str, flow: str, run_id: str, project_flow: str | None = None) -> bool:
    """POST ``headwater.<Flow>.end`` to the events webhook, for @trigger_on_finish downstream;
    under @project ``headwater.<project>.<branch>.<Flow>.end`` (``project_flow``), so that a
    run on a user's branch never starts production's downstream flows.

    A failure is reported on stderr and does not fail the run (it has succeeded)."""
    import urllib.error
    import urllib.request
    import uuid

    body = {"name": f"headwater.{project_flow or flow}.end", "id": uuid.uuid4().hex,
            "timestamp": time.time(),
            "payload": {"pathspec": f"{flow}/{run_id}", "flow_name": flow, "run_id": run_id}}
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(EVENTS_TOKEN_ENV)
    if token:  # an Argo Events webhook's authSecret, from a Kubernetes secret (--secret)
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers=headers)
    from headwater.webhook import MAX_ANSWER_BYTES, open_without_redirects

    try:
        # No redirect is followed (urllib would resend the request, the token with it, to the
        # host the answer names) and the answer is read to 64 KiB.
        with open_without_redirects(request, timeout=30) as response:
            response.read(MAX_ANSWER_BYTES)
        return True
    except urllib.error.HTTPError as exc:
        why = (f"the webhook answered with a redirect (HTTP {exc.code}), which is not followed "
               "since the token would go with it: deploy with the address it redirects to"
               if 300 <= exc.code < 400 else f"HTTP {exc.code}")
        print(f"headwater: could not publish {body['name']} to the events webhook: {why}",
              file=sys.stderr)
        return False
    except OSError as exc:
        print(f"headwater: could not publish {body['name']} to the events webhook: {exc}",
              file=sys.stderr)
        return False


def _save_log(store: Any, text: str) -> str | None:
    if not text:
        return None
    try:
        return store.save_bytes(text.encode("utf-8", "replace")).key
    except HeadwaterException:
        return None


def _echo(text: str, stream: Any) -> None:
    if text:
        stream.write(text)
        stream.flush()
