"""``python flow.py environment resolve|show``: each step's environment, as text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headwater.environments.declaration import step_declarations
from headwater.environments.lock import EnvLock
from headwater.environments.prepare import lock_for, prepare_environments
from headwater.redaction import hide_url_credentials


def _lines(step: str, lock: EnvLock | None, described: str, full: bool) -> list[str]:
    head = f"step {step}: {described}"
    if lock is None:
        return [head, "    not resolved yet (python FLOW_FILE environment resolve)"]
    body = hide_url_credentials(lock.lock).splitlines() if full else lock.pinned()
    return [f"{head} -> environment {lock.id} (python {lock.python})",
            *(f"    {line}" for line in body if line.strip())]


def resolve_report(flow_cls: type, policies: Mapping[str, Any],
                   say: Callable[[str], None], full: bool = False,
                   needs: Mapping[str, str] | None = None) -> list[str]:
    """Resolve and build every step's environment now; the lines describing them. ``needs``:
    what the datastore and metadata backends a run would use need in a task (as ``run``)."""
    built = prepare_environments(flow_cls, policies, say, needs=needs)
    declarations = step_declarations(flow_cls, policies)
    out: list[str] = []
    for step in policies:
        if step in built:
            out += _lines(step, built[step].lock, declarations[step].describe(), full)
        else:
            out.append(f"step {step}: the flow's own Python (no @pypi/@conda)")
    return out


def show_report(flow_cls: type, policies: Mapping[str, Any], full: bool = False,
                needs: Mapping[str, str] | None = None) -> list[str]:
    """Every step's declaration and its lock if resolved before (nothing is resolved here)."""
    declarations = step_declarations(flow_cls, policies)
    out: list[str] = []
    for step in policies:
        declared = declarations.get(step)
        if declared is None:
            out.append(f"step {step}: the flow's own Python (no @pypi/@conda)")
        else:
            lock = lock_for(declared, resolve=False, needs=needs)
            out += _lines(step, lock, declared.describe(), full)
    return out
