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

from headwater.exceptions import (
    ArtifactError,
    CodePackageError,
    HeadwaterException,
    StoreError,
)
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
    if "faults" in task:  # tests only: the run's fault point (headwater.fault_points)
        from headwater import fault_points

        fault_points.arm(task["faults"])
    spec = task["spec"]
    _as_the_run(spec, task["root"])
    if loaded is not None and loaded[:2] == (task["root"], task["code"].get("key")):
        flow_cls, graph, store = loaded[2]
        return execute_task(flow_cls, graph, spec, store)
    try:
        flow_cls, graph, store = load_task_flow(task["root"], task["code"])
    except Exception as exc:  # noqa: BLE001 - reported as the task's failure
        env = task.get("env_id") or (task["code"].get("env") or {}).get("id")
        if env:  # a @pypi/@conda step: its environment holds only what the lock lists
            error = flow_load_error(
                exc, f"task {spec.pathspec}", f"in its @pypi/@conda environment {env[:12]}",
                "in the step's environment (add it to the step's @pypi or @conda packages, or "
                "the flow's @pypi_base or @conda_base; or import it inside the steps using it)")
            if isinstance(exc, StoreError) and error.fix:  # e.g. no s3fs for an S3 datastore
                error = CodePackageError(error.msg, fix=(
                    f"{error.fix}; in a @pypi/@conda step, list that package among the step's "
                    "packages: its environment holds only what its lock lists"))
        else:
            error = flow_load_error(exc, f"task {spec.pathspec}", "on the worker",
                                    "on the workers (as on this machine)")
        result = TaskResult(failure=TaskFailure("CodePackageError", one_line(error)))
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


def flow_load_error(exc: BaseException, who: str, where: str,
                    install_on: str) -> CodePackageError:
    """The :class:`~headwater.exceptions.CodePackageError` for a flow that imports where it was
    launched but not from its code package ``where`` (``"on the worker"``, ...): what failed,
    and the fix. ``install_on`` says where a missing module belongs (``"on the workers"``).

    The one wording of this failure, for Dask workers and deployed tasks alike: the frames of
    headwater's import machinery in between tell the user nothing, so only what failed (with its
    file and line for a syntax error) is kept."""
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ArtifactError):  # the package's blob is missing or damaged
        what = f"{type(exc).__name__}: {exc.msg}"
        fix = ("give the task the datastore root the flow was launched or deployed with, or "
               "launch or deploy it again to store its code package anew")
    elif isinstance(exc, StoreError):  # the datastore refused or could not be reached
        what = f"{type(exc).__name__}: {exc.msg}"
        fix = exc.fix or ("check that the datastore can be reached from where the task runs, "
                          "with the credentials it has there")
    elif isinstance(exc, ImportError) and exc.name:
        top = exc.name.split(".")[0]
        fix = (f"install {top!r} {install_on}, or move the module into the flow file's folder "
               "so it travels in the code package")
    elif isinstance(exc, SyntaxError):
        name = os.path.basename(exc.filename or "the flow file")
        what = f"SyntaxError: {exc.msg} ({name}, line {exc.lineno})"
        fix = "correct the flow file and launch or deploy it again"
    elif isinstance(exc, HeadwaterException) and exc.fix:  # a mistake the flow's import found
        what, fix = f"{type(exc).__name__}: {exc.msg}", exc.fix
    else:
        fix = ("correct the flow file if its import fails where it was launched too; else "
               "launch or deploy the flow again, so that its code package holds it as it is now")
    return CodePackageError(f"{who} could not load its flow {where}: {what}", fix=fix)


def one_line(error: HeadwaterException) -> str:
    """``error``'s message and fix as one sentence (a task failure's message)."""
    return f"{error.msg}. Fix: {error.fix}" if error.fix else error.msg
