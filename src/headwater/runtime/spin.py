"""``spin PATHSPEC``: run one task of a past run again, with the inputs it had.

The point is the edit-and-retry loop on one step: change the code, spin the task, look at what it
printed and produced, without re-running its ancestors. The run it comes from stays as it was:
the spun task is recorded in the spin database (:func:`headwater.settings.spin_settings`), as a
run of its own whose ``origin_run_id`` is the original run, and never in the runs' history.
``persist`` records the artifacts it produced there too (the client then reads them, through
``inspect_spin`` or the Runner's ``spin``); without it only the task and its logs are.

Of the step's decorators only those that shape the code's own execution apply, as in Metaflow:
``@timeout``, ``@environment`` and ``@card`` (``--with`` ones included); ``@retry``, ``@catch``,
``@resources`` and the like do not (one attempt, no catching). A step with ``@pypi``/``@conda``
(or under ``@pypi_base``/``@conda_base``) runs in its environment's interpreter when the run it
comes from did, or when ``--environment`` asks for it. ``skip_decorators`` drops them all.
An artifacts module overrides inputs: its ``ARTIFACTS`` dict maps names to values (for a join,
``RUN/STEP/TASK`` of an input to such a dict).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.decorators.base import StepPolicy
from headwater.decorators.mutation import apply_mutators
from headwater.decorators.registry import split_with, step_policy
from headwater.exceptions import FlowDefinitionError, NotFoundError
from headwater.graph import check_flow
from headwater.meta import open_metadata
from headwater.records import ArtifactRef, ParentRef, TaskFailure, TaskSpec, replace
from headwater.runtime.configs import ConfigSources, launch_configs, recorded_configs
from headwater.runtime.project import project_info
from headwater.runtime.resume import check_parameters_recorded
from headwater.runtime.scheduler import version_tags
from headwater.runtime.single import SingleOutcome, run_single_task
from headwater.runtime.spin_target import find_task, parse_target
from headwater.runtime.step_timeout import backstop_after, timeout_message
from headwater.settings import Settings, current_username, spin_settings

SPIN_TAG = "spin_of:"  # system tag of a spin run: the task it re-ran


def _spin_tag(pathspec: str) -> list[str]:
    """``[spin_of:PATHSPEC]``, or none when that is longer than a tag may be: Python names have
    no length limit, and a 260-character flow with a 300-character step made spin end in a
    ValueError traceback. The tag only informs (nothing looks spins up by it)."""
    from headwater.meta.tags import MAX_TAG_LENGTH

    tag = f"{SPIN_TAG}{pathspec}"
    return [tag] if len(tag) <= MAX_TAG_LENGTH else []
SPIN_ID_PREFIX = "spin-"  # spin runs are spin-1, spin-2, ...: never the id of one of the runs


@dataclass
class SpinOptions:
    """What ``spin`` was asked besides the task (Metaflow's option names)."""

    persist: bool = False
    artifacts: Mapping[str, Any] | None = None  # an artifacts module's ARTIFACTS
    skip_decorators: bool = False
    with_specs: Sequence[str] = ()
    branch: str | None = None
    production: bool = False
    configs: ConfigSources | None = None  # --config / --config-value: win over the recorded
    environment: str | None = None  # --environment: pypi/conda build the step's environment


@dataclass
class SpinOutcome:
    pathspec: str  # the task that was spun
    spin_pathspec: str  # the spun task, in the spin database
    outcome: SingleOutcome
    artifacts: dict[str, Any]  # what it produced (parameters and configs left out)
    spin_settings: Settings  # where the spun task is recorded


def spin_task(flow_cls: type, target: str, settings: Settings,
              options: SpinOptions | None = None) -> SpinOutcome:
    """Re-run the task ``target`` names (see :mod:`.spin_target`) of ``flow_cls``."""
    options = options or SpinOptions()
    flow = flow_cls.__name__
    wanted = parse_target(flow, target)
    graph = check_flow(flow_cls)
    if wanted.step not in graph:
        raise NotFoundError(f"flow {flow} has no step {wanted.step!r} in its current code"
                            f"{graph.unknown_step(wanted.step)}",
                            fix=f"its steps are: {', '.join(graph.nodes)}")
    meta = open_metadata(settings.metadata_url)
    try:
        run, task = find_task(meta, flow, wanted)
        parents = _parents(meta, flow, run.run_id, task.parents)
        params = run.params
    finally:
        meta.close()
    if wanted.task_id is None:
        print(f"Spinning {task.pathspec} (name the task, as here, to skip looking it up)",
              file=sys.stderr)
    from headwater.store import open_datastore

    with open_datastore(settings.datastore_root) as store:
        return _Spin(flow_cls, graph, store, settings, options).run(run, task, parents, params)


@dataclass
class _Spin:
    flow_cls: type
    graph: Any
    store: Any
    settings: Settings
    options: SpinOptions

    def run(self, run: Any, task: Any, parents: list[ParentRef], params: Any) -> SpinOutcome:
        flow, step = self.flow_cls.__name__, task.step
        user = current_username()
        if self.options.configs:  # configs given now: the step runs (and is decorated) with them
            chosen = launch_configs(self.flow_cls, self.options.configs)
            params = {**params, **self._refs(chosen.values, f"{flow}/{run.run_id}")}
            scope = chosen.scope
        else:
            scope = recorded_configs(self.flow_cls, params, self.store,
                                     f"{flow}/{run.run_id}").scope
        apply_mutators(self.flow_cls, scope)  # as the run did: its decorators, @project
        given = {} if self.graph[step].is_join else (self.options.artifacts or {})
        check_parameters_recorded(self.flow_cls, {**params, **given}, f"{flow}/{run.run_id}",
                                  command="spin")
        project = project_info(self.flow_cls, user, self.options.branch,
                               self.options.production, scope)
        policy = self._policy(step, scope)
        where = spin_settings(self.settings)
        meta = open_metadata(where.metadata_url)
        try:
            spin_run = meta.new_run(
                flow, user=user, tags=[], system_tags=[*_spin_tag(task.pathspec), *version_tags(),
                                                      *(project.system_tags() if project else [])],
                params=params, origin_run_id=run.run_id, pid=os.getpid(),
                host=socket.gethostname(), id_prefix=SPIN_ID_PREFIX)
            spec = TaskSpec(
                flow_name=flow, run_id=spin_run, step=step, task_id=task.task_id, attempt=0,
                parents=parents, params=params, frames=task.frames,
                is_join=self.graph[step].is_join, origin_run_id=run.run_id, username=user,
                namespace=f"user:{user}", extra=self._extra(policy, project),
            )
            spec = self._with_overrides(spec, run.run_id)
            meta.task_started(flow, spin_run, step, task.task_id, frames=spec.frames,
                              parents=[f"{p.step}/{p.task_id}" for p in parents],
                              started_at=time.time())
            outcome = self._execute(spec, policy.timeout_s, self._environment(step, policy, run))
            self._record(meta, spec, outcome)
        finally:
            meta.close()
        result = outcome.result
        produced = {
            name: self.store.load_artifact(ref, name=name, where=spec.pathspec)
            for name, ref in result.manifest.items() if name not in spec.params
        } if result.ok else {}
        return SpinOutcome(task.pathspec, spec.pathspec, outcome, produced, where)

    def _policy(self, step: str, scope: Mapping[str, Any]) -> StepPolicy:
        if self.options.skip_decorators:
            return StepPolicy()
        extra = split_with(self.flow_cls, tuple(self.options.with_specs))
        return step_policy(getattr(self.flow_cls, step), extra, scope)

    def _extra(self, policy: StepPolicy, project: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {"env": policy.env,
                                 "current": project.current_fields() if project else {}}
        if policy.cards:
            extra["cards"] = policy.cards
        if policy.timeout_s:
            extra["timeout"] = policy.timeout_s
        return extra

    def _with_overrides(self, spec: TaskSpec, run_id: str) -> TaskSpec:
        """``spec`` reading the artifacts module's values in place of its recorded inputs."""
        given = self.options.artifacts
        if not given:
            return spec
        if spec.is_join:
            by_path = {f"{run_id}/{p.step}/{p.task_id}": p for p in spec.parents}
            unknown = sorted(set(given) - set(by_path))
            if unknown:
                raise FlowDefinitionError(
                    f"artifacts module for the join '{spec.step}': {', '.join(unknown)} "
                    f"is not one of its inputs",
                    fix="for a join, ARTIFACTS maps an input's RUN/STEP/TASK to a dict of "
                    f"values; its inputs are: {', '.join(sorted(by_path))}")
            parents = [self._override(p, given.get(path), spec.pathspec)
                       for path, p in by_path.items()]
            return replace(spec, parents=parents)
        # A parameter (or config) is read from the run's values, whatever the input holds; the
        # start step has no input but them. One the run never had (declared since) is given
        # here only, and is a parameter too.
        from headwater.flow.config import flow_configs
        from headwater.flow.parameters import flow_parameters

        declared = {*spec.params, *flow_parameters(self.flow_cls), *flow_configs(self.flow_cls)}
        to_params = {k: v for k, v in given.items() if k in declared or not spec.parents}
        others = {k: v for k, v in given.items() if k not in to_params}
        return replace(spec, params={**spec.params, **self._refs(to_params, spec.pathspec)},
                       parents=[self._override(p, others, spec.pathspec) for p in spec.parents])

    def _override(self, parent: ParentRef, values: Any, where: str) -> ParentRef:
        if not values:
            return parent
        if not isinstance(values, Mapping):
            raise FlowDefinitionError(
                f"artifacts module: the values for input {parent.step}/{parent.task_id} are a "
                f"{type(values).__name__}, not a dict",
                fix="map each input's RUN/STEP/TASK to a dict of artifact names and values")
        return replace(parent, manifest={**parent.manifest, **self._refs(values, where)})

    def _refs(self, values: Mapping[str, Any], where: str) -> dict[str, ArtifactRef]:
        return {str(name): self.store.save_artifact(value, name=str(name), where=where)
                for name, value in values.items()}

    def _environment(self, step: str, policy: StepPolicy, run: Any) -> Any:
        """The step's built @pypi/@conda environment, or None to run in this Python: built when
        ``--environment`` asks for it, or when the run it comes from ran the step in one (its
        recorded lock is reused while the declaration is unchanged, as ``resume`` does)."""
        if self.options.skip_decorators:
            return None
        from headwater.environments.lock import step_lock

        recorded = run.environments  # checked: a damaged record names the run and the fix
        if self.options.environment not in ("pypi", "conda") and step_lock(recorded,
                                                                            step) is None:
            return None
        from headwater.environments.backend_packages import backend_packages
        from headwater.environments.prepare import prepare_environments

        needs = backend_packages(self.settings.datastore_root, self.settings.metadata_url)
        built = prepare_environments(self.flow_cls, {step: policy},
                                     lambda line: print(line, file=sys.stderr), recorded,
                                     needs=needs)
        return built.get(step)

    def _execute(self, spec: TaskSpec, timeout: float | None, env: Any = None) -> SingleOutcome:
        # The step raises TimeoutException itself; the kill is the backstop, as in `run`.
        backstop = None if timeout is None else backstop_after(timeout)
        if env is not None:
            outcome = self._execute_in(env, spec, backstop)
        else:
            outcome = run_single_task(self.flow_cls, self.graph, spec, self.store, echo=True,
                                      timeout_s=backstop)
        if outcome.timed_out and not outcome.result.ok and timeout is not None:
            outcome.result.failure = TaskFailure("TimeoutException",
                                                 timeout_message(spec.step, timeout))
        return outcome

    def _execute_in(self, env: Any, spec: TaskSpec, backstop: float | None) -> SingleOutcome:
        """``spec`` run by the environment's interpreter, on the flow file as it is now."""
        from headwater.flow_file import own_file_record
        from headwater.runtime.deployed_env import run_in_environment

        return run_in_environment(env.lock, spec, self.store.root,
                                  own_file_record(self.flow_cls), timeout_s=backstop, echo=True)

    def _record(self, meta: Any, spec: TaskSpec, outcome: SingleOutcome) -> None:
        result = outcome.result
        recorded = result if self.options.persist else replace(result, manifest={})
        if self.options.persist and result.ok:
            recorded = replace(result, manifest={**result.manifest, **self._hidden(spec)})
        with meta.transaction():
            meta.attempt_finished(
                spec.flow_name, spec.run_id, spec.step, spec.task_id, 0, recorded,
                stdout_key=_save_log(self.store, outcome.stdout),
                stderr_key=_save_log(self.store, outcome.stderr), final=True)
            meta.run_finished(spec.flow_name, spec.run_id,
                              "succeeded" if result.ok else "failed", time.time())

    def _hidden(self, spec: TaskSpec) -> dict[str, ArtifactRef]:
        """Metaflow's hidden artifacts a spun task shows (tools read them from a spin)."""
        from headwater.flow.flowspec import ForeachFrame
        from headwater.graph.info import graph_info

        stack = [
            ForeachFrame(f.step, self.graph[f.step].foreach_var if f.step in self.graph else None,
                         f.num_splits, f.index,
                         self.store.load_item(f.items_key, f.index, name="foreach item",
                                              where=spec.pathspec) if f.items_key else f.index)
            for f in spec.frames if f.is_foreach
        ]
        info = graph_info(self.graph, self.flow_cls, sorted(spec.params))
        return self._refs({"_graph_info": info, "_foreach_stack": stack}, spec.pathspec)


def read_artifacts_module(path: str) -> dict[str, Any]:
    """The ``ARTIFACTS`` dict of the Python file ``path`` (``--artifacts-module``)."""
    from headwater.flow_file import import_file

    if not os.path.isfile(path):
        raise NotFoundError(f"artifacts module {path!r} does not exist",
                            fix="give the path of a .py file that defines ARTIFACTS = {...}")
    artifacts = getattr(import_file(path, "_headwater_spin_artifacts"), "ARTIFACTS", None)
    if not isinstance(artifacts, dict):
        raise FlowDefinitionError(f"artifacts module {path!r} defines no ARTIFACTS dict",
                                  fix="define ARTIFACTS = {'name': value, ...} in it")
    return artifacts


def _parents(meta: Any, flow: str, run_id: str, refs: Sequence[str]) -> list[ParentRef]:
    """The inputs a task had, from its parents' "step/task_id": a join of many inputs (10,000
    tasks of a foreach) reads its parents' step whole, two queries, not two per input."""
    by_step: dict[str, list[str]] = {}
    for ref in refs:
        step, _, task_id = ref.partition("/")
        by_step.setdefault(step, []).append(task_id)
    found: dict[tuple[str, str], ParentRef] = {}
    for step, task_ids in by_step.items():
        if len(task_ids) < _WHOLE_STEP_FROM:
            rows = {t: meta.get_task(flow, run_id, step, t) for t in task_ids}
            manifests = {t: meta.get_artifacts(flow, run_id, step, t) for t in task_ids}
        else:
            rows = {row.task_id: row for row in meta.list_tasks(flow, run_id, step)}
            manifests = meta.get_step_artifacts(flow, run_id, step)
        for task_id in task_ids:
            row = rows.get(task_id)
            found[step, task_id] = ParentRef(step, task_id, manifests.get(task_id, {}),
                                             row.frames if row else ())
    return [found[ref.partition("/")[0], ref.partition("/")[2]] for ref in refs]


_WHOLE_STEP_FROM = 32  # inputs from one step from which the step is read whole


def _save_log(store: Any, text: str) -> str | None:
    if not text:
        return None
    return store.save_bytes(text.encode("utf-8", "replace")).key
