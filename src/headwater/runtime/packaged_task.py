"""One task of a code package, in a process of its own: :func:`run_payload`.

Two callers, so it lives with neither: a Dask worker's fork server (see
``executors/dask/worker_forks.py``) forks a child per task and hands it a pickled payload, and a
deployed task (``cli/deployed_task_cmd.py``, and ``runtime/deployed_env.py`` for a step with its
own environment) loads its flow and runs its step here too. The payload is the TaskSpec, the datastore root and the code package. The child
fetches the code package from the datastore (unpacked once per content key into a private cache
folder, see :mod:`headwater.store.code_package`), imports the flow from it
(:func:`headwater.flow_file.packaged_flow_class`) and runs the task through
:func:`~headwater.runtime.task.execute_task` (blobs go to the run's datastore); the TaskResult
goes back to the caller. Nothing here touches metadata.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

from headwater.flow_file import packaged_flow_class


def load_task_flow(root: str, code: dict[str, Any]) -> tuple[type, Any, Any]:
    """``(flow class, graph, datastore)`` for the code package ``code`` in the store at ``root``,
    or for the flow file in ``code["folder"]`` when it names one (a spin: the code as it is now)."""
    from headwater.graph import check_flow
    from headwater.store import code_package, open_datastore

    store = open_datastore(root)
    folder = code.get("folder") or code_package.unpack(store, code["key"])
    flow_cls = packaged_flow_class(folder, code)
    return flow_cls, check_flow(flow_cls), store


def run_payload(payload: bytes,
                loaded: tuple[str, str, tuple[type, Any, Any]] | None = None) -> Any:
    """Run the task ``payload`` describes (its spec, datastore root and code package) and return
    its TaskResult. Shared by the workers' fork servers and their children.

    ``loaded``: ``(root, code key, load_task_flow(...))`` done ahead, in the fork server, and
    used when the task's datastore and code package are those.
    """
    from headwater.records import TaskFailure, TaskResult
    from headwater.runtime.task import execute_task

    task = pickle.loads(payload)
    spec = task["spec"]
    _as_the_run(spec, task["root"])
    if loaded is not None and loaded[:2] == (task["root"], task["code"].get("key")):
        flow_cls, graph, store = loaded[2]
        return execute_task(flow_cls, graph, spec, store)
    try:
        flow_cls, graph, store = load_task_flow(task["root"], task["code"])
    except Exception as exc:  # noqa: BLE001 - reported as the task's failure
        result = TaskResult(failure=TaskFailure(
            "CodePackageError", f"task {spec.pathspec} could not load its flow on the worker: "
            f"{type(exc).__name__}: {exc}{_load_fix(exc)}"))
        print(result.failure.message, file=sys.stderr)
        return result
    return execute_task(flow_cls, graph, spec, store)


def _as_the_run(spec: Any, root: str) -> None:
    """Give this task process what a local task inherits from the launching one: the client
    reads the run's datastore and metadata (``Task(current.pathspec)`` inside a step; a worker's
    folder is not the flow's), and ``METAFLOW_USER`` is the run's user, as Metaflow's remote
    tasks see it. Set in the environment, so processes the step starts see them too."""
    where = (getattr(spec, "extra", None) or {}).get("current", {}).get("_hw_settings")
    os.environ["HEADWATER_DATASTORE_ROOT"] = root
    if where is not None and where[1]:
        os.environ["HEADWATER_METADATA"] = str(where[1])
    if getattr(spec, "username", ""):
        os.environ["METAFLOW_USER"] = spec.username


def _load_fix(exc: Exception) -> str:
    """What to do about a flow that imports on the launching machine but not on a worker."""
    if isinstance(exc, ImportError) and exc.name:
        top = exc.name.split(".")[0]
        return (f". Fix: install {top!r} on the workers (as on this machine), or move the module "
                "into the flow file's folder so it travels in the code package")
    return ""
