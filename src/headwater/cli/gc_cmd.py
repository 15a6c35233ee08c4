"""``headwater delete`` (runs, by name or by retention) and ``headwater gc`` (free their data).

Parsing only: the work is :mod:`headwater.maintenance`'s.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import click

from headwater.cli.dump_output import printable
from headwater.cli.errors import handle_errors
from headwater.exceptions import HeadwaterException, RunInUseError
from headwater.settings import Settings

_ROOT = click.option("--datastore-root", default=None,
                     help="Folder (or URL) holding runs' data (default: the nearest .headwater/).")
_META = click.option("--metadata", default=None, help="A metadata database path or URL.")
_DRY = click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")


def parse_duration(text: str) -> float:
    """``"90"``, ``"30s"``, ``"10m"``, ``"1h"``, ``"2d"`` -> seconds."""
    from headwater.durations import EXAMPLES
    from headwater.durations import parse_duration as parse

    try:
        return parse(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration; write e.g. {EXAMPLES}") from None


def parse_date(text: str) -> float:
    """``2026-11-01`` or ``2026-11-01T08:00`` (local time unless it says otherwise) -> Unix time."""
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; write e.g. 2026-11-01 or "
                                 "2026-11-01T08:00") from None


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # unreachable


DELETE_HELP = """Delete runs from the metadata: the client no longer finds them.

Name runs as FLOW/RUN_ID, or give a retention policy (--keep-last, --keep-since, --keep-tagged)
to delete every run of the named FLOWs (of every flow when none is named) that no rule keeps.
Live runs are never deleted. The runs' stored data is freed by `headwater gc` afterwards.

\b
  headwater delete HelloFlow/12 HelloFlow/13
  headwater delete --keep-last 10 --keep-since 2026-11-01 --keep-tagged && headwater gc
"""


@click.command("delete", help=DELETE_HELP)
@click.argument("runs", nargs=-1)
@click.option("--keep-last", type=click.IntRange(min=0), default=None,
              help="Retention: keep the N newest runs of each flow.")
@click.option("--keep-since", default=None, metavar="DATE",
              help="Retention: keep runs started on or after DATE (2026-11-01).")
@click.option("--keep-tagged", is_flag=True, help="Retention: keep runs with a user tag.")
@_DRY
@_ROOT
@_META
@handle_errors
def delete(runs: Sequence[str], keep_last: int | None, keep_since: str | None,
           keep_tagged: bool, dry_run: bool, datastore_root: str | None,
           metadata: str | None) -> None:
    from headwater.maintenance import (
        Retention,
        check_deletable,
        delete_checked,
        delete_runs,
        expired_runs,
    )
    from headwater.meta import open_metadata

    retention = keep_last is not None or keep_since is not None or keep_tagged
    settings = Settings.resolve(datastore_root=datastore_root, metadata=metadata)
    verb = "Would delete" if dry_run else "Deleted"
    with open_metadata(settings.metadata_url) as meta:
        if not retention:
            named = _pathspecs(runs)
            for row in delete_runs(meta, named, dry_run=dry_run):
                click.echo(f"{verb} run {printable(row.pathspec)}.")
            _hint(dry_run)
            return
        flows = _flows(runs)
        policy = Retention(keep_last, parse_date(keep_since) if keep_since else None,
                           keep_tagged)
        count = 0
        for row in expired_runs(meta, flows, policy):
            try:
                check_deletable(meta, row.flow, row.run_id)
            except RunInUseError as err:
                click.echo(f"Kept run {printable(row.pathspec)}: {printable(err.msg)}")
                continue
            if not dry_run:
                try:
                    delete_checked(meta, row.flow, row.run_id)
                except RunInUseError as err:  # a resume of it started a moment ago
                    click.echo(f"Kept run {printable(row.pathspec)}: {printable(err.msg)}")
                    continue
            click.echo(f"{verb} run {printable(row.pathspec)}.")
            count += 1
        scope = ", ".join(flows) if flows else "every flow"
        click.echo(f"{verb} {count} run(s) of {scope} outside the retention.")
        _hint(dry_run or count == 0)


def _pathspecs(runs: Sequence[str]) -> list[str]:
    if not runs:
        raise click.UsageError("name the runs to delete (FLOW/RUN_ID ...), or give a retention "
                               "policy (--keep-last N, --keep-since DATE, --keep-tagged)")
    bare = [r for r in runs if "/" not in r]
    if bare:
        raise click.UsageError(
            f"{bare[0]!r} names a flow, not a run: name runs as {bare[0]}/RUN_ID, or delete its "
            f"old runs with a retention policy (headwater delete {bare[0]} --keep-last N)")
    return list(runs)


def _flows(runs: Sequence[str]) -> list[str]:
    named = [r for r in runs if "/" in r]
    if named:
        raise click.UsageError(
            f"{named[0]!r} names a run: with --keep-last/--keep-since/--keep-tagged, name flows "
            "(or none, for every flow)")
    return list(runs)


def _hint(quiet: bool) -> None:
    if not quiet:
        click.echo("Their stored data is freed by `headwater gc`.")


GC_HELP = """Free the stored data (blobs) that no remaining run refers to.

Safe while runs are going: blobs newer than the grace period, or than the oldest live run, are
kept. A gc interrupted at any point leaves every run readable; run it again to finish.
Delete runs first with `headwater delete`. It also removes what writers killed mid-write left
(temp files untouched for a day; S3 multipart uploads begun a day ago), never a live writer's.

\b
  headwater gc --dry-run
  headwater gc --grace 2h
"""


@click.command("gc", help=GC_HELP)
@click.option("--grace", default="1h", show_default=True, metavar="DURATION",
              help="Keep unreferenced blobs younger than this (0, 90s, 10m, 1h, 2d).")
@_DRY
@_ROOT
@_META
@handle_errors
def gc(grace: str, dry_run: bool, datastore_root: str | None, metadata: str | None) -> None:
    from headwater.maintenance import collect_garbage
    from headwater.meta import open_metadata
    from headwater.store import open_storage
    from headwater.store.temp_sweep import STALE_AFTER_S

    grace_s = parse_duration(grace)
    settings = Settings.resolve(datastore_root=datastore_root, metadata=metadata)
    try:
        with open_metadata(settings.metadata_url, readonly=True) as meta, \
                open_storage(settings.datastore_root) as storage:
            report = collect_garbage(meta, storage, grace_s=grace_s, dry_run=dry_run)
            leftovers = 0 if dry_run else storage.cleanup_temp(older_than_s=STALE_AFTER_S)
    except OSError as exc:
        raise HeadwaterException(
            f"garbage collection of {settings.datastore_root} failed: {exc}",
            fix="check that the datastore root is reachable and writable, then run "
            "`headwater gc` again (it picks up where it stopped)") from exc
    if report.live_runs:
        click.echo(f"Live runs (their blobs and anything newer than they are kept): "
                   f"{', '.join(report.live_runs)}")
    if dry_run:
        click.echo(f"Would free {report.candidates} blob(s), {_size(report.candidate_bytes)}.")
    else:
        click.echo(f"Freed {report.deleted} blob(s), {_size(report.freed_bytes)}.")
    click.echo(f"Kept {report.referenced} blob(s) that runs refer to, and {report.young} "
               f"unreferenced blob(s) ({_size(report.young_bytes)}) newer than the grace.")
    if leftovers:
        click.echo(f"Removed {leftovers} unfinished write(s) that killed writers left behind.")
