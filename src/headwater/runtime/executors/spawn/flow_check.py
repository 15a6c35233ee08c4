"""A spawned task imports the flow file anew, so it checks first that the file is still the
one the run started with.

The local executor imports the flow once, before the run, and forks every task from that: an
edit or a deletion of the file mid-run changes nothing there. A spawned task's interpreter reads
the file when the task starts: deleted, it could not import it; edited, it would run the new
code beside tasks that ran the old, in one run, without a word. Either way the task fails, saying
what happened and what to do; ``resume`` then runs what is left with the file as it is.
"""

from __future__ import annotations

import hashlib


def file_digest(path: str) -> str | None:
    """The SHA-256 of the file at ``path``, or None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def changed_since_launch(path: str, expected: str | None) -> str | None:
    """Why the flow file at ``path`` is not the one the run started with, or None when it is
    (or when no digest was taken at launch)."""
    if expected is None:
        return None
    found = file_digest(path)
    if found is None:
        return (f"the flow file {path} was deleted, moved or made unreadable while the run went "
                "on, and a spawned task imports it anew; put it back as it was and `resume` "
                "the run (or run with --executor local, whose tasks import the flow once, at "
                "launch)")
    if found != expected:
        return (f"the flow file {path} was edited while the run went on; this task would run "
                "the new code beside tasks that ran the old one, so it does not run. `resume` "
                "the run to run what is left with the file as it is now (or run with --executor "
                "local, whose tasks import the flow once, at launch)")
    return None
