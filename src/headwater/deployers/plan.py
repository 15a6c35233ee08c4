"""What every deployer needs to know about a flow, computed once at ``create`` time.

The plan checks the graph, refuses the shapes an orchestrator DAG cannot express (loops), groups
the steps by the foreach they run in (each foreach body becomes a sub-DAG mapped over the items),
resolves the configs given to ``create`` and, with them, each step's policy (@retry, @timeout,
@resources, @environment), @project, @schedule / @trigger / @trigger_on_finish; renders the
parameters' defaults as text, and stores the code package in the datastore: the deployed tasks
download it from there, so the image needs no flow code (nor the ``metaflow_extensions``
packages active at ``create``, which the package carries too). The configs' values (and IncludeFile
defaults' contents) are stored there too, never in the compiled document
(see runtime/deployed_values.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.decorators.base import StepPolicy
from headwater.exceptions import FlowDefinitionError
from headwater.graph import check_flow
from headwater.graph.build import is_gang_decorator
from headwater.graph.model import FOREACH, PARALLEL, SPLIT, SWITCH, Graph
from headwater.redaction import without_password
from headwater.runtime.configs import ConfigSources
from headwater.settings import Settings, current_username

TASK_MODULE = "headwater.cli.deployed_task_cmd"
CATCH_GRACE_S = 120  # extra orchestrator time of a @catch + @timeout step (see below)
SCHEDULE_PRESETS = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0"}


class DeployError(FlowDefinitionError):
    """The flow cannot be deployed as it is (a shape the orchestrator cannot run, a bad option)."""


@dataclass(frozen=True)
class DeployParameter:
    name: str
    default: str  # as text; "" means "no value given: the flow's default applies"
    help: str = ""


@dataclass
class DeployPlan:
    flow_name: str
    name: str  # the deployed name: the project's flow name under @project, else the flow's
    graph: Graph
    policies: dict[str, StepPolicy]
    scope: dict[str, tuple[str, ...]]  # step -> the foreach/parallel steps it runs under
    parameters: list[DeployParameter]
    settings: Settings
    code: dict[str, str]
    username: str
    schedule: dict[str, Any] | None = None  # {"cron": ..., "timezone": ...}
    triggers: list[dict[str, Any]] = field(default_factory=list)  # {"event": name, "parameters"}
    branch: str | None = None
    production: bool = False
    tags: tuple[str, ...] = ()
    with_specs: tuple[str, ...] = ()  # `--with` decorators, applied to every step as in `run`
    # The options of Metaflow-style flow decorators as they stood at create (the command line,
    # else METAFLOW_<NAME>, else the default): every deployed task sees what a local run would.
    flow_options: dict[str, Any] = field(default_factory=dict)
    # The key of the values `create` fixed (configs, IncludeFile defaults) in the datastore (see
    # runtime/deployed_values.py): the start task records them as the run's; "" when none.
    configs_key: str = ""
    notes: list[str] = field(default_factory=list)  # one-line notes for whoever runs create

    def task_args(self, step: str, task_id: str, run_key: str, orchestrator: str,
                  params: Mapping[str, str] | None = None, trigger: str = "",
                  output_dir: str | None = None) -> list[str]:
        """The argv (after the interpreter) of the deployed task ``step``."""
        args = ["-m", TASK_MODULE, step, "--task-id", task_id, "--run-key", run_key,
                "--code", json.dumps(self.code, sort_keys=True),
                "--datastore-root", self.settings.datastore_root,
                "--metadata", public_metadata_url(self.settings.metadata_url),
                "--orchestrator", orchestrator, "--deployment", self.name]
        for name, value in (params or {}).items():
            args += ["--param", name, value]
        for tag in self.tags:
            args += ["--tag", tag]
        for spec in self.with_specs:
            args += ["--with", spec]
        if self.flow_options:
            args += ["--flow-options", json.dumps(self.flow_options, sort_keys=True, default=str)]
        if self.branch:
            args += ["--branch", self.branch]
        if self.production:
            args.append("--production")
        if self.configs_key and self.graph[step].is_start:
            args += ["--configs", self.configs_key]
        if trigger:
            args += ["--trigger", trigger]
        if output_dir:
            args += ["--output-dir", output_dir]
        return args


def public_metadata_url(url: str) -> str:
    """The metadata URL without its password: a deployed document is not a place for secrets
    (the tasks get it from PGPASSWORD, e.g. through a Kubernetes secret)."""
    if "://" not in url:
        return url
    return without_password(url)  # the one place that knows every spelling of a password


def note_machine_local_stores(plan: DeployPlan, runners: str) -> None:
    """A note when the deployment's datastore or metadata is a path on this machine (the
    embedded defaults: a ``.headwater`` folder, its SQLite file).

    ``runners`` says who runs the tasks (``the pods``): they reach such a path only where the
    same folder is mounted (a shared disk), so a first ``create`` made with the defaults would
    otherwise deploy tasks that find no code package and no run. A note, not a refusal: a
    folder on a disk every node mounts at that path does work. Whether a backend serves plain
    paths is its declaration (``schemes`` holding ``""``), never its name.
    """
    from headwater import backends  # the registry; imported by every launch already

    local = []
    root, meta_url = plan.settings.datastore_root, plan.settings.metadata_url
    if "" in backends.for_url("datastore", root)[0].schemes:
        local.append(f"the datastore is the folder {root}")
    if "" in backends.for_url("metadata", meta_url)[0].schemes:
        local.append(f"the metadata is the file {public_metadata_url(meta_url)}")
    if local:
        plan.notes.append(
            f"Note: {' and '.join(local)} on this machine; {runners} reach them only where "
            "the same path is mounted. For a team setup, deploy with a shared store: "
            "--datastore-root s3://BUCKET/PREFIX --metadata postgresql://USER@HOST/DB before the "
            "command, or HEADWATER_DATASTORE_ROOT / HEADWATER_METADATA (docs/production.md)")


def build_plan(flow_cls: type, settings: Settings, *, orchestrator: str, branch: str | None = None,
               production: bool = False, tags: tuple[str, ...] = (), name: str | None = None,
               store_code: bool = True, with_specs: tuple[str, ...] = (),
               environment: str = "local", configs: ConfigSources | None = None,
               extra_files: Sequence[tuple[str, str]] = ()) -> DeployPlan:
    """The plan for deploying ``flow_cls`` with the datastore and metadata of ``settings``.

    ``with_specs`` are `--with` decorators (every step gets them, in the compiled DAG and in each
    deployed task); ``environment`` is the `--environment` switch: with ``pypi`` / ``conda`` the
    steps' @pypi/@conda declarations are locked now and the locks travel with the deployment.
    ``configs`` are `--config` / `--config-value`: resolved now, as `run` resolves them, they
    decide every decorator option, @project name and @schedule the compiled DAG holds, and (with
    ``store_code``) their values are stored in the datastore for every deployed run to use.
    ``extra_files`` are ``(file path, name in the package)`` pairs the code package carries
    besides the flow's folder: the active ``metaflow_extensions`` packages, which the caller
    finds (``runtime.launcher.shipped_extensions``; a deployer never looks for them), as a
    remote executor's package carries them.
    """
    from headwater.runtime.configs import launch_configs
    from headwater.runtime.launcher import step_policies
    from headwater.runtime.project import project_info

    graph = check_flow(flow_cls)
    tags = _checked_tags(flow_cls.__name__, tags)
    if name is not None:  # every deployed run is tagged deployment:<name>
        _checked_name(flow_cls.__name__, name)
    _refuse_inline_secrets(flow_cls.__name__, with_specs)
    _refuse_loops(graph, orchestrator)
    _refuse_gangs(flow_cls, graph, orchestrator)
    user = current_username()
    resolved = launch_configs(flow_cls, configs or ConfigSources())
    # Before @project is read: the flow's mutators (and --with ones) may add it or name it.
    policies = step_policies(flow_cls, graph, with_specs, resolved.scope)
    project = project_info(flow_cls, user, branch, production, resolved.scope)
    plan = DeployPlan(
        flow_name=flow_cls.__name__,
        name=name or (project.flow_name if project else flow_cls.__name__),
        graph=graph, policies=policies,
        scope=foreach_scopes(graph), parameters=_parameters(flow_cls),
        settings=settings,
        code=_store_code(flow_cls, settings, extra_files) if store_code else {},
        username=user, branch=branch, production=production, tags=tags,
        with_specs=tuple(with_specs), flow_options=_flow_options(flow_cls))
    if store_code:
        _lock_environments(plan, flow_cls, environment)
        plan.configs_key = _store_values(flow_cls, settings, resolved.values, user,
                                         resolved.scope)
    cached = sorted(step for step, policy in policies.items() if policy.cache)
    if cached:  # the cache is looked up by headwater's scheduler, which a deployment has not
        plan.notes.append(f"Note: @cache ({', '.join(cached)}) is ignored: every task of a "
                          "deployed run runs")
    decorators = _flow_decorators(flow_cls, resolved.scope)
    if "schedule" in decorators:
        plan.schedule = schedule_of(flow_cls.__name__, decorators["schedule"]["options"])
    from headwater.flow.parameters import ParameterContext

    plan.triggers = triggers_of(flow_cls.__name__, decorators,
                                ParameterContext(flow_cls.__name__, user, "trigger"), project)
    return plan


def _flow_decorators(flow_cls: type, scope: Mapping[str, Any]) -> dict[str, Any]:
    """@schedule / @trigger / @trigger_on_finish with any ``config_expr(...)`` option evaluated
    against the configs `create` resolved (``@schedule(cron=config.cron)``), as Metaflow does."""
    from headwater.flow.config import resolve_deferred

    return {name: {**d, "options": resolve_deferred(dict(d.get("options") or {}), scope)}
            for name, d in getattr(flow_cls, "_hw_flow_decorators", {}).items()}


def _store_values(flow_cls: type, settings: Settings, configs: Mapping[str, Any], user: str,
                  scope: Mapping[str, Any]) -> str:
    """The configs' values and the IncludeFile defaults' contents go to the datastore, never into
    the manifest or DAG file (they may hold credentials); the start task gets the key. Nothing to
    keep: no key."""
    defaults = _include_defaults(flow_cls, user, scope)
    if not configs and not defaults:
        return ""
    from headwater.runtime.deployed_values import save_deployed_values
    from headwater.store import open_datastore

    with open_datastore(settings.datastore_root) as store:
        return save_deployed_values(store, flow_cls.__name__, configs, defaults)


def _include_defaults(flow_cls: type, user: str, scope: Mapping[str, Any]) -> dict[str, Any]:
    """Each IncludeFile's default file, read now: it is on this machine, not in the pods (as
    Metaflow uploads it at create). A missing file stops `create`, naming the parameter."""
    from headwater.exceptions import ParameterError
    from headwater.flow.parameters import flow_parameters

    out = {}
    for attr, param in flow_parameters(flow_cls).items():
        if not param.is_include_file:
            continue
        default = param.resolve_default(flow_cls.__name__, user, scope)
        if default is None:
            continue
        try:
            out[attr] = param.convert_default(default, flow_cls)
        except ParameterError as err:
            raise DeployError(
                f"the default of IncludeFile '{param.name}' of flow {flow_cls.__name__} is read "
                f"at create, for every run of the deployment: {err.msg}",
                fix="put the file beside the flow file (or in the folder create runs in), "
                "or give the parameter another default") from None
    return out


def _flow_options(flow_cls: type) -> dict[str, Any]:
    if not getattr(flow_cls, "_hw_flow_plugins", None):  # no Metaflow-style flow decorator
        return {}
    from headwater.decorators.lifecycle import flow_option_values

    return flow_option_values(flow_cls)


def refuse_run_only_options(flow_name: str, orchestrator: str, typed: tuple[str, ...]) -> None:
    """Top-level options that shape only a run this process schedules, typed before a
    deployment command: the orchestrator runs the deployed tasks, so they would have no effect.
    Refused, naming the option, rather than dropped. (``typed`` holds their parameter names, as
    cli/flow_cli.py records them; set in the environment or a profile they are left alone.)"""
    if not typed:
        return
    key = typed[0]
    if key == "progress":
        raise DeployError(
            f"--progress does not apply to the deployment of flow {flow_name}: {orchestrator} "
            "runs its tasks and shows their progress, not this command",
            fix="drop --progress (watch the run in the orchestrator's UI, or with the client)")
    flag = "--" + key.replace("_", "-")
    raise DeployError(
        f"{flag} does not apply to the deployment of flow {flow_name}: {orchestrator} runs "
        "every task of a deployed run, not headwater's executors",
        fix=f"drop {flag}; the deployed steps' @resources and the orchestrator's own options "
        "(image, namespace, ...) say where they run")


def _checked_tags(flow_name: str, tags: tuple[str, ...]) -> tuple[str, ...]:
    """``--tag`` of ``create``, refused now as ``run --tag`` is, not at the start of every
    deployed run (where the metadata would refuse it, failing each run)."""
    from headwater.meta.tags import check_tags

    try:
        check_tags(tags)
    except (TypeError, ValueError) as exc:
        raise DeployError(f"--tag of the deployment of {flow_name}: {exc}",
                          fix="tags are at most 512 characters, with no control character, "
                          "no '..' segment and no leading '/'") from None
    return tuple(tags)


def _checked_name(flow_name: str, name: str) -> None:
    """``--name``: every deployed run carries the tag ``deployment:<name>``, so a name that tag
    cannot hold (a line break, a '..' segment) is refused now, not at the start of every run."""
    from headwater.meta.tags import check_tags

    try:
        check_tags([f"deployment:{name}"])
    except ValueError:
        raise DeployError(f"--name {name!r} of the deployment of {flow_name} cannot name a "
                          "deployment", fix="use letters, digits, '-', '_' and '.'") from None


def _refuse_inline_secrets(flow_name: str, with_specs: tuple[str, ...]) -> None:
    """``--with secrets:sources=[{"type": "inline", ...}]`` travels as the text of a deployed
    task's argument: its values would sit in clear in the manifest or DAG file, readable by
    whoever can read the deployment. Refused without repeating the spec (it holds the values)."""
    from headwater.decorators.registry import parse_with

    for index, spec in enumerate(with_specs, 1):
        if spec.partition(":")[0].strip() != "secrets":
            continue
        sources = parse_with(spec).attributes.get("sources") or []
        if any(isinstance(s, Mapping) and s.get("type") == "inline" for s in sources):
            raise DeployError(
                f"--with number {index} of the deployment of flow {flow_name} gives @secrets an "
                "inline source: its values would be written in clear into the deployed "
                "document", fix="keep the values in a secret store: e.g. a Kubernetes secret "
                "given with --secret, read by an 'env' source")


def _store_code(flow_cls: type, settings: Settings,
                extra_files: Sequence[tuple[str, str]]) -> dict[str, str]:
    from headwater.decorators.package_hooks import package_additions
    from headwater.store import code_package, open_datastore

    tarball, code = code_package.build(flow_cls,
                                       additions=[*extra_files, *package_additions(flow_cls)])
    with open_datastore(settings.datastore_root) as store:
        saved = code_package.save(store, tarball, code)
        # No run references the package until the deployment first runs: pin it, or
        # `headwater gc` would collect it from under the deployment.
        store.pin(saved["key"], f"code package of the deployed flow {flow_cls.__name__}")
    return saved


def _lock_environments(plan: DeployPlan, flow_cls: type, environment: str) -> None:
    """@pypi/@conda: lock each declaration now (as a Dask launch does: locked, not built), store
    the locks in the datastore and name them in the deployment's code dict; every deployed task
    of such a step builds (once per machine) and runs in the environment of that very lock."""
    from headwater.environments.declaration import step_declarations

    declared = step_declarations(flow_cls, plan.policies)
    if not declared:
        return
    if environment not in ("pypi", "conda"):
        plan.notes.append(f"Note: @pypi/@conda ({', '.join(sorted(declared))}) are ignored: the "
                          "deployed steps run in the image's Python; add --environment=pypi "
                          "to lock their environments into the deployment")
        return
    from headwater.environments.backend_packages import backend_packages
    from headwater.environments.lock import run_record
    from headwater.environments.prepare import prepare_environments
    from headwater.runtime.deployed import ENVIRONMENTS_KEY
    from headwater.store import open_datastore

    # The deployed tasks reach the deployment's datastore and metadata from the environment.
    needs = backend_packages(plan.settings.datastore_root, plan.settings.metadata_url)
    built = prepare_environments(flow_cls, plan.policies, plan.notes.append, build=False,
                                 needs=needs)
    record = run_record({step: env.lock for step, env in built.items()})
    with open_datastore(plan.settings.datastore_root) as store:
        blob = store.save_bytes(json.dumps(record, sort_keys=True).encode())
    plan.code = {**plan.code, ENVIRONMENTS_KEY: blob.key}


def _refuse_loops(graph: Graph, orchestrator: str) -> None:
    """A conditional that goes back to an earlier step makes a cycle: no DAG can hold it."""
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        state[name] = 1
        for nxt in graph[name].out:
            if state.get(nxt) == 1:
                raise DeployError(
                    f"step '{name}' of flow {graph.flow_name} loops back to step '{nxt}': "
                    f"{orchestrator} runs a DAG, which cannot hold a loop",
                    fix="unroll the loop, or run this flow with `run` (loops work locally)")
            if nxt not in state:
                visit(nxt)
        state[name] = 2

    visit(graph.start_step or "start")


def _refuse_gangs(flow_cls: type, graph: Graph, orchestrator: str) -> None:
    """``@parallel`` says a step's N tasks cooperate: they must run at the same time and reach
    one another (node 0's ``main_ip``). Neither orchestrator's DAG gives that (Metaflow brings a
    Kubernetes JobSet for it); N independent pods or tasks could start one by one, or never
    together, and wait on each other for ever. ``num_parallel`` without ``@parallel`` (N
    independent tasks, each with its ``node_index``) deploys as a fan-out."""
    from headwater.flow.step import DECORATORS_ATTR

    for node in graph:
        decorators = getattr(getattr(flow_cls, node.name, None), DECORATORS_ATTR, None) or []
        gang = next((d for d in decorators if is_gang_decorator(d)), None)
        if gang is not None:
            raise DeployError(
                f"step '{node.name}' of flow {graph.flow_name} is @{gang.name}: its tasks must "
                f"run together and reach one another, and {orchestrator} has no gang scheduling "
                "for them",
                fix=f"drop @{gang.name} if the tasks do not talk to each other (num_parallel "
                "alone deploys as independent tasks), or run the flow with `run`")


def foreach_scopes(graph: Graph) -> dict[str, tuple[str, ...]]:
    """step -> the foreach (or num_parallel) steps it runs under, outermost first."""
    start = graph.start_step or "start"
    splits: dict[str, tuple[tuple[str, str], ...]] = {start: ()}
    order = [start]
    while order:
        name = order.pop(0)
        node = graph[name]
        stack = splits[name]
        for nxt in node.out:
            if nxt in splits:
                continue
            if graph[nxt].is_join:
                child = stack[:-1]
            elif node.transition in (SPLIT, FOREACH, PARALLEL):
                child = (*stack, (name, node.transition))
            else:
                child = stack
            splits[nxt] = child
            order.append(nxt)
    return {step: tuple(s for s, kind in stack if kind in (FOREACH, PARALLEL))
            for step, stack in splits.items()}


def _parameters(flow_cls: type) -> list[DeployParameter]:
    """Each parameter and its default as the orchestrator shows it. A default written as
    ``config_expr(...)`` is left empty here: the start task evaluates it against the configs
    `create` stored (the same value), so a config's value (a credential, perhaps) is not
    copied into the manifest."""
    from headwater.flow.config import ConfigExpr
    from headwater.flow.parameters import flow_parameters

    out = []
    for param in flow_parameters(flow_cls).values():
        default = param.default
        if (default is None or callable(default) or isinstance(default, ConfigExpr)
                or param.is_include_file):
            text = ""
        elif isinstance(default, str):
            text = default
        else:
            text = json.dumps(default) if isinstance(default, (dict, list, bool)) else str(default)
        out.append(DeployParameter(param.name, text, param.help or ""))
    return out


def schedule_of(flow_name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """@schedule(cron=..., hourly/daily/weekly=True, timezone=...) as a cron line and a zone."""
    cron = options.get("cron")
    if not cron:
        presets = [k for k in ("hourly", "weekly") if options.get(k)]
        cron = SCHEDULE_PRESETS[presets[0] if presets else "daily"]
    elif (not isinstance(cron, str) or len(cron.split()) != 5
          or any(ch < " " and ch != "\t" for ch in cron)):
        raise DeployError(f"@schedule of flow {flow_name}: cron {cron!r} is not a 5-field cron "
                          "line", fix="e.g. @schedule(cron='0 6 * * *') for 06:00 every day")
    return {"cron": cron, "timezone": _checked_timezone(flow_name, options.get("timezone"))}


def _checked_timezone(flow_name: str, zone: Any) -> str:
    """@schedule's timezone, a name of the IANA database (``Europe/Paris``), checked now: a typo
    would otherwise fail only on the cluster, at the first scheduled run."""
    if not zone:
        return ""
    import zoneinfo

    try:
        if isinstance(zone, str) and zone.isprintable():
            zoneinfo.ZoneInfo(zone)
            return zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if isinstance(zone, str) and not zoneinfo.available_timezones():
            return zone  # this machine has no time zone database to check it against
    raise DeployError(f"@schedule of flow {flow_name}: timezone {zone!r} is not a time zone "
                      "name", fix="e.g. @schedule(cron='0 6 * * *', timezone='Europe/Paris')")


_EVENT = re.compile(r"^[A-Za-z0-9_.\-]{1,253}$")


def triggers_of(flow_name: str, decorators: Mapping[str, Any], context: Any = None,
                project: Any = None) -> list[dict[str, Any]]:
    """The events that start a run: ``{"event": name, "parameters": {param: payload field}}``
    (and ``"flow"`` for a @trigger_on_finish upstream), every deploy-time function of the
    decorators called with ``context`` (a ParameterContext). ``project`` is the flow's own
    @project (a ProjectInfo), which an upstream flow is taken to share unless it names another."""
    from headwater.decorators.trigger_specs import resolve_events, resolve_upstream

    out: list[dict[str, Any]] = []
    if "trigger" in decorators:
        out.extend(resolve_events(flow_name, decorators["trigger"].get("options", {}), context))
    if "trigger_on_finish" in decorators:
        for flow in resolve_upstream(flow_name, decorators["trigger_on_finish"].get("options", {}),
                                     context):
            upstream, qualified = _upstream_event(flow_name, flow, project)
            out.append({"event": f"headwater.{qualified}.end", "parameters": {},
                        "flow": upstream})
    for trig in out:
        if not _EVENT.match(str(trig["event"])):
            raise DeployError(f"@trigger of flow {flow_name}: event {trig['event']!r} is not a "
                              "valid event name", fix="use letters, digits, '.', '_' and '-'")
    return out


def _upstream_event(flow_name: str, flow: Mapping[str, str], project: Any
                    ) -> tuple[str, str]:
    """An upstream flow of @trigger_on_finish -> (its class name, the name its end event
    carries): ``Up``, or ``proj.branch.Up`` when it is part of a @project. The upstream's
    project and branch are the ones it names (``{'name': 'Up', 'project': ...,
    'project_branch': ...}`` or ``'proj.branch.Up'``), else this flow's own: a flow deployed on
    a user's branch listens to the upstream of that branch, never to production's."""
    name = flow["name"]
    named_project = named_branch = None
    if "." in name:
        if name.count(".") < 2:
            raise DeployError(
                f"@trigger_on_finish of flow {flow_name}: upstream flow {name!r} is neither a "
                "flow name nor a project's flow name",
                fix="give 'UpstreamFlow', or 'project.branch.UpstreamFlow' (e.g. "
                    "'shop.prod.UpstreamFlow')")
        named_project, rest = name.split(".", 1)
        named_branch, name = rest.rsplit(".", 1)
    upstream_project = (flow.get("project") or named_project
                        or (project.project if project else None))
    branch = flow.get("project_branch") or named_branch or (project.branch if project else None)
    if bool(upstream_project) != bool(branch):
        given = "project" if upstream_project else "project_branch"
        raise DeployError(
            f"@trigger_on_finish of flow {flow_name}: upstream flow {name!r} names a {given} "
            "but not the other, and this flow has no @project to take it from: its end event "
            "would never come",
            fix=f"give both: {{'name': {name!r}, 'project': ..., 'project_branch': ...}}, or "
                "put @project on this flow")
    return name, ".".join(part for part in (upstream_project, branch, name) if part)


def k8s_name(text: str) -> str:
    """A lower-case DNS label from a step or flow name (``train_model`` -> ``train-model``)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")
    return name[:63].rstrip("-.") or "x"


def check_unique_names(graph: Graph) -> dict[str, str]:
    """step -> its Kubernetes name; two steps that would share one are refused."""
    names: dict[str, str] = {}
    for node in graph:
        name = k8s_name(node.name)
        clash = [s for s, n in names.items() if n == name]
        if clash:
            raise DeployError(f"steps '{clash[0]}' and '{node.name}' of flow {graph.flow_name} "
                              f"have the same Kubernetes name {name!r}",
                              fix="rename one of them")
        names[node.name] = name
    return names


def orchestrator_timeout(policy: StepPolicy) -> float | None:
    """The orchestrator's own time limit of a step: its @timeout, the deployed task enforcing
    the same limit itself. With @catch the orchestrator waits a little longer, so that the task
    can stop the step and record the caught failure before the pod or worker is killed."""
    if policy.timeout_s is None:
        return None
    return policy.timeout_s + (CATCH_GRACE_S if policy.catch_var is not None else 0)


def check_conditional_cases(plan: DeployPlan, what: str, *, shared_cases: bool = False) -> None:
    """A case of a conditional that is also reached from another step cannot be said by an
    orchestrator that skips the cases not taken (``what`` names its mechanism).

    ``shared_cases``: the orchestrator can say it (Argo: the case's ``when`` also holds when
    another of its parents succeeded) as long as it can read each conditional's choice whenever
    the case runs, i.e. every conditional step before it has run by then (see
    :func:`choices_read_safely`)."""
    for node in plan.graph:
        if node.is_join or len(node.in_steps) < 2:
            continue
        direct = [s for s in node.in_steps if plan.graph[s].transition == SWITCH]
        if not direct:
            continue
        if shared_cases:
            unsure = [s for s in direct if not choices_read_safely(plan.graph, node.name, s)]
            if not unsure:
                continue
            raise DeployError(
                f"step '{node.name}' of flow {plan.flow_name} is both a case of the conditional "
                f"in step '{unsure[0]}' and reached from another step, and '{unsure[0]}' may "
                f"not have run when '{node.name}' does: {what} cannot read its choice then",
                fix=f"put a step of its own between '{unsure[0]}' and '{node.name}'")
        raise DeployError(
            f"step '{node.name}' of flow {plan.flow_name} is both a case of the conditional "
            f"in step '{direct[0]}' and reached from another step: {what} cannot say it",
            fix=f"put a step of its own between '{direct[0]}' and '{node.name}'")


# Choices of all conditionals tried by choices_read_safely before it gives up (and refuses).
_MAX_CHOICES = 4096


def choices_read_safely(graph: Graph, step: str, switch: str) -> bool:
    """True when conditional step ``switch`` has run in every run where ``step`` runs, tried
    over every combination of the flow's conditionals' cases (False past ``_MAX_CHOICES``)."""
    switches = [n for n in graph.topological() if graph[n].transition == SWITCH]
    combos = 1
    for name in switches:
        combos *= max(1, len(graph[name].out))
    if combos > _MAX_CHOICES:
        return False
    picks: list[dict[str, str]] = [{}]
    for name in switches:
        picks = [{**p, name: case} for p in picks for case in graph[name].out]
    for pick in picks:
        ran = _steps_run(graph, pick)
        if step in ran and switch not in ran:
            return False
    return True


def _steps_run(graph: Graph, pick: Mapping[str, str]) -> set[str]:
    """The steps a run reaches when each conditional takes the case ``pick`` names: those with
    a parent that ran and leads to them (a join too: it runs once its split did, whichever of
    a conditional's cases inside the split reach it)."""
    ran: set[str] = set()
    for name in graph.topological():
        node = graph[name]
        if node.is_start:
            ran.add(name)
            continue
        edges = [p in ran and (graph[p].transition != SWITCH or pick.get(p) == name)
                 for p in node.in_steps if p in graph]
        if any(edges):
            ran.add(name)
    return ran


def switch_steps(graph: Graph) -> list[str]:
    return [node.name for node in graph if node.transition == SWITCH]
