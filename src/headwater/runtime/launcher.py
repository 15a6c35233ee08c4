"""Start a run: check the graph, resolve parameters, start the executor, schedule to the end.

This is the library entry point the CLI, the Runner and notebooks share; it prints through a
Console and returns a RunOutcome instead of exiting. A run goes down the floors in order:
configs (``runtime/configs.py``), project (``runtime/project.py``), graph, parameters, the
datastore, the executor its backend builds (``headwater.backends``), the metadata store, the
scheduler. Every resource opened here is closed on every path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from headwater import backends
from headwater.decorators.base import StepPolicy
from headwater.decorators.catch import refuse_catch_on_splits
from headwater.decorators.exit_hook import HOOKS_ATTR
from headwater.decorators.mutation import apply_mutators
from headwater.decorators.registry import plugins_step_init, split_with, step_policy
from headwater.decorators.transient import transient_names
from headwater.environments.decorators import resolve_base
from headwater.exceptions import FlowDefinitionError, NotFoundError, RunFailedError
from headwater.flow.current import current
from headwater.graph import Graph, check_flow
from headwater.graph.model import FOREACH, PARALLEL, SWITCH
from headwater.meta import open_metadata
from headwater.meta.tags import endpoint_tags, runtime_name, transient_tags
from headwater.runtime.configs import (
    ConfigSources,
    LaunchConfigs,
    config_variables_set,
    launch_configs,
    recorded_configs,
)
from headwater.runtime.console import Console, flow_command
from headwater.runtime.executors.base import Executor, ExecutorChoice, ExecutorContext
from headwater.runtime.parameters import (
    ParameterNotGivenError,
    check_swept_parameters,
    resolve_parameters,
    store_parameters,
)
from headwater.runtime.project import BranchChoice, ProjectInfo, project_info
from headwater.runtime.resume import ResumePlan, check_parameters_recorded
from headwater.runtime.scheduler import (
    RunOptions,
    RunOutcome,
    Scheduler,
    host_and_pid,
    version_tags,
)
from headwater.runtime.step_cache import StepCache, run_max_age
from headwater.settings import Settings, current_username
from headwater.store import open_datastore
from headwater.store.datastore import discover_serializers
from headwater.store.temp_sweep import finish_sweep, start_sweep
from headwater.tracebacks import printable_name
from headwater.version import __version__


def run_flow(flow_cls: type, *, params: Mapping[str, Any], options: RunOptions,
             settings: Settings, console: Console, configs: ConfigSources | None = None,
             branch: BranchChoice | None = None,
             executor: ExecutorChoice | None = None,
             environment: str | None = None) -> RunOutcome:
    """Run ``flow_cls`` from its start step; returns when the run has finished or failed.

    Configs are resolved first, before the graph is checked and before any decorator option or
    parameter default that refers to them (``config_expr``) is evaluated. ``environment`` is
    ``--environment``: "pypi" or "conda" builds the steps' @pypi/@conda environments.
    """
    environment = environment or "local"
    branch, executor = branch or BranchChoice(), executor or ExecutorChoice()
    _announce(flow_cls, console)
    resolved = launch_configs(flow_cls, configs or ConfigSources())
    split_with(flow_cls, options.with_decorators)  # a --with step mutator runs with the others
    apply_mutators(flow_cls, resolved.scope)  # they may add parameters, @project, decorators
    project = project_info(flow_cls, current_username(), branch.branch, branch.production,
                           resolved.scope)
    if project is not None:  # a parameter default may read current.project_name
        current._bind_launch(**project.current_fields())
        _say_project(project, console)
    graph = _check(flow_cls, console)
    values = _resolved_parameters(flow_cls, params, resolved.scope)
    _say_included_files(flow_cls, console)
    check_swept_parameters(flow_cls, graph, values)
    with _open_store(settings) as store:
        # Configs are stored like parameters: every task reads them, and so does the client.
        param_refs = store_parameters({**values, **resolved.values}, store,
                                      f"{flow_cls.__name__}/parameters")
        return _execute(_Launch(flow_cls, graph, store, param_refs, resolved, project, executor,
                                environment),
                        options, settings, console, None)


def _say_included_files(flow_cls: type, console: Console) -> None:
    """One line per IncludeFile read from a file for this run, as Metaflow prints when it
    stores one (a flow's own output compared side by side has it)."""
    from headwater.flow.includefile import size_text
    from headwater.flow.parameters import flow_parameters

    for param in flow_parameters(flow_cls).values():
        read = getattr(param, "last_read", None) if param.is_include_file else None
        if read is not None:
            console.say(f"Including file {read[0]} of size {size_text(read[1])}")
            param.last_read = None


def _resolved_parameters(flow_cls: type, params: Mapping[str, Any],
                         scope: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameter values; when the Runner started this process, its arguments are
    checked first as Metaflow's Runner checks them (see :mod:`headwater.runtime.runner_args`)."""
    if "HEADWATER_RUNNER_ARGS" not in os.environ:  # the command line: nothing more to import
        return resolve_parameters(flow_cls, params, current_username(), scope)
    from headwater.runtime.runner_args import RunnerArgs

    checks, given = RunnerArgs.take(), dict(params)
    if checks is None:
        return resolve_parameters(flow_cls, given, current_username(), scope)
    checks.check(flow_cls, given)
    try:
        return resolve_parameters(flow_cls, given, current_username(), scope)
    except ParameterNotGivenError as err:
        checks.refuse(err, "ValueError")
        raise


def resume_flow(flow_cls: type, *, step: str | None, options: RunOptions, settings: Settings,
                console: Console, configs: ConfigSources | None = None,
                branch: BranchChoice | None = None,
                executor: ExecutorChoice | None = None,
                environment: str | None = None) -> RunOutcome:
    """Start a new run that clones what succeeded in an earlier run and re-runs the rest.

    The origin is ``options.origin_run_id``, else the latest run of this flow by this user.
    Parameters and configs are the origin's (a run's configuration is part of what it computed),
    and so are the locks of its @pypi/@conda environments: with ``environment`` None (no
    ``--environment`` given), the resumed steps run in them if the origin's steps did.
    """
    branch, executor = branch or BranchChoice(), executor or ExecutorChoice()
    _announce(flow_cls, console)
    graph = _check(flow_cls, console)
    with open_metadata(settings.metadata_url) as meta:
        try:
            origin = find_origin_run(meta, flow_cls.__name__, options.origin_run_id)
        except NotFoundError as err:
            raise _elsewhere(err, flow_cls, settings) from None
        refuse_running_origin(origin)
    param_refs = origin.params
    origin_envs = origin.environments  # checked before anything runs: damaged names the run
    options.origin_run_id = origin.run_id
    if environment is None:
        environment = "pypi" if origin_envs else "local"
        if origin_envs:
            console.say(f"Resuming in the @pypi/@conda environments of {flow_cls.__name__}/"
                        f"{printable_name(origin.run_id)} (its recorded locks), as if "
                        "--environment=pypi")
    if configs:
        console.say("Note: --config/--config-value are ignored by resume: "
                    f"the configs of {flow_cls.__name__}/{printable_name(origin.run_id)} are used")
    for variable in config_variables_set():  # Metaflow refuses them with resume, as --config
        console.say(f"Note: {variable} is ignored by resume: "
                    f"the configs of {flow_cls.__name__}/{printable_name(origin.run_id)} are used")
    with _open_store(settings) as store:
        resolved = recorded_configs(flow_cls, param_refs, store,
                                    f"{flow_cls.__name__}/{origin.run_id}")
        split_with(flow_cls, options.with_decorators)
        apply_mutators(flow_cls, resolved.scope)  # they may add parameters
        check_parameters_recorded(flow_cls, param_refs, f"{flow_cls.__name__}/{origin.run_id}")
        project = project_info(flow_cls, current_username(), branch.branch, branch.production,
                               resolved.scope)
        if project is not None:
            _say_project(project, console)
        return _execute(_Launch(flow_cls, graph, store, param_refs, resolved, project, executor,
                                environment, origin_envs),
                        options, settings, console, step)


def _open_store(settings: Settings) -> Any:
    store = open_datastore(settings.datastore_root)
    try:
        store.storage.check_writable()
    except BaseException:
        store.close()
        raise
    discover_serializers()  # before any task is forked, so that they all inherit the result
    return store


def other_store_note(flow_cls: type, settings: Settings) -> str | None:
    """One sentence when this run's store is the working folder's and the flow file's folder
    has another (see :func:`headwater.settings.other_local_root`)."""
    from headwater.local_read import flow_folder
    from headwater.settings import other_local_root

    other = other_local_root(settings.datastore_root, flow_folder(flow_cls))
    if other is None:
        return None
    return (f"this run is kept in {settings.datastore_root} (the working folder's), but the "
            f"folder of {flow_cls.__name__}'s file has its own store, {other}, which a "
            f"notebook or `runs` there reads; to keep runs together, run from "
            f"{os.path.dirname(other)} or pass --datastore-root {other} before the command")


def _file_changed_since(flow_cls: type, origin: Any) -> bool:
    """Whether the flow's file was written after the origin run started (its modification
    time; a file that cannot be read, or no origin, is taken as unchanged)."""
    import sys

    path = getattr(sys.modules.get(flow_cls.__module__), "__file__", None)
    try:
        return origin is not None and path is not None and \
            os.stat(path).st_mtime > origin.created_at
    except OSError:
        return False


def _elsewhere(err: NotFoundError, flow_cls: type, settings: Settings) -> NotFoundError:
    """A run looked for in the working folder's store while the flow's folder has its own:
    the run is likelier there (``python proj/flow.py resume`` typed one folder up)."""
    from headwater.local_read import flow_folder
    from headwater.settings import other_local_root

    other = other_local_root(settings.datastore_root, flow_folder(flow_cls))
    if other is None:
        return err
    return NotFoundError(
        f"{err.msg} in {settings.datastore_root} (the working folder's store); the folder of "
        f"{flow_cls.__name__}'s file has a store of its own, {other}",
        fix=f"run from {os.path.dirname(other)}, or pass --datastore-root {other} before the "
        f"command; else {err.fix}")


def find_origin_run(meta: Any, flow_name: str, run_id: str | None) -> Any:
    if run_id is not None:
        row = meta.get_run(flow_name, run_id)
        if row is None:
            recent = ", ".join(r.run_id for r in meta.list_runs(flow_name, limit=5)) or "none"
            raise NotFoundError(f"run {flow_name}/{run_id} does not exist",
                                fix=f"the latest runs of {flow_name} are: {recent}")
        return row
    user = current_username()
    rows = meta.list_runs(flow_name, user=user, limit=1) or meta.list_runs(flow_name, limit=1)
    if not rows:
        raise NotFoundError(f"flow {flow_name} has no run to resume",
                            fix=f"start one with: {flow_command('run')}")
    return rows[0]


def refuse_running_origin(origin: Any) -> None:
    """Resuming a run whose scheduler is still at work would run its steps twice at once."""
    if origin.live_status != "running":
        return
    where = f" (pid {origin.pid} on {origin.host})" if origin.pid and origin.host else ""
    raise RunFailedError(
        f"run {origin.pathspec} is still running{where}; resuming it now would run its "
        "steps a second time alongside it",
        fix=f"wait for {origin.pathspec} to finish, or stop it (Ctrl-C in its terminal, or "
        "kill its scheduler), then resume",
    )


class _Launch(NamedTuple):
    """What run and resume resolved for ``_execute``."""

    flow_cls: type
    graph: Graph
    store: Any
    param_refs: dict
    configs: LaunchConfigs
    project: ProjectInfo | None
    executor: ExecutorChoice = ExecutorChoice()
    environment: str = "local"  # --environment: "pypi"/"conda" build @pypi/@conda environments
    # resume: the origin run's @pypi/@conda record (RunRow.environments, checked)
    origin_environments: dict[str, Any] | None = None


def _check_writable(path: str) -> None:
    """Refuse a ``--run-id-file`` that cannot be written before a run is recorded."""
    folder = os.path.dirname(os.path.abspath(path))
    target = path if os.path.exists(path) else folder
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(target, os.W_OK):
        raise RunFailedError(
            f"cannot write the run id to --run-id-file {path}: "
            + ("it is a folder" if os.path.isdir(path) else
               f"the folder {folder} does not exist" if not os.path.isdir(folder) else
               "this user may not write there"),
            fix="give --run-id-file a file in a folder you can write")


def _write_run_id(path: str, pathspec: str, run_id: str) -> None:
    from headwater.outfiles import replace_file  # only with --run-id-file

    try:
        replace_file(path, run_id.encode())  # never through a link planted at the path
    except OSError as exc:  # a full disk, /dev/full
        raise RunFailedError(
            f"cannot write the run id of {pathspec} to --run-id-file {path}: {exc.strerror}",
            fix=f"give --run-id-file a file you can write, then `resume` {pathspec}") from None


def _announce(flow_cls: type, console: Console) -> None:
    console.say(f"headwater {__version__} executing {flow_cls.__name__} "
                f"for user:{current_username()}")


def _say_project(project: ProjectInfo, console: Console) -> None:
    """Metaflow's line naming a @project flow's project and branch, before the graph check."""
    console.say(f"Project: {project.project}, Branch: {project.branch}")


def _check(flow_cls: type, console: Console) -> Graph:
    console.say("Validating your flow...")
    graph = check_flow(flow_cls)
    for warning in graph.warnings:
        console.say(f"    Warning: {warning}")
    console.say("    The graph looks good!")
    return graph


def _execute(launch: _Launch, options: RunOptions, settings: Settings, console: Console,
             resume_step: str | None) -> RunOutcome:
    flow_name = launch.flow_cls.__name__
    user = current_username()
    policies = step_policies(launch.flow_cls, launch.graph, options.with_decorators,
                             launch.configs.scope)
    project = launch.project
    if options.run_id_file:
        _check_writable(options.run_id_file)  # before anything is recorded
    for note in _notes(launch.flow_cls, policies):
        console.say(f"Note: {note}")
    stray = other_store_note(launch.flow_cls, settings)
    if stray:
        console.say(f"Note: {stray}")
    if any(policy.cards for policy in policies.values()):
        from headwater.runtime.task_cards import preload

        preload()  # once here, before the fork server: every forked @card task inherits it
    # Environments are resolved (and built) before anything runs or is recorded; then the
    # executor: the local one forks its task servers before this process opens a database, and
    # a cluster that cannot be reached fails the launch with nothing recorded.
    step_envs = _prepare_environments(launch, policies, console, settings)
    with _make_executor(launch, options, settings, step_envs) as executor, \
            open_metadata(settings.metadata_url) as meta:
        plan = None
        if options.origin_run_id is not None:
            plan = ResumePlan.for_run(meta, flow_name, launch.graph, options.origin_run_id,
                                      resume_step, launch.store)
            plan.code_changed = _file_changed_since(launch.flow_cls, meta.get_run(
                flow_name, options.origin_run_id))
        host, pid = host_and_pid()
        run_id = meta.new_run(
            flow_name, user=user, tags=list(options.tags),
            system_tags=[f"user:{user}", f"runtime:{runtime_name(launch.executor.name)}", *version_tags(),
                         *(project.system_tags() if project else []),
                         *transient_tags(transient_names(launch.flow_cls)),
                         *endpoint_tags(launch.graph.start_step, launch.graph.end_step)],
            params=launch.param_refs, origin_run_id=options.origin_run_id, pid=pid, host=host,
            code=executor.code_package, environments=_environments_record(step_envs),
        )
        if plan is not None:
            _origin_still_there(meta, flow_name, run_id, options.origin_run_id)
        # Leftovers of writers killed mid-write, swept in the background once a day.
        sweep = start_sweep(launch.store.storage)
        # Held until the run's end is recorded: readers see the run alive while it is held, and
        # dead as soon as this process is gone (see headwater.meta.run_lock).
        with meta.run_lock(flow_name, run_id):
            if options.run_id_file:
                _write_run_id(options.run_id_file, f"{flow_name}/{run_id}", run_id)
            origin = (f", resuming {flow_name}/{printable_name(str(options.origin_run_id))}"
                      if plan else "")
            console.say(f"Workflow starting (run-id {run_id}{origin}):")
            ignored = _ignored_environments(launch, policies)
            scheduler = Scheduler(flow_name=flow_name, graph=launch.graph, executor=executor,
                                  meta=meta, store=launch.store, console=console,
                                  options=options, username=user, policies=policies,
                                  resume=plan,
                                  cache=_step_cache(launch, policies, meta, step_envs, options,
                                                    resume_step),
                                  ignored_environments=ignored,
                                  built_environments=_built_environments(launch, policies))
            try:
                outcome = scheduler.run(run_id, launch.param_refs, tuple(options.tags))
            finally:
                console.finish(run_id)  # the live display gives way to the final counts
        finish_sweep(sweep)
    if getattr(launch.flow_cls, HOOKS_ATTR, None):  # @exit_hook: once the run's end is recorded
        from headwater.runtime.exit_hooks import run_exit_hooks

        run_exit_hooks(launch.flow_cls, f"{flow_name}/{outcome.run_id}", outcome.ok,
                       str(settings.datastore_root), settings.metadata_url,
                       lambda line: console.say(line, always=True))
    _closing_line(console, flow_name, outcome, _resume_switch(outcome, ignored))
    return outcome


def _resume_switch(outcome: RunOutcome, ignored: Mapping[str, str]) -> str:
    """``--environment=pypi`` when a step that failed declared @pypi (or @conda) and this run
    ignored it: a plain resume would run it in this Python again, and fail the same way."""
    failed_steps = {task.split("/")[-2] for task in outcome.failed_tasks if task.count("/") >= 3}
    kinds = sorted({ignored[step] for step in failed_steps if step in ignored})
    return f"--environment={kinds[0]}" if kinds else ""


def _step_cache(launch: _Launch, policies: dict[str, StepPolicy], meta: Any,
                step_envs: dict[str, Any], options: RunOptions,
                resume_step: str | None) -> StepCache | None:
    """The run's @cache keys and lookups; None when no step has @cache. ``resume STEP`` runs
    STEP again even where the cache has it: that is what the user asked for."""
    if not any(policy.cache for policy in policies.values()):
        return None
    return StepCache(flow_cls=launch.flow_cls, graph=launch.graph, policies=policies, meta=meta,
                     store=launch.store, step_envs=step_envs, lookup=not options.no_cache,
                     fresh_steps=frozenset({resume_step} if resume_step else ()),
                     branch=launch.project.flow_name if launch.project else None,
                     run_max_age_s=run_max_age())


def _origin_still_there(meta: Any, flow_name: str, run_id: str, origin_run_id: Any) -> None:
    """A resume read its origin just before registering itself; `headwater delete` of the origin
    refuses once the resume is registered, but one committed in between would leave the plan
    naming records (and blobs) no longer kept. Asked once the resume is registered: fail it."""
    if meta.get_run(flow_name, origin_run_id) is not None:
        return
    import time

    meta.run_finished(flow_name, run_id, "failed", time.time())
    raise NotFoundError(
        f"run {flow_name}/{origin_run_id} was deleted while run {flow_name}/{run_id} was starting "
        "to resume from it",
        fix="resume from another run of the flow (`headwater runs` lists them)",
    )


def _prepare_environments(launch: _Launch, policies: dict[str, StepPolicy],
                          console: Console, settings: Settings) -> dict[str, Any]:
    """Resolve and build the @pypi/@conda environments, before anything runs or is recorded;
    each holds what the run's datastore and metadata backends need in a task (s3fs, ...)."""
    flow_cls = launch.flow_cls
    if not any(p.python_env for p in policies.values()) and getattr(
            flow_cls, "_hw_env_base", None) is None:
        return {}
    from headwater.environments.declaration import step_declarations

    building = launch.environment in ("pypi", "conda")
    # Building refuses @pypi beside @conda on one step; without the switch the pair is ignored.
    declared = step_declarations(flow_cls, policies, strict=building)
    if not declared:
        return {}
    if not building:
        steps = [s for s in policies if s in declared]  # in the graph's order
        kind = "pypi" if any(d.kind == "pypi" for d in declared.values()) else "conda"
        console.say(f"Note: @pypi/@conda ({', '.join(steps)}) are ignored: the steps run in "
                    f"this Python; add --environment={kind} to build their environments")
        return {}
    from headwater.environments.backend_packages import backend_packages
    from headwater.environments.prepare import prepare_environments

    origin = launch.origin_environments
    console.say("Preparing step environments...")
    # For a remote executor (Dask) only the lock is made here; each worker builds (and caches)
    # the environment.
    remote = backends.get("executor", launch.executor.name).remote
    needs = backend_packages(settings.datastore_root, settings.metadata_url)
    return prepare_environments(flow_cls, policies, console.say, origin, build=not remote,
                                needs=needs)


def _ignored_environments(launch: _Launch, policies: dict[str, StepPolicy]) -> dict[str, str]:
    """step -> ``pypi``/``conda``, for each step whose @pypi/@conda declaration this run
    ignores (no ``--environment``): a step failing on a missing module then names the switch."""
    if launch.environment in ("pypi", "conda"):
        return {}
    if not any(p.python_env for p in policies.values()) and getattr(
            launch.flow_cls, "_hw_env_base", None) is None:
        return {}
    from headwater.environments.declaration import step_declarations

    declared = step_declarations(launch.flow_cls, policies, strict=False)
    return {step: declaration.kind for step, declaration in declared.items()}


def _built_environments(launch: _Launch, policies: dict[str, StepPolicy]
                        ) -> dict[str, tuple[str, tuple[str, ...]]]:
    """step -> (``pypi``/``conda``, its packages' names), for each step this run gives an
    environment of its own: a step failing on a missing module then hears whether a package it
    declares installs that module under another name."""
    if launch.environment not in ("pypi", "conda"):
        return {}
    if not any(p.python_env for p in policies.values()) and getattr(
            launch.flow_cls, "_hw_env_base", None) is None:
        return {}
    from headwater.environments.declaration import step_declarations

    declared = step_declarations(launch.flow_cls, policies, strict=False)
    return {step: (d.kind, tuple(name for name, _ in d.packages))
            for step, d in declared.items()}


def _environments_record(step_envs: dict[str, Any]) -> dict[str, Any] | None:
    if not step_envs:
        return None
    from headwater.environments.lock import run_record

    return run_record({step: env.lock for step, env in step_envs.items()}, shown=True)


def _make_executor(launch: _Launch, options: RunOptions, settings: Settings,
                   step_envs: Mapping[str, Any] | None = None) -> Executor:
    """The executor ``--executor`` names, built by its backend from the backend's own options;
    ``step_envs`` (step -> its built @pypi/@conda environment) reach it through the context."""
    backend = backends.get("executor", launch.executor.name)
    current_fields = launch.project.current_fields() if launch.project else {}
    # Where the run's records live, so current.run / current.task can read them in the task.
    current_fields["_hw_settings"] = (str(settings.datastore_root), settings.metadata_url)
    if options.client_namespace is not None:  # run --namespace: the tasks' client namespace
        current_fields["_hw_client_namespace"] = options.client_namespace
    if getattr(launch.flow_cls, "_hw_flow_plugins", None):  # Metaflow-style flow decorators
        from headwater.decorators.lifecycle import flow_option_values

        current_fields["_hw_flow_options"] = flow_option_values(launch.flow_cls)
    context = ExecutorContext(launch.flow_cls, launch.graph, launch.store, options.max_workers,
                              current_fields, dict(step_envs or {}),
                              extra_files=shipped_extensions() if backend.remote else ())
    return backend.load()(context, **backends.chosen_options(backend, launch.executor.options))


def shipped_extensions() -> tuple[tuple[str, str], ...]:
    """The files of the ``metaflow_extensions`` packages this process can import, for a code
    package to carry (as Metaflow ships them): a remote executor's tasks, like deployed ones,
    then have them without installing them. Found here, above the executors, which never look
    for them themselves; ``cli/deploy_cmds.py`` hands the same list to the deployers."""
    from headwater.compat.extension_points import package_files

    return tuple(package_files())


def step_policies(flow_cls: type, graph: Graph, with_specs: tuple[str, ...],
                  configs: Mapping[str, Any] | None = None) -> dict[str, StepPolicy]:
    """Each step's policy from its own decorators plus the ``--with`` ones.

    ``configs`` is the config scope: a decorator option written as ``config_expr(...)`` is
    evaluated here, at launch, now that the configs are known; the flow's mutators run first
    (once), so the decorators they add or remove count.
    """
    extra = split_with(flow_cls, with_specs)  # user decorators go on the steps, before mutators
    apply_mutators(flow_cls, configs or {})
    resolve_base(flow_cls, configs or {})  # @pypi_base(**config_expr(...)): read now
    check_flow_triggers(flow_cls, configs or {})  # a bad @trigger is refused before a run too
    plugins_step_init(flow_cls, [node.name for node in graph])  # may add decorators
    policies = {node.name: step_policy(getattr(flow_cls, node.name), extra, configs)
                for node in graph}
    refuse_catch_on_splits(flow_cls.__name__, (n for n in graph if n.transition == SWITCH),
                           (n for n in graph if n.transition in (FOREACH, PARALLEL)), policies)
    _refuse_concurrency_in_gangs(flow_cls.__name__, graph, policies)
    return policies


def check_flow_triggers(flow_cls: type, configs: Mapping[str, Any]) -> None:
    """Refuse an @trigger / @trigger_on_finish of no valid shape, as Metaflow does for every
    command: a run ignores them, but the flow should not be found broken only when deployed."""
    for name, found in getattr(flow_cls, "_hw_flow_decorators", {}).items():
        if name in ("trigger", "trigger_on_finish"):  # the checks load only for such a flow
            from headwater.decorators.trigger_specs import check_options
            from headwater.flow.config import resolve_deferred

            options = resolve_deferred(dict(found.get("options") or {}), configs)
            check_options(flow_cls.__name__, name, options)


def _refuse_concurrency_in_gangs(flow_name: str, graph: Graph,
                                 policies: Mapping[str, StepPolicy]) -> None:
    """@concurrency on the step a ``num_parallel`` fan-out runs: its tasks are one gang that
    must all run together (they wait for one another), so holding some back would hang them."""
    for node in graph:
        if node.transition != PARALLEL:
            continue
        for step in node.out:
            limit = policies[step].concurrency
            if limit is not None:
                raise FlowDefinitionError(
                    f"step '{step}' of flow {flow_name} has @concurrency(limit={limit}), but "
                    f"step '{node.name}' starts it with num_parallel: those tasks must all run "
                    "at once", fix=f"drop @concurrency from step '{step}'")


def _notes(flow_cls: type, policies: dict[str, StepPolicy]) -> list[str]:
    """One line per decorator that has no effect here, each said once per run."""
    notes = [f"@{name}: {d['note']}"
             for name, d in getattr(flow_cls, "_hw_flow_decorators", {}).items()]
    for policy in policies.values():
        notes.extend(policy.notes)
    return list(dict.fromkeys(notes))


def _closing_line(console: Console, flow_name: str, outcome: RunOutcome,
                  switch: str = "") -> None:
    if outcome.ok and outcome.not_run:
        console.say(f"Clone-only resume complete: {flow_name}/{outcome.run_id} holds the "
                    f"successful tasks of its origin; nothing ran ({len(outcome.not_run)} "
                    "task(s) left to run, e.g. with resume).", always=True)
    elif outcome.ok and outcome.end_caught:
        console.say(f"Done! Run {flow_name}/{outcome.run_id} finished; its end step failed and "
                    "@catch caught it, so the run is recorded as failed.", always=True)
    elif outcome.ok:
        if outcome.nothing_ran:  # `resume` of a run that had succeeded: a copy of it
            console.say(f"Nothing ran: every task was cloned from a task that had succeeded. "
                        f"`{flow_command('resume STEP')}` runs STEP and what follows it "
                        "again, with the code as it is now.")
        console.say(f"Done! Run {flow_name}/{outcome.run_id} succeeded.", always=True)
    elif outcome.interrupted:
        # As after a failure: what to type next, on the line before the closing one.
        console.say(f"`{flow_command('resume')}` goes on from where it stopped, reusing what "
                    "succeeded.")
        console.say(f"Run {flow_name}/{outcome.run_id} was interrupted and is recorded as failed.",
                    always=True)
    else:
        failed = ", ".join(outcome.failed_tasks)
        if outcome.failed_tasks:
            # What a newcomer needs next: resume reuses what succeeded (the README's tour).
            resume = flow_command(f"{switch} resume" if switch else "resume")
            console.say(f"Once it is fixed, `{resume}` runs again what failed "
                        "and what follows it, reusing what succeeded.")
        console.say(f"Run {flow_name}/{outcome.run_id} failed: {failed}.", always=True)
