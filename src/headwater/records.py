"""Plain records that cross module and process boundaries.

They depend on nothing else in headwater, so the graph, the store, the metadata database, the
runtime and the client can all speak them without importing one another. Every record is
picklable (tasks receive them from the scheduler, possibly over the network).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """Where an artifact's value lives: a content-addressed blob key plus what the client shows."""

    key: str  # content hash of the stored blob (32 hex chars, xxh3-128)
    size: int  # bytes stored
    type_name: str  # e.g. "builtins.int", "numpy.ndarray"
    encoding: str = "pickle5"  # how the blob is to be decoded
    # A small value's encoded bytes, kept in the metadata instead of a blob of its own (see
    # store/datastore.py, INLINE_MAX_BYTES). ``key`` is still their content hash.
    inline: bytes | None = None


Manifest = dict[str, ArtifactRef]
"""name -> ArtifactRef: the complete set of artifacts one task exposes."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One level of the split stack a task lives in.

    A static split with k branches pushes ``Frame(step, task_id, branch_index, k)``; a foreach over
    n items pushes ``Frame(step, task_id, item_index, n, is_foreach=True)``. The join that closes the
    split pops it: joins group arriving tasks by the stack below the top frame plus that frame's
    (step, task_id), and fire when ``num_splits`` distinct indexes arrived.
    """

    step: str
    task_id: str
    index: int
    num_splits: int
    is_foreach: bool = False
    items_key: str | None = None  # foreach only: blob holding the items, each pickled on its own


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A finished task a new task reads from."""

    step: str
    task_id: str
    manifest: Manifest
    frames: tuple[Frame, ...]


@dataclass(slots=True)
class TaskSpec:
    """Everything a task needs to run, made by the scheduler, executed anywhere."""

    flow_name: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    parents: list[ParentRef]  # one for linear steps, all inputs for a join
    params: Manifest  # the run's parameters (read-only artifacts of every task)
    frames: tuple[Frame, ...]  # this task's split stack
    is_join: bool = False
    origin_run_id: str | None = None
    username: str = ""
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    max_num_splits: int = 100_000
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(slots=True)
class TaskFailure:
    """Why a task failed, in a form that survives pickling (the exception object may not)."""

    type_name: str
    message: str
    traceback: str = ""

    # Metaflow's names for the same facts (``task.exception.type`` / ``.exception``).
    @property
    def type(self) -> str:
        return self.type_name

    @property
    def exception(self) -> str:
        return self.message

    @property
    def stacktrace(self) -> str:
        return self.traceback

    def __str__(self) -> str:
        return self.traceback or f"{self.type_name}: {self.message}"


@dataclass(slots=True)
class TaskResult:
    """What a finished task reports back. The scheduler alone records it in metadata."""

    manifest: Manifest = field(default_factory=dict)
    next_steps: tuple[str, ...] = ()  # the steps this task transitions to (the taken case of a switch)
    foreach_count: int | None = None  # when it fans out with foreach
    foreach_items_key: str | None = None
    failure: TaskFailure | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    # Facts about where the attempt ran (e.g. "dask-worker"), shown in Task.metadata_dict.
    metadata: dict[str, str] = field(default_factory=dict)
    # @card: one record per rendered card (index, type, id, key of its HTML blob, size).
    cards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None
