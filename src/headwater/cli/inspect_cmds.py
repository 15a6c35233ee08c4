"""Commands that look without running: check, show, output-dot, output-mermaid, logs, dump."""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import handle_errors


@click.command(help="Check the flow's graph without running anything.")
@click.pass_context
@handle_errors
def check(ctx: click.Context) -> None:
    from headwater.graph import check_flow

    flow_cls = flow_class_of(ctx)
    click.echo("Validating your flow...")
    check_flow(flow_cls)
    click.echo("    The graph looks good!")


@click.command(help="Print the steps, their docstrings and transitions.")
@click.pass_context
@handle_errors
def show(ctx: click.Context) -> None:
    from headwater.graph import check_flow
    from headwater.graph.render import render_text

    click.echo(render_text(check_flow(flow_class_of(ctx))))


@click.command("output-dot", help="Print the graph in Graphviz DOT.")
@click.pass_context
@handle_errors
def output_dot(ctx: click.Context) -> None:
    from headwater.graph import check_flow
    from headwater.graph.render import render_dot

    click.echo(render_dot(check_flow(flow_class_of(ctx))))


@click.command("output-mermaid", help="Print the graph as a Mermaid flowchart.")
@click.pass_context
@handle_errors
def output_mermaid(ctx: click.Context) -> None:
    from headwater.graph import check_flow
    from headwater.graph.render import render_mermaid

    click.echo(render_mermaid(check_flow(flow_class_of(ctx))))


def _tasks_of(ctx: click.Context, input_path: str) -> list:
    """Client Task objects for RUN_ID/STEP or RUN_ID/STEP/TASK_ID of this flow."""
    from headwater.client import Step, Task, metadata, namespace

    parts = input_path.strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise click.BadParameter(
            f"expected RUN_ID/STEP or RUN_ID/STEP/TASK_ID, got {input_path!r} "
            "(e.g. logs 12/start or dump 12/start/1)",
            param_hint="'RUN_ID/STEP[/TASK_ID]'",
        )
    metadata(settings_of(ctx).datastore_root)
    namespace(None)
    flow_name = flow_class_of(ctx).__name__
    pathspec = "/".join([flow_name, *parts])
    if len(parts) == 3:
        return [Task(pathspec)]
    return list(Step(pathspec))


@click.command(help="Print the output of a finished task (or every task of a step).")
@click.argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
@click.option("--stdout/--no-stdout", "show_stdout", default=True, help="Print stdout.")
@click.option("--stderr/--no-stderr", "show_stderr", default=True, help="Print stderr.")
@click.pass_context
@handle_errors
def logs(ctx: click.Context, input_path: str, show_stdout: bool, show_stderr: bool) -> None:
    for task in _tasks_of(ctx, input_path):
        if show_stdout and task.stdout:
            click.echo(task.stdout, nl=not task.stdout.endswith("\n"))
        if show_stderr and task.stderr:
            click.echo(task.stderr, nl=not task.stderr.endswith("\n"), err=True)


@click.command(help="List a task's artifacts with their type and size, and small values.")
@click.argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
@click.option("--max-value-size", default=1000, show_default=True,
              help="Show values whose stored size is at most this many bytes.")
@click.pass_context
@handle_errors
def dump(ctx: click.Context, input_path: str, max_value_size: int) -> None:
    for task in _tasks_of(ctx, input_path):
        click.echo(f"{task.pathspec}:{_state(task)}")
        failure = task.exception
        if failure is not None and not task.successful:
            click.echo(_indent(failure.traceback or f"{failure.type_name}: {failure.message}"))
        for artifact in sorted(task, key=lambda a: a.id):
            line = f"    {artifact.id}  {artifact.type_name}  {artifact.size} bytes"
            if artifact.size <= max_value_size:
                shown = repr(artifact.data)
                line += "  " + (shown if len(shown) <= 200 else shown[:197] + "...")
            click.echo(line)


def _state(task) -> str:  # task: headwater.client.Task
    """`` (failed)`` or `` (running)`` after the pathspec; nothing for a successful task."""
    if task.successful:
        return ""
    return " (failed)" if task.finished else " (running, or stopped without a result)"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines())


COMMANDS = [check, show, output_dot, output_mermaid, logs, dump]
