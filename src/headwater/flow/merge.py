"""``merge_artifacts``: carry over the artifacts a join's inputs agree on, by hash alone.

Values are never loaded: two inputs agree on an artifact when its blob key is the same. That makes a
join that only passes data through cost metadata, not data (USERS.md, MF#555).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.exceptions import (
    ConflictingArtifactsError,
    MergeArtifactsError,
    MissingArtifactsToMergeError,
)

if TYPE_CHECKING:
    from headwater.flow.flowspec import FlowSpec, TaskState
    from headwater.flow.inputs import Inputs


def merge_into(flow: FlowSpec, state: TaskState, inputs: Inputs, *, include: list[str] | None,
               exclude: list[str] | None) -> None:
    where = f"join step '{state.step_name}' of flow {type(flow).__name__}"
    if include and exclude:
        raise MergeArtifactsError(f"{where}: pass include= or exclude= to merge_artifacts, not both")
    if state.merged:
        raise MergeArtifactsError(f"{where}: merge_artifacts() may be called only once per step")
    candidates: dict[str, set[str]] = {}
    refs = {}
    for inp in inputs:
        params = inp._params
        for name, ref in inp._inherited().items():
            if name in params:
                continue
            candidates.setdefault(name, set()).add(ref.key)
            refs[name] = ref
    if include:
        # A name the join already has (set before the merge, a parameter, a class constant) is
        # not missing, though no input brings it: it is kept as it is, as Metaflow keeps it.
        missing = [n for n in include if n not in candidates and not hasattr(flow, n)]
        if missing:
            raise MissingArtifactsToMergeError(
                f"{where}: merge_artifacts(include=...) names artifacts no input has: "
                + ", ".join(sorted(missing)),
                artifact_names=missing,
            )
        names = [n for n in include if n in candidates]
    else:
        skip = set(exclude or ())
        names = [n for n in candidates if n not in skip]
    explicit = {n for n in names if n in flow.__dict__}
    conflicts = sorted(n for n in names if n not in explicit and len(candidates[n]) > 1)
    if conflicts:
        listed = ", ".join(conflicts)
        raise ConflictingArtifactsError(
            f"{where}: inputs disagree on {listed}, so merge_artifacts cannot choose a value",
            artifact_names=conflicts,
            fix=f"set them in the join before merging (e.g. self.{conflicts[0]} = ...) "
            f"or pass exclude={conflicts!r}",
        )
    # Only a merge that succeeds counts: a refused one changes nothing and may be retried.
    state.merged = True
    for name in names:
        if name not in explicit:
            state.view.inherited[name] = refs[name]
            state.view.deleted.discard(name)
