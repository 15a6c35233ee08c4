"""Dropping @cache entries (``headwater cache clear``): later runs then run those tasks again.

An entry is a succeeded task recorded under a cache key (:mod:`headwater.runtime.step_cache`).
Dropping it forgets the key only: the task stays in its run, with its data, as history. The data
is freed like any run's, once no run refers to it (``headwater delete`` the runs, then
``headwater gc``): a cache entry never keeps a blob alive on its own.
"""

from __future__ import annotations

from headwater.exceptions import NotFoundError
from headwater.meta import MetadataStore
from headwater.spelling import closest


def cache_entries(meta: MetadataStore, flow: str) -> dict[str, int]:
    """Step -> how many of ``flow``'s tasks later runs could reuse; the flow must be recorded."""
    if meta.get_flow(flow) is None:
        close = closest(flow, meta.list_flows())
        hint = f"; did you mean {close}?" if close else ""
        raise NotFoundError(f"no flow named {flow} in the metadata{hint}",
                            fix="list the flows and their runs with `headwater runs`")
    return meta.cache_entries(flow)


def clear_cache_entries(meta: MetadataStore, flow: str, step: str | None = None, *,
                        dry_run: bool = False) -> int:
    """Drop (or, ``dry_run``, count) the entries of ``flow``, or of its ``step``; how many."""
    entries = cache_entries(meta, flow)
    if step is not None and step not in entries:
        close = closest(step, entries)
        if close is not None:
            raise NotFoundError(
                f"flow {flow} has no cache entries of a step '{step}'; did you mean '{close}'?",
                fix=f"`headwater cache list {flow}` shows the steps that have entries")
        return 0
    if dry_run:
        return entries[step] if step is not None else sum(entries.values())
    return meta.clear_cache(flow, step)
