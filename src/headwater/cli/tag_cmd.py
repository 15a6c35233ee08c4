"""``python flow.py tag add|remove|replace|list``: change and show the user tags of runs.

The shape is Metaflow's (``tag add --run-id 12 mytag``). Without ``--run-id`` a command acts on
your latest run of the flow, and says which, so a tag never lands on a run by surprise. The rules
(no removing system tags, no control characters, no path-like tags) live in the client, which this
only calls.
"""

from __future__ import annotations

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.dump_output import printable
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
    """The run's tags as printed: each with control and format characters as escapes (a tag
    another writer of a shared metadata database stored could hold a terminal escape)."""
    lines = [printable(run.pathspec),
             f"    user tags:   {_joined(run.user_tags) or '(none)'}"]
    if not hide_system:
        lines.append(f"    system tags: {_joined(run.system_tags)}")
    return "\n".join(lines)


def _joined(tags) -> str:
    return ", ".join(printable(t) for t in sorted(tags))


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


@tag.command(help="Replace the tag OLD of a run by NEW, in one step (or several with "
             "--remove OLD --add NEW, repeatable).")
@click.option("--run-id", default=None, help=_RUN_ID_HELP)
@click.option("--remove", "to_remove", multiple=True, metavar="OLD", help="A tag to remove.")
@click.option("--add", "to_add", multiple=True, metavar="NEW", help="A tag to add.")
@click.argument("old_new", nargs=-1, metavar="[OLD NEW]")
@click.pass_context
@handle_errors
def replace(ctx: click.Context, run_id: str | None, to_remove: tuple[str, ...],
            to_add: tuple[str, ...], old_new: tuple[str, ...]) -> None:
    if old_new and len(old_new) != 2:
        raise click.UsageError("tag replace takes two tags, OLD and NEW (or --remove/--add)")
    removed, added = list(to_remove) + list(old_new[:1]), list(to_add) + list(old_new[1:])
    if not removed or not added:
        raise click.UsageError("tag replace needs a tag to remove and a tag to add: "
                               "tag replace OLD NEW, or --remove OLD --add NEW")
    run = _target_run(ctx, run_id)
    run.replace_tags(removed, added)
    click.echo(_describe(run, hide_system=True))


@tag.command("list", help="Show the tags of one run, or of your runs of this flow (newest first).")
@click.option("--run-id", default=None, help="Show only this run.")
@click.option("--all", "all_users", is_flag=True, help="Include every user's runs.")
@click.option("--hide-system-tags", is_flag=True, help="Show user tags only.")
@click.option("--flat", is_flag=True, hidden=True,
              help="With --run-id: a heading line, then one tag per line, on stderr (for scripts "
              "written for Metaflow's tag list).")
@click.pass_context
@handle_errors
def list_tags(ctx: click.Context, run_id: str | None, all_users: bool,
              hide_system_tags: bool, flat: bool) -> None:
    from headwater.client import Flow, namespace

    if run_id is not None and flat:
        run = _target_run(ctx, run_id)
        shown = run.user_tags if hide_system_tags else run.tags
        click.echo(f"Tags of {printable(run.pathspec)}:", err=True)
        for name in sorted(shown):
            click.echo(printable(name), err=True)
        return
    if flat:
        raise click.UsageError("tag list --flat needs --run-id")
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
