"""The packages a step's environment needs because of where its run keeps its data.

A task in a @pypi/@conda environment runs in that environment's interpreter: it writes its
artifacts to the run's datastore from there, and a step that reads the run's metadata
(``current.run``, the client) opens the metadata store from there too. The client libraries of
those backends (s3fs for S3, psycopg for PostgreSQL, ...) must therefore be installed in the
environment, not only in the launcher's Python, or every such step fails though the user's own
packages are all there. Each backend declares what its tasks need
(:attr:`headwater.backends.Backend.task_requires`); this module gathers those of the backends a
run chose, and the environment builder adds them to every environment it resolves, as
headwater's own core dependencies are added.
"""

from __future__ import annotations

from headwater import backends


def backend_packages(datastore_root: str, metadata_url: str) -> dict[str, str]:
    """Requirement -> why it is needed (``"the s3 datastore"``), for the datastore at
    ``datastore_root`` and the metadata store at ``metadata_url``. Empty for a local run."""
    needed: dict[str, str] = {}
    for kind, url, label in (("datastore", datastore_root, "datastore"),
                             ("metadata", metadata_url, "metadata store")):
        backend, _ = backends.for_url(kind, url)
        for requirement in backend.task_requires:
            needed.setdefault(requirement, f"the {backend.name} {label}")
    return needed


def describe(needed: dict[str, str]) -> str:
    """``s3fs>=2024.2 (the s3 datastore), ...``: what is added, and why."""
    return ", ".join(f"{requirement} ({why})" for requirement, why in needed.items())
