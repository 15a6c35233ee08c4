"""Which task set an artifact's value: the UI's "set by" link from an artifact to its maker.

A task's manifest holds every artifact it has, inherited ones included (a foreach task carries
``start``'s data). What the reader wants from an artifact row is the task whose code gave the
value, where its logs and inputs explain it. The stored value is content-addressed, so a value
passed on unchanged keeps its key: walking up the task's first inputs while the input holds the
same name with the same key finds the earliest task on that line that held it. A join's
merged artifact is equal in every input that has it (``merge_artifacts`` refuses otherwise), so
the first input is as good as any.

Bounded: at most :data:`ANCESTORS_READ` tasks up (two metadata queries each), so a loop run for
thousands of iterations costs the same as a short flow; a name still inherited at the bound is
left unknown rather than named wrongly. A value set again to an equal value (``self.x = 1`` in
two steps) is said to come from the earlier task: the two cannot be told apart in the records.
"""

from __future__ import annotations

from typing import Any

from headwater.meta import MetadataStore
from headwater.meta.rows import TaskRow

ANCESTORS_READ = 64


def makers(meta: MetadataStore, row: TaskRow, manifest: dict[str, Any],
           names: list[str]) -> dict[str, str | None]:
    """name -> pathspec of the task that set the value of each of ``names`` in ``row``'s
    ``manifest`` (``row``'s own pathspec when the task set it itself; None when the walk
    stopped at its bound with the value still inherited)."""
    made: dict[str, str | None] = {name: row.pathspec for name in names}
    following = {name: manifest[name].key for name in names}
    current = row
    for _ in range(ANCESTORS_READ):
        if not following or not current.parents:
            return made
        step, _, task_id = current.parents[0].partition("/")
        parent = meta.get_task(row.flow, row.run_id, step, task_id)
        if parent is None:
            return made
        held = meta.get_artifacts(row.flow, row.run_id, step, task_id)
        still = {}
        for name, key in following.items():
            ref = held.get(name)
            if ref is not None and ref.key == key:
                made[name] = parent.pathspec
                still[name] = key
        following, current = still, parent
    for name in following:  # the bound reached with these still inherited: not known
        made[name] = None
    return made
