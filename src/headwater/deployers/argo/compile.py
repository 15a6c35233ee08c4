"""A DeployPlan -> Argo Workflows documents (plain dicts, the JSON the Kubernetes API takes).

* ``WorkflowTemplate``: a ``main`` DAG with one task per step outside any foreach; each foreach
  (or ``num_parallel``) body is a DAG template of its own, called once per item through
  ``withParam`` over the foreach step's output (the children's task ids); nested foreach nests
  those templates. A conditional's cases run under ``when`` on the switch step's ``branch``
  output; a skipped case's successors are omitted because every dependency is ``X.Succeeded``.
  A case also reached from other steps runs when chosen or when one of those succeeded.
  One container template per step: ``@retry`` -> ``retryStrategy``, ``@timeout`` ->
  ``activeDeadlineSeconds``, ``@resources`` -> requests and limits, ``@environment`` -> env.
  ``@concurrency(limit=N)`` on a step of a foreach body: the fan-out calls a ``limit-`` DAG
  template with ``parallelism: N`` that maps the body, so at most N items are in flight
  (see :func:`fanout_limits`).
* ``CronWorkflow`` for ``@schedule``; an Argo Events ``Sensor`` for ``@trigger`` and
  ``@trigger_on_finish``, submitting a Workflow from the template with the event's fields as
  parameters.

Targets Argo Workflows 3.7 (the schema the tests validate against).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from headwater.deployers.argo.literal import check_documents, plan_sources
from headwater.deployers.plan import (
    DeployError,
    DeployPlan,
    check_conditional_cases,
    check_unique_names,
    k8s_name,
    note_machine_local_stores,
    orchestrator_timeout,
)
from headwater.graph.model import FOREACH, PARALLEL, SWITCH

API_VERSION = "argoproj.io/v1alpha1"
OUTPUT_DIR = "/tmp/headwater-out"
TRIGGER_PARAM = "headwater-trigger"
DEFAULT_IMAGE = "python:3.11"
# On every document: the deployment it belongs to (``--name``, or the flow's, or @project's),
# which `create` compares with the document already of that name before replacing it.
DEPLOYMENT_ANNOTATION = "headwater.dev/deployment"
MANAGED_BY = ("app.kubernetes.io/managed-by", "headwater")
# A workflow template's name is also a label's value on each of its workflows (63 at most).
NAME_LIMIT = 63


@dataclass(frozen=True)
class ArgoOptions:
    image: str = DEFAULT_IMAGE
    namespace: str | None = None
    service_account: str | None = None
    secrets: tuple[str, ...] = ()  # Kubernetes secrets given to every container as env
    event_source: str = "headwater-events"  # the Argo Events EventSource of @trigger
    python: str = "python"  # the interpreter in the image
    events_url: str | None = None  # Argo Events webhook the end task announces the run to
    max_workers: int | None = None  # `--max-workers`: the Workflow's parallelism (pods at once)


def compile_all(plan: DeployPlan, options: ArgoOptions) -> list[dict[str, Any]]:
    """Every document of the deployment: the template, then the cron workflow and the sensor."""
    _refuse_events_credentials(plan, options.events_url)
    note_machine_local_stores(plan, "the pods")
    docs = [workflow_template(plan, options)]
    if plan.schedule:
        docs.append(cron_workflow(plan, options))
    if plan.triggers:
        docs.append(sensor(plan, options))
    elif options.event_source != ArgoOptions.event_source:
        plan.notes.append(f"Note: --event-source {options.event_source} is unused: flow "
                          f"{plan.flow_name} has no @trigger or @trigger_on_finish")
    option_sources = [("--image", options.image), ("the image's interpreter", options.python),
                      ("--events-url", options.events_url or ""),
                      ("--namespace", options.namespace or ""),
                      ("--service-account", options.service_account or ""),
                      ("--event-source", options.event_source),
                      *(("--secret", secret) for secret in options.secrets)]
    check_documents(plan, docs, [*plan_sources(plan), *option_sources])
    return docs


def _refuse_events_credentials(plan: DeployPlan, url: str | None) -> None:
    """A password in ``--events-url`` would sit in clear in the end step's environment, in the
    manifest anyone who can read workflow templates reads: refused, with where it goes instead."""
    from headwater.redaction import without_password

    if url and without_password(url) != url:
        raise DeployError(
            f"--events-url of the deployment of {plan.flow_name} holds credentials, which would "
            "be written in clear into the manifest",
            fix="pass the URL without them and give the webhook's bearer token to the end step "
                "as HEADWATER_EVENTS_TOKEN, from a Kubernetes secret (--secret NAME)")


def deployed_name(plan: DeployPlan) -> str:
    """The Kubernetes name of the deployment's documents: ``plan.name`` as a DNS label.

    A name too long for one keeps its start and ends with a hash of the whole name: cut short
    alone, two deployments whose names share their first 63 characters (two flows of one
    @project branch with a long branch name) got the same name, and the second `create`
    replaced the first one's template without a word."""
    name = re.sub(r"[^a-z0-9.-]+", "-", plan.name.lower()).strip("-.") or "x"
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(plan.name.encode()).hexdigest()[:8]
    return f"{name[:NAME_LIMIT - 9].rstrip('-.')}-{digest}"


