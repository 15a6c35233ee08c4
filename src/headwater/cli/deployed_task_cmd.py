"""``python -m headwater.cli.deployed_task_cmd STEP ...``: the command every deployed task runs.

Argo's containers and Airflow's tasks run this, not ``python flow.py``: the flow's code comes from
the code package stored in the datastore at deploy time (``--code``), so the image only needs
headwater and the flow's libraries. Parses, then delegates to :mod:`headwater.runtime.deployed`.
"""

from __future__ import annotations

import json
import os
import sys

import click

from headwater.cli.errors import handle_errors


@click.command(help="Run one task of a deployed run and record it (used by the orchestrators).")
@click.argument("step")
@click.option("--task-id", required=True, help="1 for a task outside any foreach, 1-I-J inside.")
@click.option("--run-key", required=True, help="The orchestrator's id of the run.")
@click.option("--code", "code_json", required=True, help="The code package, as JSON.")
@click.option("--datastore-root", default=None, help="Where the run's data lives.")
@click.option("--metadata", default=None, help="The metadata database URL.")
@click.option("--param", "params", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A parameter value (start only); an empty value means its default.")
@click.option("--tag", "tags", multiple=True, help="Tag the run (start only).")
@click.option("--deployment", default="", help="The deployed name, kept as a system tag.")
@click.option("--orchestrator", default="", help="argo-workflows or airflow.")
@click.option("--branch", default=None, help="@project branch the flow was deployed on.")
@click.option("--production", is_flag=True, help="Deployed with --production.")
@click.option("--trigger", "trigger_json", default="", help="The events that started the run.")
@click.option("--output-dir", default=None, help="Write what the orchestrator reads next here.")
@click.option("--with", "with_specs", multiple=True, help="A decorator `create --with` added.")
@click.option("--flow-options", "flow_options_json", default="",
              help="The flow decorators' options at create, as JSON.")
@click.option("--configs", "configs_key", default="",
              help="The datastore key of the configs create resolved (start only).")
@handle_errors
def deployed_task(step: str, task_id: str, run_key: str, code_json: str,
                  datastore_root: str | None, metadata: str | None,
                  params: tuple[tuple[str, str], ...], tags: tuple[str, ...], deployment: str,
                  orchestrator: str, branch: str | None, production: bool, trigger_json: str,
                  output_dir: str | None, with_specs: tuple[str, ...],
                  flow_options_json: str, configs_key: str) -> None:
    from headwater.runtime.deployed import DeployedTask, load_and_run, trigger_events
    from headwater.settings import Settings

    settings = Settings.resolve(datastore_root=datastore_root, metadata=metadata)
    # The client inside the step (current.trigger.run, Flow(...)) reads the run's own stores.
    os.environ["HEADWATER_DATASTORE_ROOT"] = settings.datastore_root
    os.environ["HEADWATER_METADATA"] = settings.metadata_url
    code = json.loads(code_json)
    events = trigger_events(trigger_json, str(code.get("class") or "the flow"), step, run_key)
    task = DeployedTask(
        step=step, task_id=task_id, run_key=run_key, params=dict(params), tags=tags,
        deployment=deployment, orchestrator=orchestrator, branch=branch, production=production,
        trigger=events, code=code, output_dir=output_dir,
        with_specs=with_specs, configs_key=configs_key,
        flow_options=json.loads(flow_options_json) if flow_options_json else None)
    name, result = load_and_run(settings, code, task)
    if not result.ok:
        failure = result.failure
        click.echo(f"Task {name} failed"
                   + (f": {failure.type_name}: {failure.message}" if failure else ""), err=True)
        sys.exit(1)


if __name__ == "__main__":
    deployed_task(prog_name="headwater-deployed-task")
