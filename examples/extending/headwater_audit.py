"""An example package adding two backends to headwater through entry points (docs/extending.md).

- the executor ``audited``: runs tasks as the local executor does and appends each task's
  pathspec to the file its own option names (``--audit-file``, ``HEADWATER_AUDIT_FILE``, or
  ``audit_file`` in a profile);
- the datastore ``folder``: serves ``folder:///some/path`` roots from a local folder.

Its package metadata declares them (``pyproject.toml`` of the package)::

    [project.entry-points."headwater.executors"]
    audited = "headwater_audit:EXECUTOR"

    [project.entry-points."headwater.datastores"]
    folder = "headwater_audit:DATASTORE"
"""

from __future__ import annotations

from typing import Any

from headwater.backends import Backend, BackendOption

# The declarations: cheap to import, read when the command line is built.
EXECUTOR = Backend(
    kind="executor", name="audited", target="headwater_audit:create_executor",
    summary="the local executor, writing each task it starts to an audit file",
    options=(BackendOption("audit_file", "Append each task's pathspec to this file.", "PATH"),),
)
DATASTORE = Backend(
    kind="datastore", name="folder", target="headwater_audit:FolderStorage",
    summary="folder:///path roots, kept in a local folder", schemes=("folder",),
)


def create_executor(context: Any, *, audit_file: str | None = None, **options: Any) -> Any:
    """The executor's factory: called once per run with the run's context (the flow class, its
    graph, the datastore, max_workers, the ``current`` fields) and this backend's options."""
    from headwater.runtime.executors import local

    return _audited_class()(local.create(context), audit_file or "audit.log")


def _audited_class() -> type:
    from headwater.runtime.executors.base import Executor

    class AuditedExecutor(Executor):
        """Delegates to another executor and notes every task it submits."""

        def __init__(self, inner: Executor, path: str) -> None:
            self._inner = inner
            self._path = path

        def submit(self, key: str, spec: Any) -> None:
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(f"{spec.pathspec}\n")
            self._inner.submit(key, spec)

        def poll(self, timeout: float | None) -> list[Any]:
            return self._inner.poll(timeout)

        def kill(self, key: str, *, force: bool = False) -> None:
            self._inner.kill(key, force=force)

        def close(self) -> None:
            self._inner.close()

        @property
        def running(self) -> int:
            return self._inner.running

    return AuditedExecutor


def _folder_storage() -> type:
    from headwater.store.local_storage import LocalStorage

    class FolderStorage(LocalStorage):
        """``folder:///abs/path``: the blobs live in the local folder ``/abs/path``."""

        def __init__(self, url: str) -> None:
            super().__init__(url.partition("://")[2])

    return FolderStorage


def __getattr__(name: str) -> Any:
    if name == "FolderStorage":  # built on first use: declaring it imports no storage code
        return _folder_storage()
    raise AttributeError(name)
