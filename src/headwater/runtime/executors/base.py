"""The executor interface: where tasks run. The scheduler decides *what* runs; executors run it.

An executor takes TaskSpecs and reports events; it never touches metadata. The local executor forks
tasks from a warm process on this machine; scale-out executors run the same task code elsewhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from headwater.records import TaskResult, TaskSpec


@dataclass(slots=True)
class TaskStarted:
    key: str
    pid: int


@dataclass(slots=True)
class TaskOutput:
    key: str
    stream: str  # "stdout" or "stderr"
    data: bytes  # a raw chunk, not necessarily whole lines


@dataclass(slots=True)
class TaskExited:
    key: str
    result: TaskResult  # a crash without a result arrives as a failed TaskResult


Event = TaskStarted | TaskOutput | TaskExited


class Executor(ABC):
    """Runs tasks and reports what happens to them, one ``poll`` at a time."""

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

    @property
    @abstractmethod
    def running(self) -> int:
        """How many submitted tasks have not exited yet."""
