"""A DeployPlan -> the text of an Airflow DAG file (Airflow 2.x TaskFlow API).

One Airflow task per step, dependencies from the graph. A foreach body is a task group mapped
over the foreach step's children (dynamic task mapping); Airflow cannot map inside a mapped
group, so nested foreach is refused (see docs/production.md). A conditional is a branch task
(``@task.branch``) after its step, reading the case the step took; the cases not taken are
skipped, and the step they meet again at runs when any case succeeded. The schedule is @schedule's cron line.

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


def _ident(step: str) -> str:
    return "step_" + re.sub(r"\W", "_", step)


def dag_id(plan: DeployPlan) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", plan.name)


def _check_shape(plan: DeployPlan) -> None:
    check_conditional_cases(plan, "Airflow's branching")
    for node in plan.graph:
        if len(plan.scope[node.name]) > 1:
            raise DeployError(
                f"step '{node.name}' of flow {plan.flow_name} is in a nested foreach: Airflow 2 "
                "cannot map a task group inside a mapped task group",
                fix="deploy this flow with argo-workflows, or flatten the foreach")
        if node.transition == SWITCH and plan.scope[node.name]:
            raise DeployError(
                f"step '{node.name}' of flow {plan.flow_name} is a conditional inside a foreach: "
                "the Airflow deployer branches only outside mapped task groups",
                fix="deploy this flow with argo-workflows, or move the conditional out of the "
                "foreach")


def dag_file(plan: DeployPlan, options: AirflowOptions) -> str:
    _check_shape(plan)
    args = {}
    for node in plan.graph:
        params = {p.name: f"__PARAM_{p.name}__" for p in plan.parameters}
        args[node.name] = plan.task_args(
            node.name, TASK_ID, RUN_KEY, "airflow",
            params=params if node.name == "start" else None,
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
        f"POLICY = {_policies(plan)!r}  # @retry, @timeout",
        "",
        "",
        "def _argv(step, task_id, context):",
        "    argv = []",
        "    for arg in ARGS[step]:",
        "        arg = arg.replace('__RUN_KEY__', context['run_id']).replace('__TASK_ID__', task_id)",
        "        for name in PARAMS:",
        "            if arg == f'__PARAM_{name}__':",
        "                value = context['params'].get(name)",
        "                arg = '' if value is None else str(value)",
        "        argv.append(arg)",
        "    return argv",
        "",
        "",
        "def _policy(step):",
        "    policy = POLICY[step]",
        "    out = {'retries': policy['retries'],",
        "           'retry_delay': timedelta(seconds=policy['retry_delay_s'])}",
        "    if policy['timeout_s']:",
        "        out['execution_timeout'] = timedelta(seconds=policy['timeout_s'])",
        "    return out",
        "",
    ]
    lines += _runner(options)
    lines += [
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
    lines += [
        "",
        f"with DAG(dag_id={dag_id(plan)!r}, schedule={schedule}, start_date=datetime(2024, 1, 1),",
        f"         catchup=False, params={defaults!r}, tags=['headwater'],",
        "         max_active_runs=16) as dag:",
    ]
    lines += _steps(plan, options)
    return "\n".join(lines) + "\n"


def _policies(plan: DeployPlan) -> dict[str, dict[str, float | int | None]]:
    return {name: {"retries": p.attempts - 1, "retry_delay_s": p.retry_delay_s,
                   "timeout_s": orchestrator_timeout(p)} for name, p in plan.policies.items()}


def _runner(options: AirflowOptions) -> list[str]:
    if options.operator == "local":
        return [
            "def _run(step, task_id, context):",
            "    out = tempfile.mkdtemp(prefix='headwater-airflow-')",
            "    argv = [a.replace('__OUT__', out) for a in _argv(step, task_id, context)]",
            "    done = subprocess.run([PYTHON, *argv], env={**os.environ, **ENV})",
            "    if done.returncode != 0:",
            "        raise AirflowException(f'headwater task {step} {task_id} failed')",
            "    with open(os.path.join(out, 'return.json')) as handle:",
            "        return json.load(handle)",
            "",
            "",
            "def _make(step, **extra):",
            "    @task(task_id=step, multiple_outputs=True, **_policy(step), **extra)",
            "    def run(task_id='1', **context):",
            "        return _run(step, task_id, context)",
            "    return run",
        ]
    namespace = repr(options.namespace or "default")
    return [
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
        "",
        "",
        "def _make(step, **extra):",
        "    @task_group(group_id=f'{step}-pod')",
        "    def run(task_id='1'):",
        "        @task(task_id='args', **extra)",
        "        def args(task_id, **context):",
        "            return _argv(step, task_id, context)",
        "        pod = KubernetesPodOperator(**_policy(step),",
        f"            task_id=step, name=step.replace('_', '-'), namespace={namespace},",
        f"            image={options.image!r}, cmds=['python'], arguments=args(task_id),",
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
    """Task instances in graph order; a foreach body inside a mapped task group; a branch task
    after each conditional, whose merge step runs when any case succeeded."""
    out: list[str] = []
    ordered = plan.graph.ordered()
    for node in ordered:
        merge = not node.is_join and len(node.in_steps) > 1
        extra = ", trigger_rule='none_failed_min_one_success'" if merge else ""
        out.append(f"    {_ident(node.name)}_fn = _make({node.name!r}{extra})")
    body_of = {node.name: node for node in ordered if node.transition in (FOREACH, PARALLEL)}
    for name in body_of:
        members = [n for n in ordered if plan.scope[n.name] == (name,)]
        out.append("")
        out.append(f"    @task_group(group_id={name + '_foreach'!r})")
        out.append("    def body_" + re.sub(r"\W", "_", name) + "(item):")
        for member in members:
            out.append(f"        {_ident(member.name)} = {_ident(member.name)}_fn(item)")
        for member in members:
            for parent in member.in_steps:
                if parent in {m.name for m in members}:
                    out.append(f"        {_ident(parent)} >> {_ident(member.name)}")
        last = [m for m in members if not set(m.out) & {x.name for x in members}]
        out.append(f"        return {_ident(last[0].name) if last else 'None'}")
    out.append("")
    for node in ordered:
        if plan.scope[node.name]:
            continue
        out.append(f"    {_ident(node.name)} = {_ident(node.name)}_fn()")
        if node.name in body_of:
            ident = re.sub(r"\W", "_", node.name)
            out.append(f"    {_ident(node.name)}_body = body_{ident}.expand("
                       f"item={_ident(node.name)}['children'])")
        if node.transition == SWITCH:
            cases = {case: _first_task_id(case, options) for case in node.out}
            out.append(f"    {_ident(node.name)}_branch = _branch({node.name!r}, {cases!r})("
                       f"{_ident(node.name)}['branch'])")
    for node in ordered:
        if plan.scope[node.name]:
            continue
        for parent in node.in_steps:
            if plan.scope[parent]:
                source = f"{_ident(plan.scope[parent][0])}_body"
            elif plan.graph[parent].transition == SWITCH:
                source = f"{_ident(parent)}_branch"
            else:
                source = _ident(parent)
            out.append(f"    {source} >> {_ident(node.name)}")
    return out
