"""Each task in a fresh interpreter started for it: no ``fork()`` of a warm process.

The local executor forks every task from a fork server that has imported the flow. That is what
makes a task start in milliseconds, and it relies on everything the flow imports surviving
``fork()`` without ``exec``. Most libraries do; some do not (on macOS, frameworks that have
started their own threads or Objective-C classes; elsewhere, a native library holding a lock
in a thread of its own). This executor starts each task as ``python -c BOOTSTRAP`` instead,
as Metaflow does: the interpreter and the flow's imports are paid for by every task (tens to
hundreds of milliseconds), and nothing a task inherits was ever forked.

A task talks to the scheduler as a forked one does: its stdout and stderr are pipes, and a
stream socket carries the TaskSpec in and the TaskResult out (:mod:`.task_process` runs it).
Its exit is seen through a process descriptor (``pidfd_open``, Linux) where there is one, and
otherwise by checking the running tasks with ``waitpid`` at least every
:data:`EXIT_CHECK_INTERVAL` seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from headwater.interpreters import SAFE_PATH
from headwater.records import TaskSpec
from headwater.runtime.executors.base import Event
from headwater.runtime.executors.launch_env import with_launch
from headwater.runtime.executors.processes import PipedTasks, Running, send_spec, task_channels

# argv: the folder holding the headwater to import ("" for this interpreter's own), the task's
# socket, the lifeline; the launch comes in the environment (launch_env.py: never in `ps`)
_BOOTSTRAP = (SAFE_PATH + "sys.argv[1] and sys.path.insert(0, sys.argv[1]); "
              "from headwater.runtime.executors.spawn.task_process import main; main(sys.argv[2:])")

EXIT_CHECK_INTERVAL = 0.05
"""Seconds between checks for exited tasks where the system has no process descriptors."""


class _ExitWatch:
    """A task's process descriptor, registered with the poll loop: readable once it exits."""

    __slots__ = ("fd", "task")

    def __init__(self, fd: int, task: Running) -> None:
        self.fd = fd
        self.task = task


