"""A DeployPlan -> the text of an Airflow DAG file (Airflow 2.x TaskFlow API).

One Airflow task per step, dependencies from the graph. Each step of a foreach body is a task
mapped over the foreach step's children (dynamic task mapping), nested foreach included (see
:func:`_steps`). A conditional is a branch task (``@task.branch``) after its step, reading the
case the step took; the cases not taken are skipped, and the step they meet again at runs when
any case succeeded. The schedule is @schedule's cron line.

``--operator local`` runs each task on the Airflow worker with the interpreter that has headwater
(recorded at ``create``), so Airflow's environment needs no headwater; ``--operator kubernetes``
runs it in a pod (KubernetesPodOperator) whose result comes back as the pod's XCom file.
The file is generated: it embeds the deployment's arguments as JSON and holds no logic beyond
wiring and running the task command.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field

from headwater.deployers.plan import (
    DeployError,
    DeployPlan,
    check_conditional_cases,
    note_machine_local_stores,
    orchestrator_timeout,
)
from headwater.graph.model import FOREACH, PARALLEL, SWITCH

RUN_KEY = "__RUN_KEY__"
TASK_ID = "__TASK_ID__"
XCOM_DIR = "/airflow/xcom"


@dataclass(frozen=True)
class AirflowOptions:
    operator: str = "kubernetes"  # or "local"
    image: str = "python:3.11"
    namespace: str | None = None
    python: str = field(default_factory=lambda: sys.executable)
    max_workers: int | None = None  # `--max-workers`: the DAG's max_active_tasks per run


def refuse_other_operators_options(flow_name: str, operator: str, *, image: str | None,
                                   namespace: str | None, python: str | None) -> None:
    """``--image`` and ``--namespace`` are the pods' (``--operator kubernetes``), ``--python`` the
    worker's interpreter (``--operator local``): given to the other operator, one would be
    dropped from the DAG without a word. Refused, naming it."""
    wrong = ([("--image", image), ("--namespace", namespace)] if operator == "local"
             else [("--python", python)])
    for flag, value in wrong:
        if value is not None:
            other = "kubernetes" if operator == "local" else "local"
            raise DeployError(
                f"{flag} of the Airflow deployment of flow {flow_name} applies to "
                f"--operator {other}, and this DAG uses --operator {operator}",
                fix=f"drop {flag}, or deploy with --operator {other}")


def _ident(step: str) -> str:
    return "step_" + re.sub(r"\W", "_", step)


DAG_ID_LIMIT = 250  # Airflow's own limit for a dag_id (its ID_LEN)


def dag_id(plan: DeployPlan) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", plan.name)


def _check_dag_id(plan: DeployPlan) -> None:
    """Airflow's parser refuses a DAG whose dag_id is over 250 characters; the file was written
    and the DAG then never appeared, the reason only in Airflow's import errors. Refused now."""
    name = dag_id(plan)
    if len(name) > DAG_ID_LIMIT:
        raise DeployError(
            f"the Airflow DAG of flow {plan.flow_name} would have the dag_id {name[:60]!r}... "
            f"({len(name)} characters), and Airflow loads no DAG whose dag_id is longer than "
            f"{DAG_ID_LIMIT}",
            fix=f"deploy it under a shorter name: --name (at most {DAG_ID_LIMIT} characters; "
            "without --name the DAG is named after the flow, or its @project and branch)")


def _check_shape(plan: DeployPlan) -> None:
    check_conditional_cases(plan, "Airflow's branching")
    for node in plan.graph:
        if node.transition == SWITCH and plan.scope[node.name]:
            raise DeployError(
                f"step '{node.name}' of flow {plan.flow_name} is a conditional inside a foreach: "
                "the Airflow deployer branches only outside mapped task groups",
                fix="deploy this flow with argo-workflows, or move the conditional out of the "
                "foreach")


_JINJA = ("{{", "{%", "{#")


def _check_templated_fields(plan: DeployPlan, options: AirflowOptions) -> None:
    """KubernetesPodOperator renders its ``image``, ``namespace`` and ``env_vars`` as Jinja
    templates, with Airflow's variables and connections (``{{ conn.db.password }}``) in reach:
    text of ours that lands there must hold no Jinja. (The task's arguments come from a task's
    result, which Airflow passes on unrendered; the local operator renders nothing of ours.)"""
    if options.operator != "kubernetes":
        return
    for what, text in (("--image", options.image), ("--namespace", options.namespace or ""),
                       ("the user name (HEADWATER_USER)", plan.username)):
        marker = next((m for m in _JINJA if m in text), None)
        if marker:
            raise DeployError(
                f"{what} of the Airflow deployment of flow {plan.flow_name} holds {marker!r} "
                f"({text!r}): the KubernetesPodOperator would render it as a Jinja template",
                fix=f"leave {marker!r} out of it, or deploy with --operator local")


