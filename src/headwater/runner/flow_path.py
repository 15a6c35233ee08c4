"""Why a flow file given to ``Runner`` / ``Deployer`` was not found, as a clause to add."""

from __future__ import annotations

import os


def missing_flow_file_hint(flow_file: str | os.PathLike, cwd: str | os.PathLike | None,
                           who: str) -> str:
    """``; did you mean 'proj/sweep.py'?`` for the usual slips: the ``.py`` left out, the file
    given relative to ``cwd=`` (it is read from this process's folder, as Metaflow's is), or a
    file of that name one folder below (a notebook at the project's root)."""
    given = os.fspath(flow_file)
    candidates = [f"{given}.py"] if not given.endswith(".py") else []
    if cwd is not None and not os.path.isabs(given):
        inside = os.path.join(os.fspath(cwd), given)
        if os.path.isfile(inside):
            return (f"; it is in cwd={os.fspath(cwd)!r}, but the flow file is read from this "
                    f"process's folder ({os.getcwd()}): give {who}({inside!r}, cwd=...)")
    if not os.path.isabs(given) and os.sep not in given:
        try:
            below = sorted(os.listdir("."))[:200]
        except OSError:
            below = []
        candidates += [os.path.join(d, name) for d in below if os.path.isdir(d)
                       for name in (given, f"{given}.py")]
    found = next((c for c in candidates if os.path.isfile(c)), None)
    return f"; did you mean {who}({found!r})?" if found else ""
