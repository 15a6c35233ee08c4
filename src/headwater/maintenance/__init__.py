"""Keeping a store bounded: deleting runs, choosing which to delete, collecting the garbage.

Two steps, each safe alone and while runs go on:

- :mod:`.deletion` removes runs from the metadata (one transaction per run; never a live run,
  never the origin of a live resume). Their blobs stay: other runs may share them.
- :mod:`.sweep` (``headwater gc``) deletes the blobs no remaining run refers to, older than a
  grace period and than every live run.

:mod:`.retention` picks the runs a retention policy (keep the last N, the recent, the tagged)
lets go, for ``headwater delete --keep-last ...``. The argument for why nothing a run needs is
ever collected is in ``docs/datastore.md`` ("Deleting runs and garbage collection").
"""

from headwater.maintenance.deletion import check_deletable, delete_checked, delete_runs
from headwater.maintenance.retention import Retention, expired_runs
from headwater.maintenance.sweep import SweepReport, collect_garbage

__all__ = [
    "Retention",
    "SweepReport",
    "check_deletable",
    "delete_checked",
    "collect_garbage",
    "delete_runs",
    "expired_runs",
]