def _metadata(plan: DeployPlan, options: ArgoOptions, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {MANAGED_BY[0]: MANAGED_BY[1],
                   "headwater.dev/flow": k8s_name(plan.flow_name)},
        "annotations": {"headwater.dev/flow-name": plan.flow_name,
                        DEPLOYMENT_ANNOTATION: plan.name,
                        "headwater.dev/deployed-by": plan.username},
    }
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


# -- the workflow template ------------------------------------------------------------------------

_ARGO_PARAMETER = re.compile(r"^[-a-zA-Z0-9_]+$")  # Argo's own rule for a parameter's name


def check_parameter_names(plan: DeployPlan) -> None:
    """Each parameter becomes an Argo workflow parameter, read in the start step's arguments as
    ``{{workflow.parameters.NAME}}``: a name Argo refuses would fail only at submit time, a
    ``}}`` in it would end that expression early (the rest read as another one, such as
    ``{{workflow.name}}``), and ``headwater-trigger`` is the deployment's own."""
    for param in plan.parameters:
        if param.name == TRIGGER_PARAM:
            raise DeployError(
                f"parameter '{param.name}' of flow {plan.flow_name} has the name of the "
                "deployment's own Argo parameter (the event that started the run)",
                fix="rename the parameter")
        if not _ARGO_PARAMETER.match(param.name):
            raise DeployError(
                f"parameter {param.name!r} of flow {plan.flow_name} cannot be an Argo "
                "parameter: Argo names hold only letters, digits, '-' and '_'",
                fix="rename the parameter, e.g. "
                f"{re.sub(r'[^-a-zA-Z0-9_]+', '_', param.name).strip('_') or 'value'!r}")


def workflow_template(plan: DeployPlan, options: ArgoOptions) -> dict[str, Any]:
    check_parameter_names(plan)
    names = check_unique_names(plan.graph)
    check_conditional_cases(plan, "Argo's `when`", shared_cases=True)
    limits = fanout_limits(plan)
    templates = [{"name": "main", "dag": {"tasks": _dag_tasks(plan, names, (), limits)}}]
    for step, scope in _bodies(plan):
        templates.append({
            "name": f"body-{names[step]}",
            "inputs": {"parameters": [{"name": "task-id"}]},
            "dag": {"tasks": _dag_tasks(plan, names, scope, limits)},
        })
        if step in limits:
            templates.append({
                "name": f"limit-{names[step]}",
                "inputs": {"parameters": [{"name": "children"}]},
                "parallelism": limits[step],
                "dag": {"tasks": [{
                    "name": "items", "template": f"body-{names[step]}",
                    "withParam": "{{inputs.parameters.children}}",
                    "arguments": {"parameters": [{"name": "task-id", "value": "{{item}}"}]},
                }]},
            })
    templates += [_container_template(plan, options, node.name, names)
                  for node in plan.graph.ordered()]
    params = [{"name": p.name, "value": p.default, **({"description": p.help} if p.help else {})}
              for p in plan.parameters]
    params.append({"name": TRIGGER_PARAM, "value": ""})
    spec: dict[str, Any] = {"entrypoint": "main", "arguments": {"parameters": params},
                            "templates": templates}
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    if options.max_workers is not None:
        spec["parallelism"] = options.max_workers
    return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate",
            "metadata": _metadata(plan, options, deployed_name(plan)), "spec": spec}


