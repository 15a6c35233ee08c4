"""``python -m headwater.runtime.remote_task RESULT_FILE``: one task, in a process of its own.

A scale-out worker (see ``executors/dask_worker.py``) starts this with a pickled payload on
stdin: the TaskSpec, the datastore root and the code package. It fetches the code package from
the datastore (unpacked once per content key into a cache folder), imports the flow from it,
runs the task through :func:`~headwater.runtime.task.execute_task` (blobs go to the run's
datastore) and writes the pickled TaskResult to RESULT_FILE. Nothing here touches metadata.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from typing import Any

CACHE_ENV = "HEADWATER_CODE_CACHE"


def code_cache_dir() -> str:
    """Where code packages are unpacked: ``$HEADWATER_CODE_CACHE``, else a folder in tmp."""
    return os.environ.get(CACHE_ENV) or os.path.join(tempfile.gettempdir(), "headwater-code")


def unpack_code(store: Any, key: str) -> str:
    """The folder holding code package ``key``, fetched and unpacked on first use."""
    target = os.path.join(code_cache_dir(), key)
    if os.path.isdir(target):
        return target
    data = store.load_bytes(key, what=f"code package {key}")
    os.makedirs(code_cache_dir(), exist_ok=True)
    staging = f"{target}.{uuid.uuid4().hex}.tmp"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+: refuse links and paths outside
            tar.extractall(staging, filter="data")
        else:  # pragma: no cover - older Pythons; the package is ours, made at launch
            tar.extractall(staging)  # noqa: S202
    try:
        os.rename(staging, target)  # atomic: a concurrent task may have won the race
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_flow_class(folder: str, code: dict[str, Any]) -> type:
    """Import the flow module from ``folder`` under the name the launcher used, if it can.

    A flow run as a script is ``__main__`` there; here it is imported under a neutral name and
    its class found by name.
    """
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name, rel_path, class_name = code["module"], code["path"], code["class"]
    module = None
    if module_name != "__main__":
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
    if module is None:
        stem = os.path.splitext(os.path.basename(rel_path))[0]
        name = f"_headwater_flow_{stem}"
        spec = importlib.util.spec_from_file_location(name, os.path.join(folder, rel_path))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    flow_cls = getattr(module, class_name, None)
    if not isinstance(flow_cls, type):
        raise ImportError(f"the code package has no flow class {class_name} in {rel_path}")
    return flow_cls


def _exit_with_parent() -> None:
    """Should the worker die, end this task too instead of leaving it running unowned."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, daemon=True, name="headwater-parent-watch").start()


def main(argv: list[str]) -> int:
    from headwater.graph import check_flow
    from headwater.records import TaskFailure, TaskResult
    from headwater.runtime.task import execute_task
    from headwater.store import open_datastore

    _exit_with_parent()
    result_path = argv[0]
    payload = pickle.loads(sys.stdin.buffer.read())
    spec = payload["spec"]
    try:
        store = open_datastore(payload["root"])
        folder = unpack_code(store, payload["code"]["key"])
        flow_cls = load_flow_class(folder, payload["code"])
        graph = check_flow(flow_cls)
    except Exception as exc:  # noqa: BLE001 - reported as the task's failure
        result = TaskResult(failure=TaskFailure(
            "CodePackageError", f"task {spec.pathspec} could not load its flow: "
            f"{type(exc).__name__}: {exc}"))
        print(result.failure.message, file=sys.stderr)
    else:
        result = execute_task(flow_cls, graph, spec, store)
    sys.stdout.flush()
    sys.stderr.flush()
    staging = f"{result_path}.tmp"
    with open(staging, "wb") as handle:
        handle.write(pickle.dumps(result, protocol=5))
    os.replace(staging, result_path)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
