"""Read past and running flows, as with Metaflow's client: ``Flow('PetsFlow').latest_run.data``.

Everything here reads the metadata database (read-only, never blocking a running flow) and
loads artifact values from the datastore only when they are accessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.client import _context
from headwater.client.artifacts import DataArtifact, MetaflowArtifacts, MetaflowData
from headwater.client.core import Flow, Metaflow, Run, Step, Task
from headwater.client.namespace import default_namespace, get_namespace, namespace

if TYPE_CHECKING:
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
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
]


def metadata(spec: str) -> str:
    """Point the client at another metadata store and return its description.

    ``spec`` is ``"local"``, ``"local@<datastore root>"``, a datastore root folder (or one
    holding ``.headwater/``), or a metadata database file. The switch is process-wide.
    """
    return _context.describe(_context.use(_context.settings_for(spec)).settings)


def get_metadata() -> str:
    """The metadata store in use, as ``local@<datastore root>`` (Metaflow's format)."""
    return _context.describe(_context.current().settings)


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