def _bodies(plan: DeployPlan) -> list[tuple[str, tuple[str, ...]]]:
    """(foreach step, the scope of its body) for every foreach, outer ones first."""
    out = []
    for node in plan.graph.ordered():
        if node.transition in (FOREACH, PARALLEL):
            out.append((node.name, (*plan.scope[node.name], node.name)))
    return out


def fanout_limits(plan: DeployPlan) -> dict[str, int]:
    """Foreach step -> how many of its items may be in flight at once, from @concurrency.

    Argo bounds what runs at once by a template's ``parallelism``; a foreach's fan-out is one
    template invocation, so a limit on a step of a (not nested) foreach body bounds the items of
    that body in flight: the step's pods at once are then at most the limit. Other steps of the
    same body wait with it (said in a note). A step outside every foreach runs one task per run
    and needs nothing. A step of a nested foreach is refused: a fan-out's ``parallelism`` holds
    per outer item, not across the run, and Argo has no per-run count of one template's pods
    without a semaphore ConfigMap shared by every run.
    """
    limits: dict[str, int] = {}
    for step, policy in plan.policies.items():
        if policy.concurrency is None or step not in plan.scope or not plan.scope[step]:
            continue
        scope = plan.scope[step]
        if len(scope) > 1:
            raise DeployError(
                f"step '{step}' of flow {plan.flow_name} has @concurrency(limit="
                f"{policy.concurrency}) inside a nested foreach ({' > '.join(scope)}): Argo "
                "can bound a fan-out per outer item only, not the step's tasks across the run",
                fix=f"move @concurrency to a step of the outer foreach '{scope[0]}', or drop "
                "it for this deployment (`airflow create` compiles it for any foreach)")
        limits[scope[0]] = min(limits.get(scope[0], policy.concurrency), policy.concurrency)
    for foreach, limit in sorted(limits.items()):
        others = sorted(s for s, sc in plan.scope.items() if sc[:1] == (foreach,)
                        and plan.policies[s].concurrency is None)
        if others:
            plan.notes.append(
                f"Note: @concurrency(limit={limit}) inside foreach '{foreach}' is Argo's "
                f"parallelism on the fan-out: at most {limit} items at once, so step(s) "
                f"{', '.join(others)} of the same body wait with it")
    return limits


def _dag_tasks(plan: DeployPlan, names: dict[str, str], scope: tuple[str, ...],
               limits: dict[str, int]) -> list[dict]:
    """The DAG tasks of one scope: its steps, plus one mapped task per foreach opened in it."""
    task_id = "1" if not scope else "{{inputs.parameters.task-id}}"
    tasks = []
    for node in plan.graph.ordered():
        if plan.scope[node.name] != scope:
            continue
        task: dict[str, Any] = {
            "name": names[node.name], "template": f"step-{names[node.name]}",
            "arguments": {"parameters": [{"name": "task-id", "value": task_id}]},
        }
        deps = [d for d in (_representative(plan, names, scope, p) for p in node.in_steps) if d]
        joiner = " && " if node.is_join or len(deps) < 2 else " || "
        if deps:
            task["depends"] = joiner.join(f"{d}.Succeeded" for d in dict.fromkeys(deps))
        switch = [p for p in node.in_steps if plan.graph[p].transition == SWITCH]
        if switch:
            task["when"] = _case_condition(plan, names, scope, node.name, switch)
        tasks.append(task)
        if node.name in limits:  # @concurrency: the body mapped under a parallelism
            tasks.append({
                "name": f"{names[node.name]}-foreach", "template": f"limit-{names[node.name]}",
                "depends": f"{names[node.name]}.Succeeded",
                "arguments": {"parameters": [{
                    "name": "children",
                    "value": f"{{{{tasks.{names[node.name]}.outputs.parameters.children}}}}"}]},
            })
        elif node.transition in (FOREACH, PARALLEL):
            tasks.append({
                "name": f"{names[node.name]}-foreach", "template": f"body-{names[node.name]}",
                "depends": f"{names[node.name]}.Succeeded",
                "withParam": f"{{{{tasks.{names[node.name]}.outputs.parameters.children}}}}",
                "arguments": {"parameters": [{"name": "task-id", "value": "{{item}}"}]},
            })
    return tasks


