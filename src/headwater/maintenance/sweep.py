"""``headwater gc``: delete the blobs no recorded run refers to, without losing one a run needs.

Mark and sweep, in this order (the argument is in docs/datastore.md):

1. **Bound.** ``cutoff`` = now minus the grace, and no later than the start of the oldest live
   run minus :data:`~headwater.store.datastore.CLAIM_TTL_S`. A writer gives every blob it saves a
   fresh modification time, whether it wrote it or found it there (``Storage.touch``), so every
   blob a live run will refer to is newer than the cutoff.
2. **Mark.** The blobs every recorded run refers to (any status), and the pinned ones.
3. **Recover.** Settle what a killed collector left half deleted (put back what is marked or
   fresh, delete the rest).
4. **Sweep.** The other blobs older than the cutoff; each is checked again as it is deleted
   (a writer may have touched it since the scan). Live cards and live logs of deleted runs go
   too.

Only blobs go, never metadata, so a collector killed at any point leaves every run whole, and the
next one finishes the job.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from headwater.env_numbers import env_count
from headwater.exceptions import MetadataError
from headwater.meta import MetadataStore
from headwater.store.datastore import BLOB_DIR, CLAIM_TTL_S, PIN_DIR
from headwater.store.storage import Storage

# Keys kept per run outside the blobs, laid out FLOW/RUN/...: live card renders
# (headwater.cards.render.live_key), live output (headwater.store.datastore.live_log_key) and
# the run's graph, FLOW/RUN.json (headwater.graph.export). Those of runs no longer recorded are
# swept with the blobs.
RUN_PREFIXES = ("cards/live/", "logs/live/", "graphs/")
DELETE_BATCH = 256  # keys handed to the backend at once (a remote one deletes them side by side)
KILL_AFTER_ENV = "HEADWATER_GC_KILL_AFTER"
"""Tests only: the collector SIGKILLs itself once it has deleted at least this many keys, to
prove that a collector killed midway leaves a store every reader and the next collector handle."""


@dataclass
class SweepReport:
    """What a collection found and did (or, dry, would do)."""

    cutoff: float
    live_runs: list[str] = field(default_factory=list)
    referenced: int = 0  # blobs kept because a run refers to them (or they are pinned)
    recorded_found: int = 0  # of those, the ones a run refers to (pins left out)
    young: int = 0  # unreferenced blobs kept because they are newer than the cutoff
    young_bytes: int = 0
    candidates: int = 0  # unreferenced blobs and orphan live keys older than the cutoff
    candidate_bytes: int = 0
    deleted: int = 0
    freed_bytes: int = 0
    recovered: int = 0  # half-deleted keys a killed collector left, settled now
    dry_run: bool = False


def collect_garbage(meta: MetadataStore, storage: Storage, *, grace_s: float,
                    dry_run: bool = False, now: float | None = None,
                    progress: Callable[[SweepReport], None] | None = None) -> SweepReport:
    """Delete (or, ``dry_run``, count) what no run needs; see the module docstring."""
    _refuse_empty_metadata(meta, storage)
    now = time.time() if now is None else now
    live = [row for row in meta.running_runs() if row.live_status == "running"]
    cutoff = now - max(grace_s, 0.0)
    if live:
        cutoff = min(cutoff, min(row.created_at for row in live) - CLAIM_TTL_S)
    report = SweepReport(cutoff=cutoff, live_runs=sorted(r.pathspec for r in live),
                         dry_run=dry_run)
    recorded = meta.referenced_blob_keys()
    keep = recorded | {key.rpartition("/")[2] for key, _, _ in storage.scan(PIN_DIR + "/")}
    if not dry_run:
        report.recovered = storage.recover_deletions(cutoff, keep)
    candidates = list(_blob_candidates(storage, keep, recorded, cutoff, report))
    _refuse_unrelated_metadata(meta, storage, recorded, candidates, report)
    runs = meta.run_ids()
    for prefix in RUN_PREFIXES:
        candidates += _orphan_run_keys(storage, prefix, runs, cutoff, report)
    report.candidates = len(candidates)
    report.candidate_bytes = sum(size for _, size in candidates)
    if not dry_run:
        _delete(storage, [key for key, _ in candidates], cutoff, report, progress)
    return report


def _refuse_empty_metadata(meta: MetadataStore, storage: Storage) -> None:
    """A metadata database that never recorded a flow, beside a store holding blobs, is almost
    surely the wrong database (a typo in --metadata, or the CLI started in another folder, which
    finds another .headwater/): collecting would delete every blob. Flows stay recorded when
    their runs are deleted, so a store whose runs were all deleted still has them."""
    if meta.list_flows():
        return
    if next(iter(storage.scan(BLOB_DIR + "/")), None) is not None:
        raise MetadataError(
            f"refusing to collect garbage in {storage.root}: it holds blobs, but the metadata "
            f"{meta!r} has never recorded a run, so every blob would look unused",
            fix="point --metadata (or HEADWATER_METADATA) at the database the runs were "
            "recorded in, or run `headwater gc` from the project folder whose .headwater/ holds it",
        )


def _refuse_unrelated_metadata(meta: MetadataStore, storage: Storage, recorded: set[str],
                               candidates: list[tuple[str, int]], report: SweepReport) -> None:
    """A metadata database whose runs refer to blobs, not one of which is in this store, holds
    another store's runs: `gc --datastore-root s3://team/...` started in a project folder whose
    own ``.headwater/`` has runs of its own, or a `--metadata` naming another project's database.
    Every blob here would look unused and be deleted (the empty-database check above does not
    see it: that database has flows). Checked after the listing, before anything is deleted. A
    database shared by several stores (laptops' folders beside a team's S3 bucket) refers to some
    blob of each store it is used with, and passes."""
    if not recorded or report.recorded_found or not candidates:
        return
    raise MetadataError(
        f"refusing to collect garbage in {storage.root}: the metadata {meta!r} refers to "
        f"{len(recorded)} blob(s), not one of which is in this store, so all {len(candidates)} "
        "old blob(s) here would look unused: the database holds another store's runs",
        fix="point --metadata (or HEADWATER_METADATA) at the database the runs in this store were "
        "recorded in, or --datastore-root at the store this database's runs were written to")


def _blob_candidates(storage: Storage, keep: set[str], recorded: set[str], cutoff: float,
                     report: SweepReport) -> Iterator[tuple[str, int]]:
    for key, size, modified in storage.scan(BLOB_DIR + "/"):
        name = key.rpartition("/")[2]
        if name in keep:
            report.referenced += 1
            report.recorded_found += name in recorded
        elif modified >= cutoff:
            report.young += 1
            report.young_bytes += size
        else:
            yield key, size


def _orphan_run_keys(storage: Storage, prefix: str, runs: set[tuple[str, str]], cutoff: float,
                     report: SweepReport) -> list[tuple[str, int]]:
    """Keys under ``prefix`` whose run is no longer recorded (the run was deleted)."""
    found = []
    for key, size, modified in storage.scan(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) < 2:
            continue
        run = (parts[0], parts[1].removesuffix(".json") if len(parts) == 2 else parts[1])
        if run in runs:
            continue
        if modified >= cutoff:
            report.young += 1
            report.young_bytes += size
        else:
            found.append((key, size))
    return found


def _delete(storage: Storage, keys: list[str], cutoff: float, report: SweepReport,
            progress: Callable[[SweepReport], None] | None) -> None:
    kill_after = env_count(KILL_AFTER_ENV, 0)
    size = 1 if kill_after else DELETE_BATCH
    for start in range(0, len(keys), size):
        batch = keys[start:start + size]
        for freed in storage.delete_many_unless_newer(batch, cutoff):
            if freed is not None:
                report.deleted += 1
                report.freed_bytes += freed
        if kill_after and report.deleted >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        if progress is not None:
            progress(report)
