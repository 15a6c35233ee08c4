"""``headwater runs [FLOW]`` and ``python flow.py runs``: the latest runs, as a table or JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import click

from headwater.cli.context import flow_class_of, settings_of
from headwater.cli.errors import handle_errors
from headwater.settings import Settings

_COLUMNS = ("RUN", "STATUS", "STARTED", "DURATION", "USER", "TAGS")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _table(summaries: Sequence) -> str:
    """The runs as a table; what the records say (ids, user, tags: anyone who can write a shared
    datastore's metadata chose them) is shown with control and format characters as escapes."""
    from headwater.cli.dump_output import printable

    rows = [(printable(s.pathspec), s.status,
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.started_at)),
             _duration(s.duration_s), printable(s.user), printable(", ".join(s.tags) or "-"))
            for s in summaries]
    widths = [max(len(str(r[i])) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in [_COLUMNS, *rows])


def _show(settings: Settings, flow: str | None, limit: int, as_json: bool,
          own_flow: bool = False, filters: dict | None = None) -> None:
    """``own_flow``: ``python flow.py runs``, where a flow that never ran simply has no runs yet
    (``headwater runs NAME`` reports an unknown NAME, which may be a typo, with the known ones)."""
    from headwater.client import use_settings
    from headwater.client.listing import latest_runs
    from headwater.exceptions import NotFoundError

    use_settings(settings)
    try:
        summaries = latest_runs(flow, limit, **(filters or {}))
    except NotFoundError:
        if not own_flow:
            raise
        summaries = []
    if filters and (filters.get("tags") or filters.get("user")):
        from headwater.client.lookalike_tags import lookalike_note, lookalike_tags, lookalike_users

        for found, option in ((lookalike_tags(filters.get("tags") or (), flow), "--tag"),
                              (lookalike_users(filters.get("user"), flow), "--user")):
            if found:
                click.echo(lookalike_note(found, option), err=True)
    if as_json:
        click.echo(json.dumps([s.as_json() for s in summaries], indent=2))
    elif not summaries and filters and any(filters.values()):
        asked = ", ".join(f"{key} {' '.join(value) if isinstance(value, tuple) else value}"
                          for key, value in filters.items() if value)
        click.echo(f"No runs{f' of {flow}' if flow else ''} with {asked} in the datastore "
                   f"{settings.datastore_root}.")
    elif not summaries and own_flow:
        from headwater.runtime.console import flow_command

        click.echo(f"No runs of {flow} yet in the datastore {settings.datastore_root}: "
                   f"`{flow_command('run')}` starts one.")
    elif not summaries:
        click.echo(f"No runs{f' of {flow}' if flow else ''} in the datastore {settings.datastore_root}.")
    else:
        click.echo(_table(summaries))


_LIMIT = click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
                      help="How many of the latest runs to show.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _filters(command: Any) -> Any:
    """``--status``, ``--tag`` and ``--user``: only the runs that match (the UI's filters)."""
    command = click.option("--user", default=None, metavar="NAME",
                           help="Only the runs of this user.")(command)
    command = click.option("--tag", "tags", multiple=True, metavar="TAG",
                           help="Only the runs with this tag (repeatable: all of them).")(command)
    return click.option("--status", type=click.Choice(["running", "succeeded", "failed"]),
                        default=None, help="Only the runs in this state (a crashed run is "
                        "failed).")(command)


@click.command("runs", help="List the latest runs of this flow: id, status, start, duration, "
               "user, tags (every user's).")
@_LIMIT
@_JSON
@_filters
@click.pass_context
@handle_errors
def runs(ctx: click.Context, limit: int, as_json: bool, status: str | None,
         tags: tuple[str, ...], user: str | None) -> None:
    _show(settings_of(ctx), flow_class_of(ctx).__name__, limit, as_json, own_flow=True,
          filters={"status": status, "tags": tags, "user": user})


@click.command("runs", help="List the latest runs of FLOW (or of every flow) in the datastore: "
               "id, status, start, duration, user, tags.")
@click.argument("flow", required=False)
@click.option("--datastore-root", default=None,
              help="Folder (or URL) holding runs' data (default: the nearest .headwater/).")
@click.option("--metadata", default=None, help="A metadata database path or URL.")
@_LIMIT
@_JSON
@_filters
@handle_errors
def runs_everywhere(flow: str | None, datastore_root: str | None, metadata: str | None,
                    limit: int, as_json: bool, status: str | None, tags: tuple[str, ...],
                    user: str | None) -> None:
    _show(Settings.resolve(datastore_root=datastore_root, metadata=metadata), flow, limit, as_json,
          filters={"status": status, "tags": tags, "user": user})