def dag_file(plan: DeployPlan, options: AirflowOptions) -> str:
    _check_dag_id(plan)
    _check_shape(plan)
    _check_templated_fields(plan, options)
    if options.operator == "kubernetes":  # the local operator's tasks run beside Airflow
        note_machine_local_stores(plan, "the pods of KubernetesPodOperator")
    args = {}
    for node in plan.graph:
        params = {p.name: f"__PARAM_{p.name}__" for p in plan.parameters}
        args[node.name] = plan.task_args(
            node.name, TASK_ID, RUN_KEY, "airflow",
            params=params if node.is_start else None,
            output_dir=XCOM_DIR if options.operator == "kubernetes" else "__OUT__")
    lines = [
        f'"""Airflow DAG of the headwater flow {plan.flow_name}: written by '
        f'`python flow.py airflow create`; re-create it rather than edit it."""',
        "import json",
        "import os",
        "import subprocess",
        "import tempfile",
        "from datetime import datetime, timedelta",
        "",
        "from airflow import DAG",
        "from airflow.decorators import task, task_group",
        "from airflow.exceptions import AirflowException",
        "",
        f"ARGS = json.loads({json.dumps(json.dumps(args))})",
        f"PARAMS = {json.dumps([p.name for p in plan.parameters])}",
        f"PYTHON = {options.python!r}",
        f"ENV = {json.dumps({'HEADWATER_USER': plan.username})}",
        f"POLICY = {_policies(plan)!r}  # @retry, @timeout, @concurrency",
        "",
        "",
        "def _argv(step, task_id, context, out=None):",
        "    # Only a whole argument that is a placeholder is replaced: a tag, a parameter's value",
        "    # or a path holding the same letters reaches the task as written.",
        "    given = {'__RUN_KEY__': context['run_id'], '__TASK_ID__': task_id}",
        "    if out is not None:",
        "        given['__OUT__'] = out",
        "    for name in PARAMS:",
        "        value = context['params'].get(name)",
        "        given[f'__PARAM_{name}__'] = '' if value is None else str(value)",
        "    return [given.get(arg, arg) for arg in ARGS[step]]",
        "",
        "",
        "def _policy(step):",
        "    policy = POLICY[step]",
        "    out = {'retries': policy['retries'],",
        "           'retry_delay': timedelta(seconds=policy['retry_delay_s'])}",
        "    if policy['timeout_s']:",
        "        out['execution_timeout'] = timedelta(seconds=policy['timeout_s'])",
        "    if policy.get('concurrency'):  # @concurrency: the step's tasks at once, per run",
        "        out['max_active_tis_per_dagrun'] = policy['concurrency']",
        "    return out",
        "",
    ]
    lines += _runner(options)
    lines += [
        "",
        "",
        "def _children(step):",
        "    # The task ids a foreach step made: of its one task, or of each of its mapped tasks.",
        "    @task(task_id=f'{step}__children')",
        "    def children(outputs):",
        "        if isinstance(outputs, dict):",
        "            return outputs['children']",
        "        return [child for output in outputs for child in output['children']]",
        "    return children",
        "",
        "",
        "def _branch(step, cases):",
        "    # A conditional: run the case the step took (its 'branch' output), skip the others.",
        "    @task.branch(task_id=f'{step}__branch')",
        "    def choose(branch):",
        "        return cases[branch]",
        "    return choose",
    ]
    schedule = repr(plan.schedule["cron"]) if plan.schedule else "None"
    defaults = {p.name: p.default for p in plan.parameters}
    # Airflow reads a cron line in the time zone of the DAG's start date: @schedule's timezone.
    zone = plan.schedule.get("timezone") if plan.schedule else None
    start = (f"pendulum.datetime(2024, 1, 1, tz={zone!r})" if zone
             else "datetime(2024, 1, 1)")
    lines += [
        *(["import pendulum  # Airflow's own time zone library"] if zone else []),
        "",
        f"with DAG(dag_id={dag_id(plan)!r}, schedule={schedule}, start_date={start},",
        f"         catchup=False, params={defaults!r}, tags=['headwater'],",
        "         max_active_runs=16"
        + (f", max_active_tasks={options.max_workers}" if options.max_workers else "")
        + ") as dag:",
    ]
    lines += _steps(plan, options)
    return "\n".join(lines) + "\n"


