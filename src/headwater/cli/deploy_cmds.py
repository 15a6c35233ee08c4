"""``python flow.py argo-workflows ...`` and ``python flow.py airflow ...``: parse, delegate."""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import handle_errors


def _plan(ctx: click.Context, orchestrator: str, tags: tuple[str, ...] = (),
          name: str | None = None, with_specs: tuple[str, ...] = (),
          store_code: bool = True):  # noqa: ANN202 - a DeployPlan, imported lazily
    from headwater.deployers.plan import build_plan, refuse_run_only_options
    from headwater.runtime.launcher import shipped_extensions

    root = ctx.find_root().obj
    choice = root["branch"]
    refuse_run_only_options(flow_class_of(ctx).__name__, orchestrator,
                            root.get("typed_run_options", ()))
    plan = build_plan(flow_class_of(ctx), settings_of(ctx), orchestrator=orchestrator,
                      branch=choice.branch, production=choice.production, tags=tags, name=name,
                      with_specs=(*root.get("with", ()), *with_specs),
                      environment=root.get("environment") or "local", store_code=store_code,
                      configs=root.get("configs"),
                      extra_files=shipped_extensions() if store_code else ())
    return plan


def _notes(plan) -> None:  # noqa: ANN001 - a DeployPlan, imported lazily
    for line in plan.notes:
        click.echo(line, err=True)


def _say(ctx: click.Context, line: str) -> None:
    """The closing line of ``create``; ``--quiet`` leaves it out (errors and notes still show)."""
    if not ctx.find_root().obj.get("quiet"):
        click.echo(line)


_MAX_WORKERS = click.option("--max-workers", type=click.IntRange(min=1), default=None,
                            help="Tasks of a deployed run running at once (Argo: the Workflow's "
                            "parallelism; Airflow: the DAG's max_active_tasks). Default: the "
                            "orchestrator's.")
_WITH = click.option("--with", "with_specs", multiple=True, metavar="DECORATOR",
                     help="Add a decorator to every step of the deployed flow, as `run --with` "
                     "does (e.g. retry, catch, 'retry:times=3'); repeatable.")


@click.group("argo-workflows", help="Deploy the flow to Argo Workflows (Kubernetes).")
def argo_workflows() -> None:
    pass


@argo_workflows.command(help="Compile the flow to a WorkflowTemplate (plus a CronWorkflow for "
                        "@schedule, a Sensor for @trigger) and apply it, or print it.")
@click.option("--only-json", is_flag=True, help="Print the manifests; touch no cluster.")
@click.option("--image", default=None, help="Container image with headwater and the flow's "
              "libraries (the flow's code comes from the datastore).")
@click.option("--namespace", "k8s_namespace", default=None, help="Kubernetes namespace.")
@click.option("--service-account", default=None, help="Kubernetes service account of the pods.")
@click.option("--secret", "secrets", multiple=True,
              help="A Kubernetes secret given to every task as environment (repeatable).")
@click.option("--event-source", default="headwater-events", show_default=True,
              help="The Argo Events EventSource that @trigger events arrive through.")
@click.option("--events-url", default=None, metavar="URL",
              help="Argo Events webhook the end task posts headwater.<Flow>.end to "
              "(headwater.<project>.<branch>.<Flow>.end under @project), so that "
              "@trigger_on_finish flows downstream start.")
@click.option("--tag", "tags", multiple=True, help="Tag every run of the deployment.")
@click.option("--name", default=None, help="Deployed name (default: the flow's, or @project's).")
@_WITH
@_MAX_WORKERS
@click.option("--deployer-attribute-file", default=None, hidden=True,
              help="Write what was deployed here, as JSON (for the Deployer API).")
@click.pass_context
@handle_errors
def create(ctx: click.Context, only_json: bool, image: str | None, k8s_namespace: str | None,
           service_account: str | None, secrets: tuple[str, ...], event_source: str,
           events_url: str | None, tags: tuple[str, ...], name: str | None,
           with_specs: tuple[str, ...], max_workers: int | None,
           deployer_attribute_file: str | None) -> None:
    from headwater.deployers.argo.compile import ArgoOptions, compile_all, to_json

    plan = _plan(ctx, "argo-workflows", tags, name, with_specs)
    options = ArgoOptions(namespace=k8s_namespace, service_account=service_account,
                          secrets=secrets, event_source=event_source, events_url=events_url,
                          max_workers=max_workers, **({"image": image} if image else {}))
    docs = compile_all(plan, options)
    _notes(plan)
    _attributes(deployer_attribute_file, plan, "argo-workflows", manifests=docs,
                deployed_name=docs[0]["metadata"]["name"], namespace=k8s_namespace)
    if only_json:
        click.echo(to_json(docs))
        return
    from headwater.deployers.argo.cluster import apply

    for line in apply(docs, k8s_namespace):
        _say(ctx, f"Deployed {line}")


def _template_name(ctx: click.Context, name: str | None) -> str:
    from headwater.deployers.argo.compile import deployed_name

    if name is not None:
        return name
    plan = _plan(ctx, "argo-workflows", store_code=False)
    _notes(plan)
    return deployed_name(plan)