def _case_condition(plan: DeployPlan, names: dict[str, str], scope: tuple[str, ...],
                    step: str, switches: list[str]) -> str:
    """The ``when`` of a conditional's case: a conditional before it chose it, or (a case also
    reached from other steps) one of those other steps succeeded. Every conditional named here
    has run whenever ``step`` does (``check_conditional_cases``), so its output is there."""
    chose = [f"'{{{{tasks.{names[s]}.outputs.parameters.branch}}}}' == '{step}'"
             for s in switches]
    others = [_representative(plan, names, scope, p)
              for p in plan.graph[step].in_steps if p not in switches]
    ran = [f"'{{{{tasks.{d}.status}}}}' == 'Succeeded'" for d in dict.fromkeys(others) if d]
    if len(chose) == 1 and not ran:
        return chose[0]
    return " || ".join(f"({c})" for c in ran + chose)


def _representative(plan: DeployPlan, names: dict[str, str], scope: tuple[str, ...],
                    step: str) -> str | None:
    """The task of ``scope``'s DAG that stands for ``step`` (itself, or the foreach holding it);
    None for a step of an enclosing DAG (the foreach step that maps this one)."""
    inner = plan.scope[step]
    if inner == scope:
        return names[step]
    if scope[: len(inner)] == inner:
        return None
    if inner[: len(scope)] != scope or len(inner) <= len(scope):
        raise DeployError(f"step '{step}' of flow {plan.flow_name} cannot be placed in the DAG")
    return f"{names[inner[len(scope)]]}-foreach"


def _container_template(plan: DeployPlan, options: ArgoOptions, step: str,
                        names: dict[str, str]) -> dict[str, Any]:
    policy = plan.policies[step]
    first = plan.graph[step].is_start
    params = {p.name: f"{{{{workflow.parameters.{p.name}}}}}" for p in plan.parameters}
    args = plan.task_args(
        step, "{{inputs.parameters.task-id}}", "{{workflow.name}}", "argo-workflows",
        params=params if first else None,
        trigger=f"{{{{workflow.parameters.{TRIGGER_PARAM}}}}}" if first else "",
        output_dir=OUTPUT_DIR)
    env = [{"name": "HEADWATER_USER", "value": plan.username}]
    env += [{"name": k, "value": str(v)} for k, v in sorted(policy.env.items())]
    if options.events_url and plan.graph[step].is_end:
        env.append({"name": "HEADWATER_EVENTS_URL", "value": options.events_url})
    image = policy.kubernetes.get("image") or options.image
    container: dict[str, Any] = {"image": image, "command": [options.python],
                                 "args": args, "env": env}
    if options.secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in options.secrets]
    resources = _resources(_requested(plan, step))
    if resources:
        container["resources"] = resources
    template: dict[str, Any] = {
        "name": f"step-{names[step]}",
        "inputs": {"parameters": [{"name": "task-id"}]},
        "outputs": {"parameters": [
            {"name": "children", "valueFrom": {"path": f"{OUTPUT_DIR}/children.json",
                                               "default": "[]"}},
            {"name": "branch", "valueFrom": {"path": f"{OUTPUT_DIR}/branch", "default": ""}},
        ]},
        "container": container,
    }
    if policy.attempts > 1:
        retry: dict[str, Any] = {"limit": policy.attempts - 1, "retryPolicy": "Always"}
        if policy.retry_delay_s:
            retry["backoff"] = {"duration": f"{int(policy.retry_delay_s)}s"}
        template["retryStrategy"] = retry
    if policy.timeout_s is not None:
        template["activeDeadlineSeconds"] = max(1, int(orchestrator_timeout(policy)))
    return template


_SIZES = ("cpu", "memory", "disk", "gpu")


def _requested(plan: DeployPlan, step: str) -> dict[str, Any]:
    """The step's @resources, raised to what its @kubernetes asks where that is more (as
    Metaflow takes the larger of the two for each of cpu, memory, disk and gpu)."""
    policy = plan.policies[step]
    requested = dict(policy.resources)
    for key in _SIZES:
        theirs = policy.kubernetes.get(key)
        if theirs is None:
            continue
        try:
            asked = float(theirs)
            larger = requested.get(key) is None or asked > float(requested[key])
        except (TypeError, ValueError):
            raise DeployError(
                f"@kubernetes({key}={theirs!r}) of step '{step}' of flow {plan.flow_name} "
                "is not a number", fix=f"give {key} as a number (memory and disk in MB)"
            ) from None
        if larger:
            requested[key] = theirs
    return requested


