"""What the client says about the @pypi/@conda environment a step's tasks ran in.

The run records its steps' locks (``RunRow.environments_json``); this reads one step's back as
a plain dict, the shape of Metaflow's ``Task.environment_info`` in spirit: the kind, the exact
Python, the packages as declared, every pinned package, and the lock itself.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.meta.rows import RunRow


def environment_info(run_row: RunRow, step: str) -> dict[str, Any] | None:
    """The environment of ``step`` in the run, or None when it ran in the flow's interpreter."""
    record = run_row.environments  # checked: a damaged record is a MetadataError naming the run
    if record is None:
        return None
    lock_id = record["steps"].get(step)
    if lock_id is None:
        return None
    lock = record["locks"][lock_id]
    text = lock["lock"]
    if lock["kind"] == "conda":  # JSON (checked with the record): the PyPI lock and conda's
        data = json.loads(text)
        text = data["runtime"]
        conda = [f"{r['name']}=={r['version']}" for r in data["conda"]]
    else:
        conda = []
    pinned = sorted(conda + [line.split()[0] for line in text.splitlines()
                             if line and not line[0].isspace() and not line.startswith("#")])
    return {"type": lock["kind"], "env_id": lock_id, "python_version": lock["python"],
            "declared": lock["declared"], "packages": pinned, "lock": lock["lock"]}
