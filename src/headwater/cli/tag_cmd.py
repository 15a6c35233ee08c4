"""``python flow.py tag add|remove|replace|list``: change and show the user tags of runs.

The shape is Metaflow's (``tag add --run-id 12 mytag``). Without ``--run-id`` a command acts on
your latest run of the flow, and says which, so a tag never lands on a run by surprise. The rules
(no removing system tags, no control characters, no path-like tags) live in the client, which this
only calls.
"""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import handle_errors
from headwater.exceptions import NotFoundError
from headwater.settings import current_username

_RUN_ID_HELP = "The run to tag (default: your latest run of this flow)."


def _use_client(ctx: click.Context) -> None:
    """Point the in-process client at the flow's datastore, as the other commands see it."""
    from headwater.client import use_settings

    use_settings(settings_of(ctx))


def _target_run(ctx: click.Context, run_id: str | None):  # -> headwater.client.Run
    from headwater.client import Flow, Run, namespace

    _use_client(ctx)
    flow_name = flow_class_of(ctx).__name__
    if run_id is not None:
        return Run(f"{flow_name}/{run_id}", _namespace_check=False)
    namespace(f"user:{current_username()}")
    latest = Flow(flow_name).latest_run
    if latest is None:
        raise NotFoundError(f"you have no run of {flow_name} to tag",
                            fix="pass --run-id, or start a run first")
    return latest


def _describe(run, hide_system: bool) -> str:  # run: headwater.client.Run
    lines = [run.pathspec, f"    user tags:   {', '.join(sorted(run.user_tags)) or '(none)'}"]
    if not hide_system:
        lines.append(f"    system tags: {', '.join(sorted(run.system_tags))}")
    return "\n".join(lines)


@click.group(help="Add, remove, replace or list the tags of this flow's runs.")
def tag() -> None:
    pass


@tag.command(help="Add TAGS to a run.")
@click.option("--run-id", default=None, help=_RUN_ID_HELP)
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
@handle_errors
def add(ctx: click.Context, run_id: str | None, tags: tuple[str, ...]) -> None:
    run = _target_run(ctx, run_id)
    run.add_tags(tags)
    click.echo(_describe(run, hide_system=True))


@tag.command(help="Remove TAGS from a run (system tags cannot be removed).")
@click.option("--run-id", default=None, help=_RUN_ID_HELP)
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
@handle_errors
def remove(ctx: click.Context, run_id: str | None, tags: tuple[str, ...]) -> None:
    run = _target_run(ctx, run_id)
    run.remove_tags(tags)
    click.echo(_describe(run, hide_system=True))


@tag.command(help="Replace the tag OLD of a run by NEW, in one step.")
@click.option("--run-id", default=None, help=_RUN_ID_HELP)
@click.argument("old")
@click.argument("new")
@click.pass_context
@handle_errors
def replace(ctx: click.Context, run_id: str | None, old: str, new: str) -> None:
    run = _target_run(ctx, run_id)
    run.replace_tag(old, new)
    click.echo(_describe(run, hide_system=True))


@tag.command("list", help="Show the tags of one run, or of your runs of this flow (newest first).")
@click.option("--run-id", default=None, help="Show only this run.")
@click.option("--all", "all_users", is_flag=True, help="Include every user's runs.")
@click.option("--hide-system-tags", is_flag=True, help="Show user tags only.")
@click.pass_context
@handle_errors
def list_tags(ctx: click.Context, run_id: str | None, all_users: bool,
              hide_system_tags: bool) -> None:
    from headwater.client import Flow, namespace

    if run_id is not None:
        click.echo(_describe(_target_run(ctx, run_id), hide_system_tags))
        return
    _use_client(ctx)
    namespace(None if all_users else f"user:{current_username()}")
    flow_name = flow_class_of(ctx).__name__
    runs = list(Flow(flow_name, _namespace_check=False).runs())
    if not runs:
        who = "" if all_users else " of yours (--all shows everyone's)"
        click.echo(f"{flow_name} has no runs{who}.")
    for run in runs:
        click.echo(_describe(run, hide_system_tags))
