"""Deleting runs from the metadata: the client no longer finds them; ``gc`` frees their blobs.

A run is refused while it is live (its scheduler holds its lock or beats its heart; see
:mod:`headwater.meta.liveness`): its tasks are still writing rows and blobs. So is a run that a
live run resumes from: the resume copies the origin's artifact records as it goes, and deleting
them from under it would lose what it has not copied yet. Once a resume has copied a task, the
copy refers to the same blobs on its own, so deleting the origin afterwards frees only what the
resumed run does not share.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater import fault_points
from headwater.exceptions import NotFoundError, RunInUseError
from headwater.meta import MetadataStore, RunRow
from headwater.spelling import closest


def check_deletable(meta: MetadataStore, flow: str, run_id: str) -> RunRow:
    """The run's row if ``flow/run_id`` may be deleted now; else the error saying why not."""
    row = meta.get_run(flow, run_id)
    if row is None:
        raise _missing_run(meta, flow, run_id)
    if row.live_status == "running":
        where = f" (scheduler pid {row.pid} on {row.host.split(' ')[0]})" if row.pid and row.host \
            else ""
        raise RunInUseError(
            f"run {flow}/{run_id} is still running{where}: a live run cannot be deleted",
            fix=f"wait for it to finish (or stop it, e.g. kill its scheduler), then "
            f"`headwater delete {flow}/{run_id}` again",
        )
    for other in meta.running_runs():
        if (other.flow == flow and other.origin_run_id == run_id
                and other.live_status == "running"):
            raise RunInUseError(
                f"run {flow}/{run_id} is the origin of run {flow}/{other.run_id}, which is "
                "resuming from it right now",
                fix=f"wait for run {flow}/{other.run_id} to finish, then delete {flow}/{run_id}",
            )
    return row


def _missing_run(meta: MetadataStore, flow: str, run_id: str) -> NotFoundError:
    """Why ``flow/run_id`` cannot be deleted: the run is gone, or the flow's name is not one
    the metadata knows (``PetFlow/2`` for ``PetsFlow/2``: then the close name, and the flows)."""
    if meta.get_flow(flow) is None:
        close = closest(flow, meta.list_flows())
        hint = f"; did you mean {close}/{run_id}?" if close else ""
        return NotFoundError(
            f"no flow named {flow} in the metadata, so no run {flow}/{run_id}{hint}",
            fix="list the flows and their runs with `headwater runs`")
    return NotFoundError(
        f"run {flow}/{run_id} is not in the metadata (already deleted, or never recorded)",
        fix=f"list the runs that exist with `headwater runs {flow}`",
    )


def delete_runs(meta: MetadataStore, pathspecs: Sequence[str], *,
                dry_run: bool = False) -> list[RunRow]:
    """Delete each ``FLOW/RUN_ID`` (every one checked first: one refused deletes none);
    return the rows deleted (or, with ``dry_run``, that would be)."""
    rows = [check_deletable(meta, *split_pathspec(p)) for p in dict.fromkeys(pathspecs)]
    if not dry_run:
        for row in rows:
            delete_checked(meta, row.flow, row.run_id)
    return rows


def delete_checked(meta: MetadataStore, flow: str, run_id: str) -> None:
    """Delete one run, checking again inside the deleting transaction (a resume of it may have
    started since the first check)."""
    meta.delete_run(flow, run_id, check=lambda: check_deletable(meta, flow, run_id))
    fault_points.hold("delete.committed")


def split_pathspec(pathspec: str) -> tuple[str, str]:
    """``"Flow/12"`` -> ``("Flow", "12")``; anything else is refused, naming it."""
    flow, _, run_id = pathspec.partition("/")
    if not flow or not run_id or "/" in run_id:
        raise NotFoundError(
            f"{pathspec!r} does not name a run",
            fix="name runs as FLOW/RUN_ID, e.g. `headwater delete HelloFlow/12`",
        )
    return flow, run_id