def _policies(plan: DeployPlan) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for name, p in plan.policies.items():
        out[name] = {"retries": p.attempts - 1, "retry_delay_s": p.retry_delay_s,
                     "timeout_s": orchestrator_timeout(p)}
        if p.concurrency is not None:  # @concurrency: only then, other DAG files stay as were
            out[name]["concurrency"] = p.concurrency
    return out


def _runner(options: AirflowOptions) -> list[str]:
    if options.operator == "local":
        return [
            "def _run(step, task_id, context):",
            "    with tempfile.TemporaryDirectory(prefix='headwater-airflow-') as out:",
            "        argv = _argv(step, task_id, context, out)",
            "        done = subprocess.run([PYTHON, *argv], env={**os.environ, **ENV})",
            "        if done.returncode != 0:",
            "            raise AirflowException(f'headwater task {step} {task_id} failed')",
            "        with open(os.path.join(out, 'return.json')) as handle:",
            "            return json.load(handle)",
            "",
            "",
            "def _make(step, **extra):",
            "    @task(task_id=step, multiple_outputs=True, **_policy(step), **extra)",
            "    def run(path='1', **context):",
            "        return _run(step, path, context)",
            "    return run",
        ]
    namespace = repr(options.namespace or "default")
    return [
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
        "",
        "",
        "def _make(step, **extra):",
        "    @task_group(group_id=f'{step}-pod')",
        "    def run(path='1'):",
        "        @task(task_id='args', **extra)",
        "        def args(path, **context):",
        "            return _argv(step, path, context)",
        "        pod = KubernetesPodOperator(**_policy(step),",
        f"            task_id=step, name=step.replace('_', '-'), namespace={namespace},",
        f"            image={options.image!r}, cmds=['python'], arguments=args(path),",
        "            env_vars=ENV, do_xcom_push=True, get_logs=True)",
        "        @task(task_id='result', multiple_outputs=True)",
        "        def result(value):",
        "            return value",
        "        return result(pod.output)",
        "    return run",
    ]


def _first_task_id(step: str, options: AirflowOptions) -> str:
    """The Airflow task id a branch names to run ``step`` (its pod group's first task)."""
    return step if options.operator == "local" else f"{step}-pod.args"


def _steps(plan: DeployPlan, options: AirflowOptions) -> list[str]:
    """One task per step, in graph order; the steps of a foreach body mapped over the children
    of their foreach step; a branch task after each conditional, whose merge step runs when any
    case succeeded.

    A body step is a mapped task of its own (not a mapped task group): Airflow 2 cannot expand a
    group inside a mapped group, while a mapped task can map over the children of *every* task
    of a mapped foreach step (flattened by a small task), so nested foreach work the same way as
    the outer ones. The deployed task ids (``1-2-0``) say which item each task is; the cost is
    that a body step waits for all the items of the step before it, as in Metaflow's Airflow.
    """
    out: list[str] = []
    ordered = plan.graph.ordered()
    for node in ordered:
        merge = not node.is_join and len(node.in_steps) > 1
        extra = ", trigger_rule='none_failed_min_one_success'" if merge else ""
        out.append(f"    {_ident(node.name)}_fn = _make({node.name!r}{extra})")
    out += ["", "    refs = {}"]
    for node in ordered:
        scope = plan.scope[node.name]
        if scope:
            items = f"refs[{scope[-1] + '__children'!r}]"
            out.append(f"    refs[{node.name!r}] = {_ident(node.name)}_fn.expand(path={items})")
        else:
            out.append(f"    refs[{node.name!r}] = {_ident(node.name)}_fn()")
        if node.transition in (FOREACH, PARALLEL):
            out.append(f"    refs[{node.name + '__children'!r}] = _children({node.name!r})("
                       f"refs[{node.name!r}])")
        if node.transition == SWITCH:
            cases = {case: _first_task_id(case, options) for case in node.out}
            out.append(f"    refs[{node.name + '__branch'!r}] = _branch({node.name!r}, "
                       f"{cases!r})(refs[{node.name!r}]['branch'])")
    for node in ordered:
        for parent in node.in_steps:
            switch = plan.graph[parent].transition == SWITCH
            source = f"{parent}__branch" if switch else parent
            out.append(f"    refs[{source!r}] >> refs[{node.name!r}]")
    return out