class SpawnExecutor(PipedTasks):
    """Runs each task in a new interpreter (``python``, by default this one).

    ``launch`` is what every task's process is told (JSON): the flow's own file
    (:func:`headwater.flow_file.own_file_record`), the datastore's root and the run-wide
    ``current`` fields. ``step_envs``: a step's @pypi/@conda environment
    (:class:`~headwater.environments.prepare.BuiltEnv`), whose interpreter runs its tasks.
    ``use_pidfd=False`` checks for exits by polling even where process descriptors exist (as
    on the systems without them, for the tests).
    """

    def __init__(self, launch: Mapping[str, Any], python: str = sys.executable,
                 step_envs: Mapping[str, Any] | None = None, use_pidfd: bool = True) -> None:
        super().__init__()
        self._launch = dict(launch)
        self._commands: dict[str | None, tuple[list[str], dict[str, str] | None]] = {
            None: ([python, "-c", _BOOTSTRAP, ""], None)}
        self._envs = dict(step_envs or {})
        self._pidfd = use_pidfd and hasattr(os, "pidfd_open")
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._exit_fds: dict[str, int] = {}  # key -> its process descriptor, while watched
        self._due: list[Event] = []  # events of submit (a task started), reported by poll
        # Every task holds the read end, only this process the write end: should this process
        # die (even by SIGKILL), each task sees the pipe close and kills its process group, as
        # a fork server does when its scheduler hangs up.
        self._lifeline_r, self._lifeline_w = os.pipe()

    def submit(self, key: str, spec: TaskSpec) -> None:
        command, environ = self._command(spec.step)
        with task_channels() as channels:
            out_w, err_w, task_fd = channels.child_fds
            proc = subprocess.Popen(  # noqa: S603 - an interpreter of ours, headwater's module
                [*command, str(task_fd), str(self._lifeline_r)],
                stdout=out_w, stderr=err_w, pass_fds=[task_fd, self._lifeline_r],
                env=with_launch(environ, self._launch_of(spec.step)),
                **_own_process_group())
        send_spec(channels.ours, spec)
        task = self._watch_task(key, channels.ours, channels.out_r, channels.err_r)
        self._procs[key] = proc
        self._started(task, proc.pid, self._due)
        if self._pidfd:
            try:
                fd = os.pidfd_open(proc.pid)
            except OSError:  # out of descriptors: the task runs; its exit is polled for instead
                return
            self._exit_fds[key] = fd
            self._poller.register(fd, fd, _ExitWatch(fd, task))

    def _command(self, step: str) -> tuple[list[str], dict[str, str] | None]:
        """The interpreter (and its environment variables) that runs ``step``'s tasks."""
        env = self._envs.get(step)
        key = env.lock.id if env is not None else None
        if key not in self._commands:
            from headwater.environments.cache import runtime_overlay
            from headwater.environments.prepare import env_environ

            self._commands[key] = ([env.python, "-c", _BOOTSTRAP, str(runtime_overlay())],
                                   env_environ(env))
        return self._commands[key]

    def _launch_of(self, step: str) -> dict[str, Any]:
        env = self._envs.get(step)
        if env is None:
            return self._launch
        return {**self._launch, "facts": {"environment": env.lock.id}}

    def poll(self, timeout: float | None) -> list[Event]:
        events, self._due = self._due, []
        if events:
            timeout = 0  # the started events are due now
        elif self._unwatched():
            timeout = EXIT_CHECK_INTERVAL if timeout is None else min(timeout, EXIT_CHECK_INTERVAL)
        events.extend(super().poll(timeout))
        for key in self._unwatched():
            task = self._tasks.get(key)
            if task is not None and task.status is None:
                self._reap(key, task, os.WNOHANG, events)
        return events

    def _unwatched(self) -> list[str]:
        """The running tasks whose exit no process descriptor reports: all of them without
        pidfds, else those started when no descriptor was left to open one."""
        return [key for key in self._procs if key not in self._exit_fds]

    def _on_watched(self, watch: _ExitWatch, events: list[Event]) -> None:
        self._forget_exit_fd(watch.task.key)
        self._reap(watch.task.key, watch.task, 0, events)

    def _forget_exit_fd(self, key: str) -> None:
        fd = self._exit_fds.pop(key, None)
        if fd is not None:
            self._poller.unregister(fd)
            os.close(fd)

    def _reap(self, key: str, task: Running, flags: int, events: list[Event]) -> None:
        """Take the exit status of ``key``'s process, if it has one (``WNOHANG``) or once it has."""
        proc = self._procs.get(key)
        if proc is None:
            return
        try:
            pid, status = os.waitpid(proc.pid, flags)
        except ChildProcessError:  # reaped already (Popen's own bookkeeping)
            pid, status = proc.pid, _status_of(proc.returncode)
        if pid == 0:
            return
        proc.returncode = os.waitstatus_to_exitcode(status)
        del self._procs[key]
        # A task's processes end with it: whatever it left running in its process group (a
        # `sleep`, a worker pool) would otherwise be orphaned, as the fork servers see to.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self._exited(task, status, events)

    def close(self) -> None:
        """Kill what still runs, reap it, and close every descriptor this executor opened."""
        for key in list(self._tasks):
            self.kill(key, force=True)
        for key, proc in list(self._procs.items()):
            self._forget_exit_fd(key)
            try:
                proc.wait()
            except ChildProcessError:
                pass
        self._procs.clear()
        for task in self._tasks.values():
            for fd in list(task.streams):
                self._close_stream(task, fd)
            if not task.result_done:
                self._poller.unregister(task.result_sock.fileno())
                task.result_sock.close()
        self._tasks.clear()
        self._poller.close()
        for fd in (self._lifeline_r, self._lifeline_w):
            os.close(fd)


def _own_process_group() -> dict[str, Any]:
    """Popen's arguments that make the task the leader of its own process group (so that it,
    and everything it starts, can be stopped together), as forked tasks are."""
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"start_new_session": True}


def _status_of(returncode: int | None) -> int:
    """A wait status for Popen's ``returncode`` (negative: the signal that ended it)."""
    if returncode is None:
        return 0
    return -returncode if returncode < 0 else returncode << 8
