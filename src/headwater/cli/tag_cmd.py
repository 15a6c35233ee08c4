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


def _metaflow_layout() -> bool:
    """Whether to print in Metaflow's layout: the flow imports ``metaflow`` (see tag_listing)."""
    from headwater.version import serving_metaflow

    return serving_metaflow()


def _quiet(ctx: click.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("quiet"))


def _changed(ctx: click.Context, run, run_id: str | None, *, to_stderr: bool = True) -> None:
    """What ``tag add|remove|replace`` print: headwater's description of the run, or, for a
    flow that imports ``metaflow``, Metaflow's ``Operation successful. New tags:`` and the run's
    tags in its layout (``add`` says it on stdout, the others on stderr, as Metaflow)."""
    if not _metaflow_layout():
        click.echo(_describe(run, hide_system=True))
        return
    from headwater.cli.tag_listing import group_runs, print_groups

    if run_id is None:  # headwater's choice of run, which Metaflow would have asked for
        click.echo(f"Tagged {printable(run.pathspec)}, your latest run.", err=True)
    if not _quiet(ctx):
        click.echo("Operation successful. New tags:", err=to_stderr)
    print_groups(group_runs([run], by_run=False, by_tag=False, hide_system=False),
                 by_tag=False, quiet=_quiet(ctx))


def _note_other_namespaces(run, added: list[str]) -> None:  # run: headwater.client.Run
    """A note for each ``user:NAME`` tag just added (as Metaflow, a user tag like any other):
    namespaces are tags, so the run now shows among NAME's own runs, in NAME's default
    namespace (``Flow(...).latest_run`` included), which NAME is not told of."""
    own = {t for t in run.system_tags if t.startswith("user:")}
    for tag in added:
        if tag.startswith("user:") and tag not in own:
            shown, spec = printable(tag), printable(run.pathspec)
            click.echo(f"Note: {spec} is now in the namespace {shown} too: {shown[5:]}'s "
                       "Flow(...).runs() and .latest_run, in their default namespace, list it "
                       f"as one of their own runs. `tag remove --run-id {printable(run.id)} "
                       f"{shown}` takes it out.", err=True)


def _note_lookalikes(run, tags) -> None:  # run: headwater.client.Run
    """A note for each tag to remove that the run lacks while it has one looking like it
    (``рrod`` for ``prod``): removing a tag the run lacks changes nothing, as in Metaflow."""
    from headwater.lookalikes import lookalikes_of

    for tag in tags:
        if tag not in run.tags and (others := lookalikes_of(tag, run.tags)):
            click.echo(f"Note: {printable(run.pathspec)} has no tag {printable(tag)}, only "
                       f"{', '.join(printable(o) for o in others)}, which looks like it but is "
                       "another (escapes show the characters that differ); nothing of it is "
                       "removed.", err=True)


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
    before = run.tags
    run.add_tags(tags)
    _changed(ctx, run, run_id, to_stderr=False)
    _note_other_namespaces(run, [t for t in tags if t not in before])


@tag.command(help="Remove TAGS from a run (system tags cannot be removed).")
@click.option("--run-id", default=None, help=_RUN_ID_HELP)
@click.argument("tags", nargs=-1, required=True)
@click.pass_context
@handle_errors
def remove(ctx: click.Context, run_id: str | None, tags: tuple[str, ...]) -> None:
    run = _target_run(ctx, run_id)
    _note_lookalikes(run, tags)
    run.remove_tags(tags)
    _changed(ctx, run, run_id)


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
    _note_lookalikes(run, removed)
    before = run.tags
    run.replace_tags(removed, added)
    _changed(ctx, run, run_id)
    _note_other_namespaces(run, [t for t in added if t not in before])


@tag.command("list", help="Show the tags of one run, or of your runs of this flow (newest "
             "first); of every run of it with --all. A flow that imports metaflow lists them "
             "as Metaflow does: every run unless --my-runs, in columns.")
@click.option("--run-id", default=None, help="Show only this run.")
@click.option("--all", "all_users", is_flag=True, help="Include every user's runs.")
@click.option("--my-runs", is_flag=True, help="Only your runs (Metaflow's option).")
@click.option("--hide-system-tags", is_flag=True, help="Show user tags only.")
@click.option("--group-by-tag", is_flag=True, help="Each tag, then the runs that have it.")
@click.option("--group-by-run", is_flag=True, help="Each run, then its tags.")
@click.option("--flat", is_flag=True, hidden=True,
              help="A heading line, then one tag per line, on stderr (for scripts written for "
              "Metaflow's tag list).")
@click.argument("arg_run_id", required=False, metavar="[RUN_ID]")
@click.pass_context
@handle_errors
def list_tags(ctx: click.Context, run_id: str | None, all_users: bool, my_runs: bool,
              hide_system_tags: bool, group_by_tag: bool, group_by_run: bool, flat: bool,
              arg_run_id: str | None) -> None:
    from headwater.client import Flow, namespace

    if run_id is not None and arg_run_id is not None:
        raise click.UsageError("give the run once: --run-id RUN_ID or RUN_ID, not both")
    run_id = run_id if run_id is not None else arg_run_id
    if all_users and my_runs:
        raise click.UsageError("--all and --my-runs contradict each other; give one")
    if group_by_tag and group_by_run:
        raise click.UsageError("--group-by-tag and --group-by-run contradict each other; give one")
    if flat and (group_by_tag or group_by_run):
        raise click.UsageError("--flat lists the tags alone; drop --group-by-*")
    metaflow_layout = _metaflow_layout() or group_by_tag or group_by_run or my_runs
    if run_id is not None:
        runs = [_target_run(ctx, run_id)]
    elif flat and not metaflow_layout:
        raise click.UsageError("tag list --flat needs --run-id")
    else:
        _use_client(ctx)
        everyone = all_users or (_metaflow_layout() and not my_runs)
        namespace(None if everyone else f"user:{current_username()}")
        flow_name = flow_class_of(ctx).__name__
        runs = list(Flow(flow_name, _namespace_check=False).runs())
        if not runs:
            who = "" if everyone else " of yours (--all shows everyone's)"
            if metaflow_layout:
                raise NotFoundError(f"cannot list tags: {flow_name} has no runs{who}",
                                    fix=f"run it first: python {ctx.find_root().info_name} run")
            click.echo(f"{flow_name} has no runs{who}.")
            return
    if flat:
        click.echo(f"Tags of {printable(','.join(r.pathspec for r in runs))}:", err=True)
        shown = set().union(*((r.user_tags if hide_system_tags else r.tags) for r in runs))
        for name in sorted(shown):
            click.echo(printable(name), err=True)
        return
    if metaflow_layout:
        from headwater.cli.tag_listing import group_runs, print_groups

        groups = group_runs(runs, by_run=group_by_run, by_tag=group_by_tag,
                            hide_system=hide_system_tags)
        print_groups(groups, by_tag=group_by_tag, quiet=_quiet(ctx))
        return
    for run in runs:
        click.echo(_describe(run, hide_system_tags))
