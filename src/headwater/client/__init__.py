"""Read past and running flows, as with Metaflow's client: ``Flow('PetsFlow').latest_run.data``.

Everything here reads the metadata database (read-only, never blocking a running flow) and
loads artifact values from the datastore only when they are accessed.
"""

from __future__ import annotations

from headwater.client import _context
from headwater.client.artifacts import DataArtifact, MetaflowArtifacts, MetaflowData
from headwater.client.core import Flow, Metaflow, Run, Step, Task
from headwater.client.namespace import default_namespace, get_namespace, namespace

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
