"""The scheduler: walks the graph, decides what runs next, and is the only metadata writer.

One loop, one thread. Ready tasks go to the executor up to ``max_workers`` at a time; events come
back (started, output, exited); each exit is recorded in metadata and releases its successors.
A join fires when every branch (or every foreach item) of the split it closes has arrived; arrivals
are grouped by the split stack, so nested foreach and loops need no special cases.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.graph.model import FOREACH, PARALLEL, SPLIT, Graph
from headwater.records import Frame, ParentRef, TaskResult, TaskSpec
from headwater.runtime.console import Console
from headwater.runtime.executors.base import Executor, TaskExited, TaskOutput, TaskStarted

HEARTBEAT_EVERY_S = 10.0


def default_max_workers() -> int:
    """Enough to overlap I/O-bound steps, bounded so a laptop stays responsive."""
    return max(2, min(16, (os.cpu_count() or 2) * 2))


@dataclass
class RunOptions:
    tags: tuple[str, ...] = ()
    max_workers: int = field(default_factory=default_max_workers)
    max_num_splits: int = 100_000
    run_id_file: str | None = None
    origin_run_id: str | None = None


@dataclass
class _Live:
    spec: TaskSpec
    prefix: str
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)


@dataclass
class RunOutcome:
    run_id: str
    ok: bool
    failed_tasks: list[str] = field(default_factory=list)
    interrupted: bool = False


class _Terminated(Exception):
    """SIGTERM arrived: stop like Ctrl-C does."""


class Scheduler:
    """Runs one flow run to completion on an executor, recording everything in metadata."""

    def __init__(self, *, flow_name: str, graph: Graph, executor: Executor, meta: Any, store: Any,
                 console: Console, options: RunOptions, username: str) -> None:
        self.flow_name = flow_name
        self.graph = graph
        self.executor = executor
        self.meta = meta
        self.store = store
        self.console = console
        self.options = options
        self.username = username
        self.run_id = ""
        self.params: dict = {}
        self.tags: tuple[str, ...] = ()
        self._ready: deque[TaskSpec] = deque()
        self._live: dict[str, _Live] = {}
        self._joins: dict[tuple, dict[int, ParentRef]] = {}
        self._next_task_id = 1
        self._failed: list[str] = []

    # -- the run -------------------------------------------------------------------------------
    def run(self, run_id: str, params: Mapping, tags: tuple[str, ...]) -> RunOutcome:
        self.run_id, self.params, self.tags = run_id, dict(params), tags
        self._enqueue("start", parents=[], frames=())
        interrupted = False
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            self._loop()
        except (KeyboardInterrupt, _Terminated):
            interrupted = True
            self._stop_everything()
        finally:
            signal.signal(signal.SIGTERM, previous)
        ok = not self._failed and not interrupted
        self.meta.run_finished(self.flow_name, run_id, "succeeded" if ok else "failed", time.time())
        return RunOutcome(run_id, ok, list(self._failed), interrupted)

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while self._ready or self._live:
            while self._ready and len(self._live) < self.options.max_workers:
                self._launch(self._ready.popleft())
            for event in self.executor.poll(timeout=1.0):
                self._handle(event)
            if time.monotonic() - last_beat > HEARTBEAT_EVERY_S:
                self.meta.heartbeat(self.flow_name, self.run_id, time.time())
                last_beat = time.monotonic()

    def _stop_everything(self) -> None:
        """Ctrl-C / SIGTERM: stop every running task's process group, record them as failed."""
        self.console.say("Interrupted: stopping the running tasks...", always=True)
        self._ready.clear()
        for key in list(self._live):
            self.executor.kill(key)
        deadline = time.monotonic() + 5.0
        while self._live and time.monotonic() < deadline:
            for event in self.executor.poll(timeout=0.2):
                self._handle(event)
        for key in list(self._live):
            self.executor.kill(key, force=True)
        while self._live:
            for event in self.executor.poll(timeout=0.5):
                self._handle(event)

    # -- launching -----------------------------------------------------------------------------
    def _enqueue(self, step: str, parents: list[ParentRef], frames: tuple[Frame, ...]) -> None:
        task_id = str(self._next_task_id)
        self._next_task_id += 1
        spec = TaskSpec(
            flow_name=self.flow_name, run_id=self.run_id, step=step, task_id=task_id, attempt=0,
            parents=parents, params=self.params, frames=frames,
            is_join=self.graph[step].is_join, origin_run_id=self.options.origin_run_id,
            username=self.username, tags=self.tags, namespace=f"user:{self.username}",
            max_num_splits=self.options.max_num_splits,
        )
        self._ready.append(spec)

    def _launch(self, spec: TaskSpec) -> None:
        with self.meta.transaction():
            self.meta.new_task(self.flow_name, self.run_id, spec.step, spec.task_id,
                               frames=spec.frames,
                               parents=[f"{p.step}/{p.task_id}" for p in spec.parents])
            self.meta.attempt_started(self.flow_name, self.run_id, spec.step, spec.task_id,
                                      spec.attempt, time.time())
        prefix = f"{self.run_id}/{spec.step}/{spec.task_id}"
        self._live[spec.task_id] = _Live(spec, prefix)
        self.executor.submit(spec.task_id, spec)

    # -- events --------------------------------------------------------------------------------
    def _handle(self, event: Any) -> None:
        live = self._live.get(event.key)
        if live is None:
            return
        if isinstance(event, TaskOutput):
            (live.stdout if event.stream == "stdout" else live.stderr).extend(event.data)
            self.console.task_output(live.prefix, event.key, event.stream, event.data)
        elif isinstance(event, TaskStarted):
            live.prefix = f"{live.prefix} (pid {event.pid})"
            self.console.task_line(live.prefix, "Task is starting.")
        elif isinstance(event, TaskExited):
            self.console.flush_task(live.prefix, event.key)
            del self._live[event.key]
            self._finished(live, event.result)

    def _finished(self, live: _Live, result: TaskResult) -> None:
        spec = live.spec
        stdout_key = self.store.save_bytes(bytes(live.stdout)).key if live.stdout else None
        stderr_key = self.store.save_bytes(bytes(live.stderr)).key if live.stderr else None
        self.meta.attempt_finished(self.flow_name, self.run_id, spec.step, spec.task_id,
                                   spec.attempt, result, stdout_key=stdout_key,
                                   stderr_key=stderr_key, final=True)
        if result.ok:
            self.console.task_line(live.prefix, "Task finished successfully.")
            if not self._failed:
                self._release_successors(spec, result)
            return
        failure = result.failure
        if failure is not None and not live.stderr:
            # The task could not print it itself (it crashed): show why under its prefix.
            self.console.task_line(live.prefix, f"{failure.type_name}: {failure.message}",
                                   always=True)
        self.console.task_line(live.prefix, "Task failed.", always=True)
        self._failed.append(spec.pathspec)
        self._ready.clear()

    # -- the graph walk ------------------------------------------------------------------------
    def _release_successors(self, spec: TaskSpec, result: TaskResult) -> None:
        node = self.graph[spec.step]
        me = ParentRef(spec.step, spec.task_id, result.manifest, spec.frames)
        if node.transition == SPLIT:
            for index, step in enumerate(node.out):
                frame = Frame(spec.step, spec.task_id, index, len(node.out))
                self._go(step, me, spec.frames + (frame,))
        elif node.transition in (FOREACH, PARALLEL):
            count = result.foreach_count or 0
            for index in range(count):
                frame = Frame(spec.step, spec.task_id, index, count, True, result.foreach_items_key)
                self._go(node.out[0], me, spec.frames + (frame,))
        else:
            for step in result.next_steps:
                self._go(step, me, spec.frames)

    def _go(self, step: str, parent: ParentRef, frames: tuple[Frame, ...]) -> None:
        if not self.graph[step].is_join:
            self._enqueue(step, [parent], frames)
            return
        top = frames[-1]
        key = (step, frames[:-1], top.step, top.task_id)
        arrived = self._joins.setdefault(key, {})
        arrived[top.index] = parent
        if len(arrived) == top.num_splits:
            del self._joins[key]
            parents = [arrived[i] for i in sorted(arrived)]
            self._enqueue(step, parents, frames[:-1])


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def host_and_pid() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def python_tag() -> str:
    return "python_version:" + ".".join(map(str, sys.version_info[:3]))
