"""``spin RUN_ID/STEP/TASK_ID``: re-run one past task with its original inputs (not recorded)."""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import echo_styled, handle_errors


def _short(value: object, width: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


@click.command(help="Run one task of a past run again, with the inputs it had then; its output "
               "and the artifacts it produces are printed and nothing is recorded.")
@click.argument("pathspec")
@click.pass_context
@handle_errors
def spin(ctx: click.Context, pathspec: str) -> None:
    from headwater.runtime.spin import spin_task

    branch = ctx.find_root().obj["branch"]
    done = spin_task(flow_class_of(ctx), pathspec, settings_of(ctx), branch=branch.branch,
                     production=branch.production)
    result = done.outcome.result
    if result.failure is not None:
        echo_styled(f"Spin of {done.pathspec} failed: {result.failure.type_name}: "
                    f"{result.failure.message}", fg="red")
        ctx.exit(1)
    click.echo(f"Spin of {done.pathspec} succeeded"
               + (f", next: {', '.join(result.next_steps)}" if result.next_steps else "") + ".")
    click.echo("Artifacts:" if done.artifacts else "Artifacts: none")
    for name in sorted(done.artifacts):
        click.echo(f"    {name} = {_short(done.artifacts[name])}")