@argo_workflows.command(help="Start a run of the deployed flow now.")
@click.option("--param", "params", nargs=2, multiple=True, metavar="NAME VALUE")
@click.option("--namespace", "k8s_namespace", default=None)
@click.option("--name", default=None, help="The deployed name.")
@click.pass_context
@handle_errors
def trigger(ctx: click.Context, params: tuple[tuple[str, str], ...], k8s_namespace: str | None,
            name: str | None) -> None:
    from headwater.deployers.argo.cluster import submit

    run_key = submit(_template_name(ctx, name), dict(params), k8s_namespace)
    click.echo(f"Workflow {run_key} submitted.")


@argo_workflows.command("list-runs", help="List the runs of the deployed flow.")
@click.option("--namespace", "k8s_namespace", default=None)
@click.option("--name", default=None, help="The deployed name.")
@click.pass_context
@handle_errors
def list_runs(ctx: click.Context, k8s_namespace: str | None, name: str | None) -> None:
    from headwater.deployers.argo.cluster import list_runs as runs

    for run_key, phase in runs(_template_name(ctx, name), k8s_namespace):
        click.echo(f"{run_key}  {phase}")


@argo_workflows.command(help="Delete the deployed flow (template, schedule and sensor).")
@click.option("--namespace", "k8s_namespace", default=None)
@click.option("--name", default=None, help="The deployed name.")
@click.pass_context
@handle_errors
def delete(ctx: click.Context, k8s_namespace: str | None, name: str | None) -> None:
    from headwater.deployers.argo.cluster import delete as remove

    for line in remove(_template_name(ctx, name), k8s_namespace) or ["nothing was deployed"]:
        click.echo(f"Deleted {line}")


@click.group(help="Deploy the flow to Apache Airflow.")
def airflow() -> None:
    pass


@airflow.command("create", help="Write an Airflow DAG file for the flow to OUT (a .py file).")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--operator", type=click.Choice(["kubernetes", "local"]), default="kubernetes",
              show_default=True, help="KubernetesPodOperator per task, or run each task on the "
              "Airflow worker with this machine's Python (which has headwater).")
@click.option("--image", default=None, help="Container image (--operator kubernetes).")
@click.option("--namespace", "k8s_namespace", default=None, help="Kubernetes namespace of pods.")
@click.option("--python", "python", default=None,
              help="Interpreter of --operator local (default: the one running this command).")
@click.option("--tag", "tags", multiple=True, help="Tag every run of the deployment.")
@click.option("--name", default=None, help="The DAG id (default: the flow's, or @project's).")
@_WITH
@_MAX_WORKERS
@click.option("--deployer-attribute-file", default=None, hidden=True,
              help="Write what was deployed here, as JSON (for the Deployer API).")
@click.pass_context
@handle_errors
def airflow_create(ctx: click.Context, out: str, operator: str, image: str | None,
                   k8s_namespace: str | None, python: str | None, tags: tuple[str, ...],
                   name: str | None, with_specs: tuple[str, ...], max_workers: int | None,
                   deployer_attribute_file: str | None) -> None:
    import os

    from headwater.deployers.airflow.compile import (
        AirflowOptions,
        dag_file,
        dag_id,
        refuse_other_operators_options,
    )

    refuse_other_operators_options(flow_class_of(ctx).__name__, operator, image=image,
                                   namespace=k8s_namespace, python=python)
    plan = _plan(ctx, "airflow", tags, name, with_specs)
    options = AirflowOptions(operator=operator, namespace=k8s_namespace, max_workers=max_workers,
                             **({"image": image} if image else {}),
                             **({"python": python} if python else {}))
    text = dag_file(plan, options)
    _notes(plan)
    _write_dag(out, text)
    _attributes(deployer_attribute_file, plan, "airflow", deployed_name=dag_id(plan),
                dag_file=os.path.abspath(out))
    _say(ctx, f"Wrote the Airflow DAG {dag_id(plan)!r} to {out}.")


def _write_dag(out: str, text: str) -> None:
    """The DAG file, renamed into place (never written through another user's link; Airflow's
    scheduler never reads half of it), readable as ``open`` would have made it."""
    import os

    from headwater.exceptions import HeadwaterException
    from headwater.outfiles import replace_file

    folder = os.path.dirname(out)
    try:
        if folder and not os.path.isdir(folder):
            # `airflow create dags/flow.py` (the README's line) in a fresh folder: make `dags`,
            # as `mkdir -p` would, rather than fail on a folder the command could make.
            os.makedirs(folder, exist_ok=True)
            click.echo(f"Created the folder {folder}.", err=True)
        replace_file(out, text.encode("utf-8"), private=False)
    except OSError as exc:
        raise HeadwaterException(f"cannot write the Airflow DAG file {out}: "
                                 f"{exc.strerror or exc}",
                                 fix="give `airflow create` a path in a folder you can write "
                                 "(Airflow's dags folder)") from None


def _attributes(path: str | None, plan, orchestrator: str, **extra: object) -> None:  # noqa: ANN001
    """What the Deployer API reads back from ``create`` (the flow's and the deployed names)."""
    if not path:
        return
    import json

    from headwater.exceptions import HeadwaterException
    from headwater.outfiles import replace_file  # never through another user's link

    data = json.dumps({"flow_name": plan.flow_name, "orchestrator": orchestrator,
                       "datastore_root": plan.settings.datastore_root, **extra})
    try:
        replace_file(path, data.encode("utf-8"))
    except OSError as exc:
        raise HeadwaterException(
            f"cannot write the deployment's attributes to --deployer-attribute-file {path}: "
            f"{exc.strerror or exc}",
            fix="give a path in a folder you can write, not a link another user made") from None


COMMANDS = (argo_workflows, airflow)
