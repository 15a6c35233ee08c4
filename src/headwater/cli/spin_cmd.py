"""``spin PATHSPEC``: re-run one past task with its original inputs (kept apart from the runs)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.dump_output import printable, value_text
from headwater.cli.errors import echo_styled, handle_errors

if TYPE_CHECKING:
    from headwater.runtime.spin import SpinOutcome


def _short(value: object, width: int = 70) -> str:
    text = value_text(value)  # bounded: a value may be built to expand when printed
    return text if len(text) <= width else text[: width - 3] + "..."


@click.command(help="Run one task of a past run again, with the inputs it had then. PATHSPEC is "
               "STEP, RUN_ID/STEP or RUN_ID/STEP/TASK_ID. The task is recorded apart from the "
               "runs (read it back with inspect_spin); the artifacts it produces are printed.")
@click.argument("pathspec")
@click.option("--persist/--no-persist", default=False, show_default=True,
              help="Record the artifacts the spun task produces, for the client to read.")
@click.option("--artifacts-module", default=None, metavar="FILE",
              help="A Python file whose ARTIFACTS dict overrides the task's inputs (for a join: "
              "RUN/STEP/TASK of an input -> dict).")
@click.option("--skip-decorators/--no-skip-decorators", default=False, show_default=True,
              help="Run the step without its decorators (@timeout, @card, @environment).")
@click.option("--max-log-size", type=int, default=10, show_default=True,
              help="Accepted for Metaflow; output is kept whole.")
@click.option("--run-id-file", default=None, help="Write the spin's run id to this file.")
@click.option("--runner-attribute-file", default=None, hidden=True,
              help="Where the Runner reads which task the spin recorded (JSON).")
@click.pass_context
@handle_errors
def spin(ctx: click.Context, pathspec: str, persist: bool, artifacts_module: str | None,
         skip_decorators: bool, max_log_size: int, run_id_file: str | None,
         runner_attribute_file: str | None) -> None:
    from headwater.runtime.spin import SpinOptions, read_artifacts_module, spin_task

    root = ctx.find_root().obj
    options = SpinOptions(
        persist=persist, skip_decorators=skip_decorators, with_specs=tuple(root["with"]),
        artifacts=read_artifacts_module(artifacts_module) if artifacts_module else None,
        branch=root["branch"].branch, production=root["branch"].production,
        configs=root["configs"], environment=root["environment"])
    done = spin_task(flow_class_of(ctx), pathspec, settings_of(ctx), options)
    result = done.outcome.result
    if result.failure is not None:
        how = "timed out" if result.failure.type_name == "TimeoutException" else "failed"
        echo_styled(f"Spin of {done.pathspec} {how}: {result.failure.type_name}: "
                    f"{result.failure.message}", fg="red")
        ctx.exit(1)
    _write_ids(done, run_id_file, runner_attribute_file)
    click.echo(f"Spin of {done.pathspec} succeeded"
               + (f", next: {', '.join(result.next_steps)}" if result.next_steps else "")
               + f" (in the spin database: {done.spin_pathspec}).")
    click.echo("Artifacts:" if done.artifacts else "Artifacts: none")
    for name in sorted(done.artifacts):
        click.echo(f"    {printable(name)} = {_short(done.artifacts[name])}")


def _write_ids(done: SpinOutcome, run_id_file: str | None, attribute_file: str | None) -> None:
    """As Metaflow's spin: written once the task succeeded (a failed spin leaves none)."""
    flow, run_id, step, task_id = done.spin_pathspec.split("/")
    from headwater.outfiles import replace_file  # as `run --run-id-file`: see outfiles.py

    if run_id_file:
        replace_file(run_id_file, run_id.encode())
    if attribute_file:
        where = done.spin_settings
        replace_file(attribute_file, json.dumps({
            "flow_name": flow, "run_id": run_id, "step_name": step, "task_id": task_id,
            "datastore_root": where.datastore_root, "metadata": where.metadata_url}).encode(),
            secret=True)  # a PostgreSQL URL carries its password: 0600 even over a shared file
