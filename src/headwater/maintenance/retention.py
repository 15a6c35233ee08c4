"""Which runs a retention policy lets go: every run that no keep rule holds.

A run is kept if it is among the ``keep_last`` newest runs of its flow, or started at or after
``keep_since``, or carries a user tag (``keep_tagged``), or is live (never deleted). With no rule
given, nothing is kept but live runs: the CLI insists on at least one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headwater.exceptions import NotFoundError
from headwater.meta import MetadataStore, RunRow


@dataclass(frozen=True)
class Retention:
    """What to keep. ``None`` / ``False`` leaves a rule out."""

    keep_last: int | None = None
    keep_since: float | None = None  # a Unix time
    keep_tagged: bool = False

    def keeps(self, row: RunRow, rank: int) -> bool:
        """Whether ``row``, the ``rank``-th newest run of its flow (0 = newest), is kept."""
        if row.live_status == "running":
            return True
        if self.keep_last is not None and rank < self.keep_last:
            return True
        if self.keep_since is not None and row.created_at >= self.keep_since:
            return True
        return self.keep_tagged and bool(row.tags)


def expired_runs(meta: MetadataStore, flows: Sequence[str],
                 retention: Retention) -> list[RunRow]:
    """The runs of ``flows`` (every flow when empty) that ``retention`` does not keep, oldest
    first within each flow."""
    known = meta.list_flows()
    unknown = [flow for flow in flows if flow not in known]
    if unknown:
        raise NotFoundError(
            f"flow {unknown[0]} has no runs in the metadata",
            fix=f"name a flow that has runs: {', '.join(known) or '(none recorded yet)'}",
        )
    expired: list[RunRow] = []
    for flow in flows or known:
        runs = meta.list_runs(flow)  # newest first
        expired += reversed([row for rank, row in enumerate(runs)
                             if not retention.keeps(row, rank)])
    return expired
