"""What the metadata readers return: small immutable rows, one per database record.

They hold values only (no connection), so the client can keep them, pickle them and hand them
between threads. Times are POSIX seconds (floats); the client turns them into datetimes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.meta.codec import load_environments, load_manifest, load_trigger
from headwater.meta.liveness import looks_crashed
from headwater.records import Field, Frame, Manifest, Record, TaskFailure

if TYPE_CHECKING:
    from headwater.exceptions import MetadataError

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (RUNNING, SUCCEEDED, FAILED)


def run_outcome(*, ran_ok: bool, end_caught: bool) -> str:
    """The status a finished run is recorded with: the one definition of a run's outcome that
    the client (``Run.status``, ``Run.successful``, ``latest_successful_run``), the CLI and the
    web UI all read (through :attr:`RunRow.live_status`).

    ``ran_ok``: every task that had to run ended well. ``end_caught``: the end step failed (it
    raised, or its process died) and ``@catch`` caught it; as in Metaflow, such a run is
    finished but not successful (its exit code stays 0, Metaflow's too).
    """
    return SUCCEEDED if ran_ok and not end_caught else FAILED


def damaged(record: str, field: str, err: Exception, run: str) -> MetadataError:
    """The MetadataError for a field of ``record`` (``run F/1``) that no headwater wrote (not
    JSON, the wrong shape, nested past Python's stack): which record and field, and the fix."""
    from headwater.exceptions import MetadataError

    return MetadataError(
        f"the metadata record of {record} is damaged: its {field} field cannot be read "
        f"({type(err).__name__}: {str(err)[:200]})",
        fix="the metadata database was changed outside headwater: restore it from a backup, "
            f"or delete the run (headwater delete {run})")


class FlowRow(Record, frozen=True, slots=True):
    name: str
    created_at: float


class RunRow(Record, frozen=True, slots=True):
    """One run as recorded, plus :attr:`live_status`, the status a reader should believe."""

    flow: str
    run_id: str
    run_number: int
    user: str
    status: str  # as recorded: 'running' | 'succeeded' | 'failed'
    created_at: float
    finished_at: float | None
    heartbeat_at: float | None
    pid: int | None
    host: str | None
    origin_run_id: str | None
    params_json: str  # decoded on demand by .params: listing runs should not pay for it
    tags: tuple[str, ...]  # user tags, sorted
    system_tags: tuple[str, ...]  # sorted
    code_json: str | None = None  # the code package (JSON), for runs whose tasks ran remotely
    lock_held: bool | None = None  # the run lock's state when the backend checked it (liveness)
    environments_json: str | None = None  # @pypi/@conda locks (JSON), for runs that had some

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"

    @property
    def params(self) -> Manifest:
        """The run's parameters: name -> where the value is stored. A record no headwater wrote
        (not JSON, the wrong shape, nested past Python's stack) is a MetadataError naming the
        run and the fix, as a damaged task record is, never a decoder's traceback."""
        try:
            return load_manifest(self.params_json)
        except (ValueError, TypeError, AttributeError) as err:  # binascii.Error: a ValueError
            raise damaged(f"run {self.pathspec}", "params", err, self.pathspec) from None

    @property
    def environments(self) -> dict | None:
        """The run's @pypi/@conda record (``steps``: step -> lock id, ``locks``: lock id ->
        lock), or None when its steps ran in the flow's interpreter. Every reader (``spin``,
        ``resume``, ``Task.environment_info``) takes it from here: a damaged record is the same
        MetadataError as damaged parameters, naming the run, the field and the fix."""
        try:
            return load_environments(self.environments_json)
        except (ValueError, TypeError, AttributeError) as err:
            raise damaged(f"run {self.pathspec}", "environments", err, self.pathspec) from None

    @property
    def all_tags(self) -> frozenset[str]:
        return frozenset(self.tags) | frozenset(self.system_tags)

    @property
    def crashed(self) -> bool:
        """Recorded as running, but its scheduler is gone (see :mod:`headwater.meta.liveness`)."""
        return looks_crashed(self.status, self.host, self.pid, self.heartbeat_at,
                             lock_held=self.lock_held)

    @property
    def live_status(self) -> str:
        """The recorded status, except that a crashed run reads as 'failed'."""
        return FAILED if self.crashed else self.status


class StepRow(Record, frozen=True, slots=True):
    """A step of a run, aggregated over its tasks."""

    flow: str
    run_id: str
    step: str
    created_at: float  # first task's
    finished_at: float | None  # last task's, or None while any task is unfinished
    num_tasks: int

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}"


class TaskRow(Record, frozen=True, slots=True):
    flow: str
    run_id: str
    step: str
    task_id: str
    status: str
    created_at: float
    finished_at: float | None
    frames: tuple[Frame, ...]
    parents: tuple[str, ...]  # "step/task_id" of each input task
    origin_pathspec: str | None  # set when resume cloned this task from an earlier run
    attempts: int  # how many attempts were started
    transition: dict | None = None  # next_steps / foreach_count / foreach_items_key when succeeded

    # Spelled out: a listing of a 100,000-task step makes 100,000 (the generic keyword path
    # was a third of that listing's time).
    def __init__(self, flow: str, run_id: str, step: str, task_id: str, status: str,
                 created_at: float, finished_at: float | None, frames: tuple[Frame, ...],
                 parents: tuple[str, ...], origin_pathspec: str | None, attempts: int,
                 transition: dict | None = None) -> None:
        put = object.__setattr__
        put(self, "flow", flow)
        put(self, "run_id", run_id)
        put(self, "step", step)
        put(self, "task_id", task_id)
        put(self, "status", status)
        put(self, "created_at", created_at)
        put(self, "finished_at", finished_at)
        put(self, "frames", frames)
        put(self, "parents", parents)
        put(self, "origin_pathspec", origin_pathspec)
        put(self, "attempts", attempts)
        put(self, "transition", transition)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def trigger(self) -> list[dict] | None:
        """The events a deployed run's start task recorded (its transition's
        ``metadata.trigger``), or None; a damaged one names the task and the fix."""
        metadata = (self.transition or {}).get("metadata") or {}
        try:
            return load_trigger(metadata.get("trigger"))
        except (ValueError, TypeError) as err:
            raise damaged(f"task {self.pathspec}", "transition (trigger)", err,
                          f"{self.flow}/{self.run_id}") from None

    @property
    def foreach_index(self) -> int | None:
        """Index of this task in its innermost foreach, or None outside any foreach."""
        for frame in reversed(self.frames):
            if frame.is_foreach:
                return frame.index
        return None


class AttemptRow(Record, frozen=True, slots=True):
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int  # 0-based
    status: str
    started_at: float | None
    finished_at: float | None
    failure: TaskFailure | None
    stdout_key: str | None
    stderr_key: str | None
    # What this attempt stored when it did not end its task (a retry followed it, or @catch's
    # stand-in): its manifest as JSON, decoded on demand by .own_artifacts. None for the attempt
    # that ended the task (its artifacts are the task's) and for attempts recorded before it.
    artifacts_json: str | None = Field(None, repr=False)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def own_artifacts(self) -> Manifest:
        """The artifacts this attempt stored, when it did not end its task (empty when it
        stored none, as a failed attempt of a flow that imports ``headwater``). A record no
        headwater wrote is a MetadataError naming the attempt and the fix."""
        try:
            return load_manifest(self.artifacts_json)
        except (ValueError, TypeError, AttributeError) as err:
            run = f"{self.flow}/{self.run_id}"
            raise damaged(f"attempt {self.attempt} of task {self.pathspec}", "artifacts", err,
                          run) from None


def reused_from_cache(task: TaskRow) -> bool:
    """Whether @cache reused ``task``'s result from an earlier task (a clone whose facts name
    its origin as ``cached-from``), rather than resume cloning it (a resume's clone of a reused
    task copies its origin's facts, whose ``cached-from`` names another task)."""
    facts = (task.transition or {}).get("metadata") or {}
    return task.origin_pathspec is not None and facts.get("cached-from") == task.origin_pathspec
