"""Commands that look without running: check, show, output-dot, output-mermaid, logs, dump."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli.context import flow_class_of, reading_settings_of
from headwater.cli.errors import handle_errors
from headwater.exceptions import HeadwaterException


@click.command(help="Check the flow's graph without running anything.")
@click.option("--warnings/--no-warnings", "pylint_warnings", default=False,
              help="Accepted for Metaflow compatibility (its pylint warnings; no pylint here).")
@click.pass_context
@handle_errors
def check(ctx: click.Context, pylint_warnings: bool = False) -> None:
    from headwater.graph import check_flow

    flow_cls = flow_class_of(ctx)
    click.echo("Validating your flow...")
    graph = check_flow(flow_cls)
    for warning in graph.warnings:
        click.echo(f"    Warning: {warning}")
    click.echo("    The graph looks good!")


@click.command(help="Print the steps, their docstrings and transitions.")
@click.pass_context
@handle_errors
def show(ctx: click.Context) -> None:
    from headwater.graph.render import render_text
    from headwater.version import serving_metaflow

    graph = _drawable_graph(ctx)
    if serving_metaflow():
        _show_as_metaflow(graph, _mutated_flow_class(ctx))
        return
    click.echo(render_text(graph))


def _mutated_flow_class(ctx: click.Context) -> type:
    """The flow class with its mutators applied, with the configs given before the command:
    Metaflow applies them before any command, so ``show`` lists the decorators a mutator adds
    (npow/metaflow-flyte's mutable flow adds ``@environment`` to a step that has none)."""
    from headwater.decorators.mutation import apply_mutators, has_mutators
    from headwater.runtime.configs import ConfigSources, launch_configs

    flow_cls = flow_class_of(ctx)
    if has_mutators(flow_cls):
        root = ctx.find_root().obj or {}
        apply_mutators(flow_cls, launch_configs(flow_cls, root.get("configs")
                                                or ConfigSources()).scope)
    return flow_cls


def _show_as_metaflow(graph: Any, flow_cls: type) -> None:
    """``show`` of a flow that imports ``metaflow``, in Metaflow's shape, which scripts read:
    on stdout each step's decorators (``@retry``), ``Step NAME``, its docstring indented (``?``
    when it has none) and ``=> a, b`` (not for the end step); the flow's docstring and the
    blank lines between steps on stderr."""
    from headwater.decorators.named import full_name
    from headwater.decorators.user_step import user_wrappers
    from headwater.flow.step import DECORATORS_ATTR
    from headwater.graph.model import END
    from headwater.graph.render import indented

    click.echo(f"\n{graph.doc}", err=True)
    for node in graph.ordered():
        click.echo("", err=True)
        func = getattr(flow_cls, node.name, None)
        for decorator in getattr(func, DECORATORS_ATTR, None) or ():
            click.echo(f"@{decorator.name}")
        for wrapper in user_wrappers(func):
            click.echo(f"@{getattr(wrapper, 'decorator_name', None) or full_name(type(wrapper))}")
        click.echo(f"Step {node.name}")
        click.echo(indented(node.doc or "?"))
        if node.transition != END:
            click.echo(indented(f"=> {', '.join(node.out)}"))
    click.echo("", err=True)


@click.command("output-dot", help="Print the graph in Graphviz DOT.")
@click.pass_context
@handle_errors
def output_dot(ctx: click.Context) -> None:
    from headwater.graph.render import render_dot

    click.echo(render_dot(_drawable_graph(ctx)))


@click.command("output-mermaid", help="Print the graph as a Mermaid flowchart.")
@click.pass_context
@handle_errors
def output_mermaid(ctx: click.Context) -> None:
    from headwater.graph.render import render_mermaid

    click.echo(render_mermaid(_drawable_graph(ctx)))


class BadPathError(HeadwaterException):
    """A ``logs``/``dump`` path that is not RUN_ID/STEP[/TASK_ID]: exit 1, as Metaflow's
    "Invalid command" (not click's usage error, 2)."""

    headline = "Invalid command"


def _drawable_graph(ctx: click.Context) -> Any:
    """The flow's graph as written, for ``show`` and ``output-*``: as with Metaflow, these draw a
    graph that breaks a rule (to help see why), after a warning on stderr that names the problem
    and its fix; ``check`` and ``run`` refuse it. Exit 0, as Metaflow's."""
    from headwater.exceptions import GraphError
    from headwater.graph import build_graph, validate

    graph = build_graph(flow_class_of(ctx))
    try:
        validate(graph)
    except GraphError as err:
        from headwater.cli.errors import echo_styled
        from headwater.redaction import redact

        echo_styled(f"Warning: the graph of {graph.flow_name} is invalid; `check` and `run` "
                    "refuse it. Drawn as written:", fg="yellow", bold=True)
        from headwater.tracebacks import printable_lines

        click.echo(f"    {printable_lines(redact(str(err)))}", err=True)
    return graph


def _tasks_of(ctx: click.Context, input_path: str, attempt: int | None = None) -> list:
    """Client Task objects for RUN_ID/STEP or RUN_ID/STEP/TASK_ID of this flow."""
    from headwater.client import Step, Task, namespace, use_settings

    parts = input_path.strip("/").split("/")
    if len(parts) in (3, 4) and parts[0] == flow_class_of(ctx).__name__:
        # `logs SweepFlow/1/start/1`: the pathspec the closing line of a failed run prints
        # (and the client takes), pasted with its flow name.
        parts = parts[1:]
    if len(parts) not in (2, 3) or not all(parts):
        raise BadPathError(
            f"{ctx.info_name} takes RUN_ID/STEP or RUN_ID/STEP/TASK_ID, got {input_path!r}",
            fix=f"e.g. {ctx.info_name} 12/start or {ctx.info_name} 12/start/1 "
            "(`headwater runs` lists the runs)")
    use_settings(reading_settings_of(ctx))  # the datastore and the metadata the options chose
    namespace(None)
    flow_name = flow_class_of(ctx).__name__
    pathspec = "/".join([flow_name, *parts])
    if len(parts) == 3:
        return [Task(pathspec, attempt=attempt)]
    # In task order (a foreach's items as they were split), not the client's newest first:
    # `logs 1/each` reads item 0's output first.
    tasks = sorted(Step(pathspec), key=lambda task: _task_order(task.id))
    if attempt is None:
        return tasks
    return [Task(task.pathspec, attempt=attempt) for task in tasks]


def _task_order(task_id: str) -> tuple:
    """``"10"`` after ``"9"``; a deployed task's ``"1-2-0"`` by each of its numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in task_id.split("-"))


@click.command(help="Print the output of a task (or every task of a step; of a running task, "
               "its output so far). With --stdout or --stderr alone, that stream is printed to "
               "stdout (to pipe it).")
@click.argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
@click.option("--stdout/--no-stdout", "show_stdout", default=None, help="Print stdout.")
@click.option("--stderr/--no-stderr", "show_stderr", default=None, help="Print stderr.")
@click.option("--both/--no-both", default=None,
              help="Print both streams (the default when neither --stdout nor --stderr is given).")
@click.option("--timestamps/--no-timestamps", default=False,
              help="Prefix each line with the time it was printed.")
@click.option("--attempt", type=int, default=None,
              help="Show this attempt (numbered from 0; default: the latest).")
@click.option("--raw", is_flag=True, default=False,
              help="On a terminal, print the output exactly as stored, terminal escapes "
              "included (by default only colours pass; other escapes are shown as text).")
@click.pass_context
@handle_errors
def logs(ctx: click.Context, input_path: str, show_stdout: bool | None, show_stderr: bool | None,
         both: bool | None, timestamps: bool, attempt: int | None, raw: bool) -> None:
    from headwater.cli.log_output import chosen_streams, print_task_logs, task_heading

    streams = chosen_streams(show_stdout, show_stderr, both)
    # One stream picked with --stdout or --stderr goes to stdout (to pipe it, as with Metaflow).
    only_one = len(streams) == 1 and bool(show_stdout or show_stderr)
    tasks = _tasks_of(ctx, input_path, attempt)
    for task in tasks:
        if len(tasks) > 1 and streams:  # a foreach's tasks: say whose lines follow (stderr)
            task_heading(task)
        print_task_logs(task, streams, to_stdout=only_one, timestamps=timestamps, raw=raw)


@click.command(help="List a task's artifacts with their type and size, and small values; or, "
               "with --file, write them (pickled, by task) to a file.")
@click.argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
@click.option("--max-value-size", default=1000, show_default=True,
              help="Show values whose stored size is at most this many bytes.")
@click.option("--private/--no-private", default=False,
              help="Also show artifacts whose name starts with an underscore.")
@click.option("--include", default="", metavar="NAMES",
              help="Only these artifacts (comma-separated).")
@click.option("--file", "file_path", default=None, metavar="PATH",
              help="Write {task: {artifact: value}} to PATH with pickle instead of printing.")
@click.option("--attempt", type=int, default=None,
              help="The artifacts this attempt stored (numbered from 0; default: the task's, "
              "its last attempt's).")
@click.pass_context
@handle_errors
def dump(ctx: click.Context, input_path: str, max_value_size: int, private: bool, include: str,
         file_path: str | None, attempt: int | None) -> None:
    from headwater.cli.dump_output import dump_to_file, note_unmatched, print_artifacts

    wanted = {name for name in include.split(",") if name}
    tasks = _tasks_of(ctx, input_path, attempt)
    if file_path is not None:
        dump_to_file(tasks, file_path, wanted=wanted, private=private)
    else:
        for task in tasks:
            print_artifacts(task, max_value_size, wanted=wanted, private=private,
                            attempt=attempt)
    note_unmatched(tasks, wanted)


@click.command("output-raw", help="Print the graph as Metaflow's tools read it (one line per "
               "step: type and next steps); --json: its steps and structure as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the graph in JSON.")
@click.pass_context
@handle_errors
def output_raw(ctx: click.Context, as_json: bool) -> None:
    import headwater.graph.metaflow_view  # noqa: F401 - registers the flow's ``_graph`` view

    view = flow_class_of(ctx)._graph
    # As Metaflow's: a heading on stderr, the graph alone on stdout (to pipe it).
    if as_json:
        import json

        steps, structure = view.output_steps()
        click.echo("Internal representation of the flow in JSON format:", err=True)
        click.echo(json.dumps({"graph": steps, "graph_structure": structure}, indent=4))
    else:
        click.echo("Internal representation of the flow:", err=True)
        click.echo(str(view))


@click.command("help", help="Show every command of the flow (the same as --help).")
@click.pass_context
def help_(ctx: click.Context) -> None:
    # Metaflow's `python flow.py help`; its parent's help lists the commands.
    parent = ctx.parent if ctx.parent is not None else ctx
    click.echo(parent.get_help())


@click.command(help="Print headwater's version.")
def version() -> None:
    from headwater.version import __version__

    click.echo(f"headwater {__version__}")


COMMANDS = [check, show, output_dot, output_mermaid, output_raw, logs, dump, help_, version]
