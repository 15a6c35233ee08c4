"""The executor interface: where tasks run. The scheduler decides *what* runs; executors run it.

An executor takes TaskSpecs and reports events; it never touches metadata. The local executor forks
tasks from a warm process on this machine; scale-out executors run the same task code elsewhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from headwater.records import Record, TaskResult, TaskSpec


class TaskStarted(Record, slots=True):
    key: str
    pid: int


class TaskOutput(Record, slots=True):
    key: str
    stream: str  # "stdout" or "stderr"
    data: bytes  # a raw chunk, not necessarily whole lines


class TaskExited(Record, slots=True):
    key: str
    result: TaskResult  # a crash without a result arrives as a failed TaskResult


Event = TaskStarted | TaskOutput | TaskExited


class ExecutorChoice(NamedTuple):
    """Which executor backend runs the tasks (``--executor``) and the values of its own options
    (``--dask-address`` ...), as the command line, the environment or a profile gave them."""

    name: str = "local"
    options: Mapping[str, Any] = MappingProxyType({})


class ExecutorContext(NamedTuple):
    """What an executor backend's factory is given to build an executor for one run."""

    flow_cls: type
    graph: Any  # headwater.graph.Graph
    store: Any  # headwater.store.DataStore: where the run's blobs (and a code package) go
    max_workers: int
    current_fields: Mapping[str, Any]  # ``current`` fields every task binds (the project's)
    # step -> its @pypi/@conda environment (headwater.environments.prepare.BuiltEnv; on Dask
    # only its lock is made, each worker builds it); empty when no step has one
    step_envs: Mapping[str, Any] = MappingProxyType({})
    # ``(file path, name in the package)`` of files a code package carries besides the flow's
    # folder and its add_to_package files: the active ``metaflow_extensions`` packages, found by
    # the launcher (which may read compat) for a remote executor; empty for one on this machine.
    # Deployments get the same list the same way (``deployers/plan.py``, ``extra_files``).
    extra_files: tuple[tuple[str, str], ...] = ()


class Executor(ABC):
    """Runs tasks and reports what happens to them, one ``poll`` at a time.

    An executor is a context manager: leaving the ``with`` block closes it (killing what still
    runs). Built by its backend's factory, ``create(context: ExecutorContext, **options)``,
    found through :mod:`headwater.backends`.
    """

    @property
    def code_package(self) -> dict[str, str] | None:
        """What the run records about the code its tasks were shipped with (see
        :mod:`headwater.store.code_package`), or None when tasks run the files in place."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def submit(self, key: str, spec: TaskSpec) -> None:
        """Start running ``spec``; ``key`` names it in the events that follow."""

    @abstractmethod
    def poll(self, timeout: float | None) -> list[Event]:
        """Wait up to ``timeout`` seconds for events and return those that arrived."""

    @abstractmethod
    def kill(self, key: str, *, force: bool = False) -> None:
        """Stop a running task (and everything it started): SIGTERM, or SIGKILL when forced."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource; running tasks are killed."""

    def wind_down(self) -> None:  # noqa: B027 - optional: most executors hold nothing to let go
        """No task will be submitted any more and none is running: start letting go of what
        the executor holds, without waiting for it (``close`` still finishes the job). The
        scheduler calls it as soon as its last task has exited, so that the executor's own
        shutdown (the local fork servers' exit) overlaps the run's last records instead of
        following them. By default nothing."""

    @property
    @abstractmethod
    def running(self) -> int:
        """How many submitted tasks have not exited yet."""
