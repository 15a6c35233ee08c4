"""Client-side errors and the "not found" messages that say what does exist.

:class:`MissingChild` is also a ``KeyError`` (``flow['99']``, ``run['nope']`` behave like a
mapping) and :class:`MissingArtifact` also an ``AttributeError`` (``task.data.nope`` works with
``hasattr`` and ``getattr(..., default)``); both are :class:`NotFoundError` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from headwater.exceptions import HeadwaterException, NotFoundError
from headwater.spelling import closest

_Hinted = TypeVar("_Hinted", bound="_LateHint")


class _LateHint(NotFoundError):
    """A not-found error whose last clause is looked up only when its message is read: a
    lookup that costs queries (which other step has the artifact) is not paid by
    ``hasattr(run.data, 'x')``, which only asks whether it raises."""

    _late: Callable[[], str] | None = None

    def later(self: _Hinted, find: Callable[[], str]) -> _Hinted:
        self._late = find
        return self

    def __str__(self) -> str:
        find, self._late = self._late, None
        if find is not None:
            extra = find()
            if extra:
                self.msg += extra
                self.args = (f"{self.args[0]}{extra}", *self.args[1:])
        return BaseException.__str__(self)  # KeyError's would quote the whole message


class MissingChild(_LateHint, KeyError):
    """``parent[child]`` named something that does not exist."""


class MissingArtifact(_LateHint, AttributeError):
    """``task.data.<name>`` named an artifact the task does not have."""


class TaggingError(HeadwaterException):
    """A tag operation the rules forbid (removing a system tag, an invalid tag)."""

    headline = "Invalid tag operation"


def some(names: Sequence[str], limit: int = 5) -> str:
    """``"a, b, c"`` or ``"a, b, c, d, e and 12 more"``: enough to orient, never a wall."""
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """``"; did you mean 'train'?"`` when one of ``names`` is a close spelling of ``name``: a
    typo in a notebook (``run['trian']``, ``task.data.modle``) then reads as one."""
    close = closest(name, names)
    return f"; did you mean '{close}'?" if close else ""


def bad_pathspec(kind: str, pathspec: object, shape: str) -> NotFoundError:
    return NotFoundError(
        f"{pathspec!r} is not a {kind} pathspec", fix=f"a {kind} pathspec looks like '{shape}'"
    )


def flow_not_found(flow: str, known: Sequence[str], datastore_root: str) -> NotFoundError:
    """Names the datastore looked in: from another folder the client finds another (or none).
    A store in a folder below the working one that has the flow is named, with the call that
    reads it: a notebook at a project's root, the flows run in their own folders."""
    below = [] if flow in known else stores_below_with(flow, datastore_root)
    if below:
        listed = ", ".join(below)
        return NotFoundError(
            f"flow '{flow}' not found in the datastore {datastore_root}; it is in the store "
            f"{listed}, below the working folder",
            fix=f"in Python, call headwater.metadata({below[0]!r}) first; on the command line, "
            f"give --datastore-root {below[0]}; or work from the folder the flow ran in")
    return NotFoundError(
        f"flow '{flow}' not found; known flows: {some(known, 10)} "
        f"(looked in the datastore {datastore_root}){did_you_mean(flow, known)}",
        fix="run from the folder the flow ran in, set HEADWATER_DATASTORE_ROOT to its "
        ".headwater folder, or call headwater.metadata('/path/to/.headwater') first",
    )


def stores_below_with(flow: str, datastore_root: str, limit: int = 3) -> list[str]:
    """The local stores (``.headwater`` folders one or two levels below the working folder,
    at most 20 looked at) whose metadata records ``flow``, as paths relative to it. Best
    effort: read-only, and an unreadable database is passed over."""
    import os
    import sqlite3
    from contextlib import closing
    from glob import glob
    from pathlib import Path

    if "://" in datastore_root:
        return []
    here = os.path.realpath(datastore_root)
    found: list[str] = []
    candidates = [*sorted(glob("*/.headwater/meta.sqlite")),
                  *sorted(glob("*/*/.headwater/meta.sqlite"))]
    for path in candidates[:20]:
        store = os.path.dirname(path)
        if os.path.realpath(store) == here:
            continue
        try:
            with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                                         timeout=1)) as db:
                if db.execute("SELECT 1 FROM flows WHERE name = ?", (flow,)).fetchone():
                    found.append(store)
        except sqlite3.Error:
            continue
        if len(found) >= limit:
            break
    return found


# Run ids a user types meaning "the newest run" (`Run('F/latest')`, as in other tools'
# `latest` tags and `F/-1` indexing); the client spells it Flow('F').latest_run.
_LATEST_GUESSES = frozenset({"latest", "last", "newest", "recent", "current", "head", "-1",
                             "latest_run", "last_run", "latestrun", "lastrun"})
_SUCCESS_GUESSES = frozenset({"latest_successful", "latest_successful_run", "last_successful",
                              "successful", "latest_success", "last_success", "success"})


def run_not_found(flow: str, run_id: str, latest: Sequence[str], ns: str | None) -> str:
    where = "" if ns is None else f" in namespace '{ns}'"
    if not latest:
        return f"run '{flow}/{run_id}' not found; {flow} has no runs{where}"
    said = (f"run '{flow}/{run_id}' not found; the latest runs of {flow}{where} are "
            f"{some(latest)}")
    guess = run_id.strip().lower().replace("-", "_") if run_id.strip() != "-1" else "-1"
    if guess in _LATEST_GUESSES:
        said += (f"; '{run_id}' is no run id: the latest run is "
                 f"Flow('{flow}').latest_run (the latest that succeeded: "
                 f"Flow('{flow}').latest_successful_run), or Run('{flow}/{latest[0]}')")
    elif guess in _SUCCESS_GUESSES:
        said += (f"; '{run_id}' is no run id: the latest run that "
                 f"succeeded is Flow('{flow}').latest_successful_run")
    return said


def step_not_found(run_pathspec: str, step: str, steps: Sequence[str]) -> str:
    return (
        f"step '{run_pathspec}/{step}' not found; run {run_pathspec} has steps "
        f"{some(steps, 20)}{did_you_mean(step, steps)}"
    )


def task_not_found(step_pathspec: str, task_id: str, task_ids: Sequence[str]) -> str:
    return (
        f"task '{step_pathspec}/{task_id}' not found; step {step_pathspec} has tasks "
        f"{some(task_ids, 10)}"
    )


def artifact_not_found(task_pathspec: str, name: str, names: Sequence[str],
                       failed: bool = False) -> str:
    """``failed``: the task failed, which is then likely why an artifact it would have set is
    missing (a failed task keeps only what it set before raising, as Metaflow's does)."""
    message = (
        f"artifact '{name}' not found in task {task_pathspec}; it has "
        f"{some(sorted(names), 20)}{did_you_mean(name, names)}"
    )
    if failed:
        message += (
            "; that task failed, and a failed task keeps only what it set before it raised: "
            "task.exception says why it failed, and its inputs are on the tasks before it "
            "(task.parent_tasks)"
        )
    return message