def _resources(requested: dict[str, Any]) -> dict[str, Any]:
    """@resources(cpu, memory MB, gpu) as Kubernetes requests (and limits for memory, GPUs)."""
    if not requested:
        return {}
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if requested.get("cpu"):
        requests["cpu"] = str(requested["cpu"])
    if requested.get("memory"):
        requests["memory"] = limits["memory"] = f"{int(float(requested['memory']))}Mi"
    if requested.get("gpu") and float(requested["gpu"]) > 0:
        limits["nvidia.com/gpu"] = str(int(float(requested["gpu"])))
    if requested.get("disk"):
        requests["ephemeral-storage"] = f"{int(float(requested['disk']))}Mi"
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


# -- schedule and triggers ------------------------------------------------------------------------

CRON_NAME_LIMIT = 52  # Argo's own limit for a CronWorkflow's name (its runs add a suffix)


def cron_workflow(plan: DeployPlan, options: ArgoOptions) -> dict[str, Any]:
    assert plan.schedule is not None
    name = deployed_name(plan)
    if len(name) > CRON_NAME_LIMIT:
        # Kubernetes stores it, and Argo then starts none of its runs: refused now instead.
        raise DeployError(
            f"the scheduled deployment of flow {plan.flow_name} would be named {name!r} "
            f"({len(name)} characters), and Argo schedules no CronWorkflow named with more "
            f"than {CRON_NAME_LIMIT}",
            fix=f"deploy it under a shorter name: --name (at most {CRON_NAME_LIMIT} characters "
            "as a Kubernetes name)")
    spec: dict[str, Any] = {
        "schedules": [plan.schedule["cron"]],
        "concurrencyPolicy": "Allow",
        "workflowSpec": {"workflowTemplateRef": {"name": deployed_name(plan)}},
    }
    if plan.schedule.get("timezone"):
        spec["timezone"] = plan.schedule["timezone"]
    return {"apiVersion": API_VERSION, "kind": "CronWorkflow",
            "metadata": _metadata(plan, options, deployed_name(plan)), "spec": spec}


def sensor(plan: DeployPlan, options: ArgoOptions) -> dict[str, Any]:
    """One dependency per event; any of them submits a run (Metaflow's @trigger: all of them)."""
    dependencies = []
    parameters = []
    names = [p.name for p in plan.parameters]
    for index, trig in enumerate(plan.triggers):
        dep = f"event-{index}"
        dependencies.append({
            "name": dep, "eventSourceName": options.event_source, "eventName": trig["event"]})
        for param, field_name in trig["parameters"].items():
            if param not in names:
                raise DeployError(f"@trigger of flow {plan.flow_name} maps event field "
                                  f"{field_name!r} to {param!r}, which is not a parameter",
                                  fix=f"the parameters are: {', '.join(names) or 'none'}")
            parameters.append({
                "src": {"dependencyName": dep, "dataKey": f"body.payload.{field_name}",
                        "value": plan.parameters[names.index(param)].default},
                "dest": f"spec.arguments.parameters.{names.index(param)}.value"})
        parameters.append({"src": {"dependencyName": dep, "dataKey": "body"},
                           "dest": f"spec.arguments.parameters.{len(names)}.value"})
    workflow = {
        "apiVersion": API_VERSION, "kind": "Workflow",
        "metadata": {"generateName": f"{deployed_name(plan)}-"},
        "spec": {"workflowTemplateRef": {"name": deployed_name(plan)},
                 "arguments": {"parameters": [
                     *({"name": p.name, "value": p.default} for p in plan.parameters),
                     {"name": TRIGGER_PARAM, "value": ""}]}},
    }
    trigger = {"template": {"name": "submit", "argoWorkflow": {
        "operation": "submit", "source": {"resource": workflow}, "parameters": parameters}}}
    if len(dependencies) > 1:
        trigger["template"]["conditions"] = " || ".join(d["name"] for d in dependencies)
    spec: dict[str, Any] = {"dependencies": dependencies, "triggers": [trigger]}
    if options.service_account:
        spec["template"] = {"serviceAccountName": options.service_account}
    return {"apiVersion": API_VERSION, "kind": "Sensor",
            "metadata": _metadata(plan, options, deployed_name(plan)), "spec": spec}


def to_json(docs: list[dict[str, Any]]) -> str:
    return json.dumps(docs if len(docs) > 1 else docs[0], indent=2)
