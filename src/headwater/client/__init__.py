"""Read past and running flows, as with Metaflow's client: ``Flow('PetsFlow').latest_run.data``.

Everything here reads the metadata database (read-only, never blocking a running flow) and
loads artifact values from the datastore only when they are accessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.client import _context
from headwater.client.artifacts import DataArtifact, MetaflowArtifacts, MetaflowData
from headwater.client.core import Flow, Metaflow, Run, Step, Task
from headwater.client.namespace import default_namespace, get_namespace, namespace
from headwater.flow.current import current, register_computed
from headwater.settings import Settings

__all__ = [
    "DataArtifact",
    "Flow",
    "Metaflow",
    "MetaflowArtifacts",
    "MetaflowData",
    "Run",
    "Step",
    "Task",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "inspect_spin",
    "metadata",
    "namespace",
]


def _running(kind: str) -> Any:
    """``current.run`` / ``current.task``: the client object of the running task's run or task,
    read from the metadata store the run writes to (namespace checks off: it is your own run)."""

    def make(cur: Any) -> Any:
        where = cur._extra.get("_hw_settings")
        if where is not None:
            _context.ensure(Settings.resolve(datastore_root=where[0], metadata=where[1]))
        if kind == "run":
            return Run(f"{cur.flow_name}/{cur.run_id}", _namespace_check=False)
        return Task(cur.pathspec, _namespace_check=False)

    return make


register_computed("run", _running("run"))
register_computed("task", _running("task"))


def metadata(ms: str) -> str:
    """Point the client at another metadata store and return its description.

    ``ms`` (Metaflow's name for it) is ``"local"``, ``"local@<datastore root>"``, a datastore root folder (or one
    holding ``.headwater/``), or a metadata database file. The switch is process-wide.
    """
    return _context.describe(_context.use(_context.settings_for(ms)).settings)


def default_metadata() -> str:
    """Go back to the metadata store the client reads before any :func:`metadata` call (inside a
    running task: the one its run writes to) and return its description, as Metaflow's
    function of the same name does."""
    where = current._extra.get("_hw_settings") if current.is_running_flow else None
    settings = (Settings.resolve(datastore_root=where[0], metadata=where[1]) if where
                else Settings.resolve())
    return _context.describe(_context.use(settings).settings)


def get_metadata() -> str:
    """The metadata store in use, as ``local@<datastore root>`` (Metaflow's format)."""
    return _context.describe(_context.current().settings)


def inspect_spin(datastore_root: str = ".") -> str:
    """Point the client at the tasks ``spin`` recorded for the datastore in (or at)
    ``datastore_root``, as Metaflow's function of the same name; ``metadata("local")`` goes
    back to the runs."""
    return metadata(f"spin@{datastore_root}")


def use_settings(settings: Settings) -> None:
    """Point the client at the datastore and metadata ``settings`` name (the CLI's commands
    read what the flow's options chose). Not in ``__all__``: for headwater's own command line."""
    _context.use(settings)


def run_found_by(settings: Settings, find: Callable[[Any], Any]) -> Run | None:
    """The client Run for the row ``find(meta)`` returns from the metadata ``settings`` name (the
    context is switched there first, as :func:`ensure` does), or None. For the Runner, which
    finds its run by the process that made it."""
    row = find(_context.ensure(settings).meta)
    return Run._of(row) if row is not None else None
