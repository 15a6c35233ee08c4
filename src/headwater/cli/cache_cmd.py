"""``headwater cache list FLOW`` and ``headwater cache clear FLOW [--step STEP]``: the @cache
entries later runs could reuse. Parsing only: the work is :mod:`headwater.maintenance`'s."""

from __future__ import annotations

import click

from headwater.cli.dump_output import printable
from headwater.cli.errors import handle_errors
from headwater.settings import Settings

_ROOT = click.option("--datastore-root", default=None,
                     help="Folder (or URL) holding runs' data (default: the nearest .headwater/).")
_META = click.option("--metadata", default=None, help="A metadata database path or URL.")

CACHE_HELP = """The results @cache steps can reuse: list them, or drop them.

An entry is a succeeded task of a @cache step; a later task with the same inputs reuses it
instead of running. Dropping entries makes later runs run those tasks again; the tasks stay in
their runs with their data (free that with `headwater delete` and `headwater gc`).
An entry older than `@cache(max_age=...)` (or HEADWATER_CACHE_MAX_AGE) is not reused anyway.

\b
  headwater cache list TrainFlow
  headwater cache clear TrainFlow --step train
"""


@click.group("cache", help=CACHE_HELP)
def cache() -> None:
    """The command group; see CACHE_HELP."""


@cache.command("list", help="How many entries each step of FLOW has.")
@click.argument("flow")
@_ROOT
@_META
@handle_errors
def list_entries(flow: str, datastore_root: str | None, metadata: str | None) -> None:
    from headwater.maintenance.cache_entries import cache_entries
    from headwater.meta import open_metadata

    settings = Settings.resolve(datastore_root=datastore_root, metadata=metadata)
    with open_metadata(settings.metadata_url, readonly=True) as meta:
        entries = cache_entries(meta, flow)
    if not entries:
        click.echo(f"Flow {printable(flow)} has no cache entries.")
        return
    for step in sorted(entries):
        click.echo(f"{printable(step)}\t{entries[step]} entr{'y' if entries[step] == 1 else 'ies'}")


@cache.command("clear", help="Drop the entries of FLOW (of one step with --step): later runs "
               "run those tasks again.")
@click.argument("flow")
@click.option("--step", default=None, help="Only this step's entries.")
@click.option("--dry-run", is_flag=True, help="Say how many would go; change nothing.")
@_ROOT
@_META
@handle_errors
def clear(flow: str, step: str | None, dry_run: bool, datastore_root: str | None,
          metadata: str | None) -> None:
    from headwater.maintenance.cache_entries import clear_cache_entries
    from headwater.meta import open_metadata

    settings = Settings.resolve(datastore_root=datastore_root, metadata=metadata)
    with open_metadata(settings.metadata_url) as meta:
        count = clear_cache_entries(meta, flow, step, dry_run=dry_run)
    scope = f"step '{printable(step)}' of {printable(flow)}" if step else printable(flow)
    verb = "Would drop" if dry_run else "Dropped"
    click.echo(f"{verb} {count} cache entr{'y' if count == 1 else 'ies'} of {scope}.")
    if count and not dry_run:
        click.echo("Their tasks stay in their runs; `headwater delete` the runs, then "
                   "`headwater gc`, to free the data.")
