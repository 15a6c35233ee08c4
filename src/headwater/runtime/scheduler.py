"""The scheduler: walks the graph, decides what runs next, and is the only metadata writer.

One loop, one thread. Ready tasks go to the executor up to ``max_workers`` at a time; events come
back (started, output, exited); each exit is recorded in metadata and releases its successors.
A join fires when every branch (or every foreach item) of the split it closes has arrived; arrivals
are grouped by the split stack, so nested foreach and loops need no special cases.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from headwater import fault_points
from headwater.decorators.base import StepPolicy
from headwater.decorators.parallel import CONTROL_TASK as PARALLEL_CONTROL
from headwater.decorators.registry import user_specs
from headwater.exceptions import HeadwaterException
from headwater.graph.export import graph_json, run_graph_key
from headwater.graph.model import FOREACH, PARALLEL, SPLIT, Graph
from headwater.meta.liveness import this_host
from headwater.meta.rows import run_outcome
from headwater.records import (
    CONTROL_INDEX,
    Factory,
    Frame,
    Manifest,
    ParentRef,
    Record,
    TaskFailure,
    TaskResult,
    TaskSpec,
    replace,
    was_caught,
)
from headwater.runtime.console import Console, flow_command
from headwater.runtime.descriptors import cannot_start, fewer_at_once_note, is_out_of_descriptors
from headwater.runtime.executors.base import Executor, TaskExited, TaskOutput, TaskStarted
from headwater.runtime.join_parents import PARENTS_KEYS, Arrivals, for_executor
from headwater.runtime.live_logs import LiveLogs
from headwater.runtime.resume import CloneSource, ResumePlan
from headwater.runtime.step_cache import StepCache, cache_key_or_none
from headwater.runtime.step_timeout import backstop_after, timeout_message
from headwater.store.task_log import LineClock
from headwater.store.task_log import encode as encode_log
from headwater.version import METAFLOW_API_VERSION

HEARTBEAT_EVERY_S = 10.0
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL when a task is stopped
# Ctrl-C, kill, a closed terminal: each stops the run cleanly (SIGHUP does not exist on Windows)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


# Metaflow's default, on every machine: a flow moved from Metaflow runs as many tasks at once as
# it did there (docs/decisions.md).
DEFAULT_MAX_WORKERS = 16


class RunOptions(Record):
    tags: tuple[str, ...] = ()
    max_workers: int = DEFAULT_MAX_WORKERS
    max_num_splits: int = 100_000
    run_id_file: str | None = None
    origin_run_id: str | None = None
    with_decorators: tuple[str, ...] = ()  # --with specs, e.g. "retry:times=2"
    no_cache: bool = False  # --no-cache: @cache steps run (and refresh their cache entries)
    clone_only: bool = False  # resume --clone-only: clone what succeeded, run nothing
    # run --namespace NS: the client namespace inside the run's tasks ("" = global); None: the
    # default (user:<you>)
    client_namespace: str | None = None
    # --max-log-size MB: each task's stored stdout/stderr stops there, with Metaflow's note;
    # None keeps all of it (the console always shows everything)
    max_log_size: int | None = None


class _Live(Record):
    spec: TaskSpec
    prefix: str
    stdout: bytearray = Factory(bytearray)
    stderr: bytearray = Factory(bytearray)
    # when each line of each stream was printed (as it reached the scheduler)
    clocks: dict[str, LineClock] = Factory(lambda: {"stdout": LineClock(), "stderr": LineClock()})
    deadline: float | None = None  # monotonic time its @timeout passes
    timed_out: bool = False
    force_kill_at: float | None = None
    stopped: bool = False  # killed because the run was interrupted
    truncated: set[str] = Factory(set)  # streams that reached --max-log-size


class RunOutcome(Record):
    run_id: str
    ok: bool
    failed_tasks: list[str] = Factory(list)
    interrupted: bool = False
    stop_signal: int | None = None
    not_run: list[str] = Factory(list)  # resume --clone-only: tasks left to run
    end_caught: bool = False  # the end step failed and @catch caught it: recorded as failed
    nothing_ran: bool = False  # a resume whose every task was cloned (or reused): no step ran


class Scheduler:
    """Runs one flow run to completion on an executor, recording everything in metadata."""

    def __init__(self, *, flow_name: str, graph: Graph, executor: Executor, meta: Any, store: Any,
                 console: Console, options: RunOptions, username: str,
                 policies: Mapping[str, StepPolicy] | None = None,
                 resume: ResumePlan | None = None, cache: StepCache | None = None,
                 ignored_environments: Mapping[str, str] | None = None,
                 built_environments: Mapping[str, tuple[str, tuple[str, ...]]] | None = None
                 ) -> None:
        self.flow_name = flow_name
        self.graph = graph
        self.executor = executor
        self.meta = meta
        self.store = store
        self.console = console
        self.options = options
        self.username = username
        self.policies = dict(policies or {})
        self.resume = resume
        self.cache = cache
        # step -> "pypi"/"conda": its declaration is ignored by this run (no --environment)
        self.ignored_environments = dict(ignored_environments or {})
        # step -> ("pypi"/"conda", its packages' names): the environment the step runs in
        self.built_environments = dict(built_environments or {})
        self._cloned: set[str] = set()
        self._noted_stale: set[str] = set()  # @cache steps checked for changed modules
        self._submitted = 0  # tasks handed to the executor (not cloned, not reused)
        self.run_id = ""
        self.params: dict = {}
        self.tags: tuple[str, ...] = ()
        self._ready: deque[TaskSpec] = deque()
        self._delayed: list[tuple[float, int, TaskSpec]] = []  # retries waiting for their time
        self._live: dict[str, _Live] = {}
        # @concurrency(limit=N): running tasks per limited step, and the tasks of a step at its
        # limit, in order (each released when one of its step's tasks ends); the task ids held
        # there have been looked up in resume's plan and the cache already.
        self._running: dict[str, int] = {}
        self._held: dict[str, deque[TaskSpec]] = {}
        self._looked_up: set[str] = set()
        self._joins: dict[tuple, Arrivals] = {}
        # a num_parallel fan-out (its step, task id) -> its node 0's task id, which every node
        # reads as ``current.parallel.control_task_id`` (Metaflow's control task)
        self._parallel_control: dict[tuple[str, str], str] = {}
        self._next_task_id = 1
        self._failed: list[str] = []
        self._not_run: list[str] = []
        self._end_caught = False  # the end step failed and @catch caught it: the run failed
        self._extras: dict[str, dict[str, Any]] = {}  # step -> its tasks' TaskSpec.extra
        self._namespace = f"user:{username}"
        # at most this many tasks at once once the descriptors ran out (runtime/descriptors.py)
        self._at_once: float = float("inf")
        self._said_fewer = False

    # -- the run -------------------------------------------------------------------------------
    def run(self, run_id: str, params: Mapping, tags: tuple[str, ...]) -> RunOutcome:
        self.run_id, self.params, self.tags = run_id, dict(params), tags
        self._live_logs = LiveLogs(self.store.storage, self.flow_name, run_id)
        self._keep_graph()
        self._enqueue(self.graph.start_step or "start", parents=[], frames=())
        self._stop_signal: int | None = None
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS
                    if not _nohup(sig)}
        try:
            self._loop()
            if self._stop_signal is not None:
                self._stop_everything()
            # Nothing runs and nothing will: the executor's shutdown (the fork servers' exit)
            # can go on beside the run's last records rather than after them.
            self.executor.wind_down()
        except BaseException:
            # The scheduler itself failed (its fork server died, the disk is full, ...): the run
            # must not stay 'running'. Best effort, the error being raised matters more.
            with contextlib.suppress(Exception):
                self.meta.run_finished(self.flow_name, run_id, "failed", time.time())
            raise
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        interrupted = self._stop_signal is not None
        ok = not self._failed and not interrupted
        # --clone-only leaves the run unfinished when something was left to run: it reads as
        # not successful (its end did not run), yet the command did what it was asked.
        status = run_outcome(ran_ok=ok and not self._not_run, end_caught=self._end_caught)
        self.meta.run_finished(self.flow_name, run_id, status, time.time())
        return RunOutcome(run_id, ok, list(self._failed), interrupted, self._stop_signal,
                          list(self._not_run), self._end_caught,
                          nothing_ran=self.resume is not None and not self._submitted)

    def _keep_graph(self) -> None:
        """Store the graph beside the run, for readers without the flow's code (the web UI).
        Best effort: a run does not fail because its picture could not be kept."""
        with contextlib.suppress(HeadwaterException, OSError):
            self.store.storage.put(run_graph_key(self.flow_name, self.run_id),
                                   [graph_json(self.graph, self._limits())])

    def _limits(self) -> dict[str, int]:
        """step -> its @concurrency limit, for the steps that have one."""
        return {step: policy.concurrency for step, policy in self.policies.items()
                if policy.concurrency is not None}

    def _on_signal(self, signum: int, frame: Any) -> None:
        """Ctrl-C, SIGTERM or SIGHUP: note it; the loop stops at its next turn (within 0.25 s)."""
        self._stop_signal = signum

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while (self._ready or self._live or self._delayed) and self._stop_signal is None:
            self._release_delayed()
            # Wait for events only when nothing can be launched now.
            events = self.executor.poll(
                timeout=0.0 if self._can_launch() else self._poll_timeout())
            # One commit per turn of the loop, not per task: what finished and what it released
            # are recorded together, and the write lock is held only while this process works,
            # never while it waits for events.
            if self._can_launch() or any(isinstance(event, TaskExited) for event in events):
                with self.meta.transaction():
                    self._turn(events)
                    fault_points.hold("record.commit")
                fault_points.hold("record.committed")
            elif events:  # only output and 'started': nothing to record, no transaction to open
                self._turn(events)
            self._live_logs.flush(self._live)
            self._enforce_timeouts()
            self.console.tick()
            if time.monotonic() - last_beat > HEARTBEAT_EVERY_S:
                self.meta.heartbeat(self.flow_name, self.run_id, time.time())
                last_beat = time.monotonic()

    def _turn(self, events: list) -> None:
        for event in events:
            self._handle(event)
        if self._stop_signal is None:
            self._launch_ready()

    def _can_launch(self) -> bool:
        return bool(self._ready) and len(self._live) < min(self.options.max_workers,
                                                           self._at_once)

    def _launch_ready(self) -> None:
        """Launch (or clone, or reuse) ready tasks while a worker slot is free."""
        while self._can_launch():
            spec = self._ready.popleft()
            if spec.task_id in self._looked_up:  # held for a @concurrency slot until now
                self._looked_up.discard(spec.task_id)
            else:
                if self._clone(spec) or self._reuse(spec):
                    continue
                if self.options.clone_only:  # resume --clone-only: run nothing
                    self._not_run.append(f"{spec.step}/{spec.task_id}")
                    self.console.progress.skipped(spec.step)
                    continue
            if self._hold_for_slot(spec):
                continue
            if not self._launch(spec):
                break

    def _hold_for_slot(self, spec: TaskSpec) -> bool:
        """@concurrency: keep ``spec`` aside while its step runs as many tasks as it allows."""
        limit = self._policy(spec.step).concurrency
        if limit is None or self._running.get(spec.step, 0) < limit:
            return False
        self._looked_up.add(spec.task_id)
        self._held.setdefault(spec.step, deque()).append(spec)
        return True

    def _slot_freed(self, step: str) -> None:
        """A task of ``step`` ended: one of its held tasks (the oldest) is ready again."""
        if step not in self._running:
            return
        self._running[step] -= 1
        held = self._held.get(step)
        if held:
            self._ready.appendleft(held.popleft())

    def _poll_timeout(self) -> float:
        if not self._live and not self._delayed:
            # Nothing runs and nothing waits for its time (e.g. a resume that cloned every
            # task): the loop ends or launches at once, so waiting for events would only idle.
            return 0.0
        wait = 0.25
        now = time.monotonic()
        if self._delayed:
            wait = min(wait, max(0.0, self._delayed[0][0] - now))
        for live in self._live.values():
            if live.deadline is not None:
                wait = min(wait, max(0.0, (live.force_kill_at or live.deadline) - now))
        return wait

    def _release_delayed(self) -> None:
        """Retries whose time has come go first, ahead of the tasks already waiting (as
        Metaflow's runtime starts a retry at once): behind a 2,000-task foreach, a retry of a
        0.1 s task waited for the whole fan-out, and its task read as taking that long."""
        now = time.monotonic()
        due = []
        while self._delayed and self._delayed[0][0] <= now:
            due.append(heapq.heappop(self._delayed)[2])
        self._ready.extendleft(reversed(due))

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for key, live in self._live.items():
            if live.deadline is None or now < live.deadline:
                continue
            if not live.timed_out:
                live.timed_out = True
                live.force_kill_at = now + KILL_GRACE_S
                self.executor.kill(key)
            elif live.force_kill_at is not None and now >= live.force_kill_at:
                live.force_kill_at = None
                self.executor.kill(key, force=True)

    def _stop_everything(self) -> None:
        """Ctrl-C / SIGTERM: stop every running task's process group, record them as failed."""
        self.console.say("Interrupted: stopping the running tasks...", always=True)
        self._drop_waiting()
        for key, live in self._live.items():
            live.stopped = True
            self.executor.kill(key)
        deadline = time.monotonic() + KILL_GRACE_S
        while self._live and time.monotonic() < deadline:
            for event in self.executor.poll(timeout=0.1):
                self._handle(event)
        for key in list(self._live):
            self.executor.kill(key, force=True)
        while self._live:
            for event in self.executor.poll(timeout=0.5):
                self._handle(event)

    # -- launching -----------------------------------------------------------------------------
    def _policy(self, step: str) -> StepPolicy:
        policy = self.policies.get(step)
        if policy is None:
            policy = self.policies[step] = StepPolicy()
        return policy

    def _step_extra(self, step: str) -> dict[str, Any]:
        """What every task of ``step`` carries in ``TaskSpec.extra`` (built once per step; each
        task gets its own copy, which it may add to)."""
        extra = self._extras.get(step)
        if extra is not None:
            return extra
        policy = self._policy(step)
        extra = {"env": policy.env} if policy.env else {}
        if policy.resources:  # @resources: scale-out executors place the task by it
            extra["resources"] = policy.resources
        if policy.catch_var:  # @catch(var=...): as Metaflow's, None when the step did not fail
            extra["catch_var"] = policy.catch_var
        if policy.catch_var is not None:  # @catch: its last attempt prints what it caught
            extra["catch_print"] = policy.catch_print
        if policy.cards:  # @card: the task renders these after the step
            extra["cards"] = policy.cards
        if policy.timeout_s is not None:  # @timeout: the task interrupts its own step
            extra["timeout"] = policy.timeout_s
        if policy.secrets:  # @secrets: the task fetches them, in its own process only
            extra["secrets"] = policy.secrets
        if policy.attempts > 1:  # plug-in decorators' hooks are told how many retries are left
            extra["max_user_code_retries"] = policy.attempts - 1
        if self.options.with_decorators:  # a task that imports the flow afresh puts them on again
            user_with = user_specs(self.options.with_decorators)
            if user_with:
                extra["user_with"] = user_with
        self._extras[step] = extra
        return extra

    def _enqueue(self, step: str, parents: list[ParentRef], frames: tuple[Frame, ...],
                 parents_keys: list[str] | None = None) -> None:
        extra = dict(self._step_extra(step))
        control = self._parallel_control.get((frames[-1].step, frames[-1].task_id)) \
            if frames and not self.graph[step].is_join else None
        if control is not None:
            extra[PARALLEL_CONTROL] = control
        if parents_keys:  # a join's parents kept in the datastore (runtime/join_parents.py)
            extra[PARENTS_KEYS] = parents_keys
        task_id = str(self._next_task_id)
        self._next_task_id += 1
        spec = TaskSpec(
            flow_name=self.flow_name, run_id=self.run_id, step=step, task_id=task_id, attempt=0,
            parents=parents, params=self.params, frames=frames,
            is_join=self.graph[step].is_join, origin_run_id=self.options.origin_run_id,
            username=self.username, tags=self.tags, namespace=self._namespace,
            max_num_splits=self.options.max_num_splits, extra=extra,
        )
        self._ready.append(spec)
        self.console.progress.queued(step)

    def _launch(self, spec: TaskSpec) -> bool:
        """Start ``spec``'s task; False when no file descriptor was left to start it with while
        other tasks run (``spec`` is then ready again, for when one of them has finished)."""
        try:
            # Submitted before it is recorded: both happen in this turn's one transaction, and
            # a task that could not be started must leave no 'running' row behind.
            self.executor.submit(spec.task_id, for_executor(spec))
            self._submitted += 1
        except OSError as exc:
            if not is_out_of_descriptors(exc):
                raise
            if not self._live:
                raise cannot_start(f"{self.flow_name}/{self.run_id}/{spec.step}/{spec.task_id}",
                                   exc) from None
            self._ready.appendleft(spec)
            self._at_once = len(self._live)
            if not self._said_fewer:
                self._said_fewer = True
                self.console.say(fewer_at_once_note(self._at_once), always=True)
            return False
        if spec.attempt == 0:  # registered and started together (one write, atomic)
            self.meta.task_started(self.flow_name, self.run_id, spec.step, spec.task_id,
                                   frames=spec.frames,
                                   parents=[f"{p.step}/{p.task_id}" for p in spec.parents],
                                   started_at=time.time())
        else:
            self.meta.attempt_started(self.flow_name, self.run_id, spec.step, spec.task_id,
                                      spec.attempt, time.time())
        prefix = f"{self.run_id}/{spec.step}/{spec.task_id}"
        live = _Live(spec, prefix)
        timeout = self._policy(spec.step).timeout_s
        if timeout is not None and "catch" not in spec.extra:
            # the step raises at the limit itself; this stop from outside is the backstop
            live.deadline = time.monotonic() + backstop_after(timeout)
        self._live[spec.task_id] = live
        if self._policy(spec.step).concurrency is not None:
            self._running[spec.step] = self._running.get(spec.step, 0) + 1
        self._live_logs.started(spec.task_id)
        self.console.progress.started(spec.step)
        return True

    def _clone(self, spec: TaskSpec) -> bool:
        """Resume: record ``spec`` as a copy of the origin's task when the plan allows it."""
        if self.resume is None or spec.attempt:
            return False
        parents_cloned = all(p.task_id in self._cloned for p in spec.parents)
        source = self.resume.match(spec, parents_cloned)
        self._name_split_step(spec)
        if source is None:
            went = self.resume.regraphed.pop(spec.step, None)
            if went is not None:  # the flow file changed since the origin ran
                now = ", ".join(self.graph[spec.step].out) or "nothing (it ends the flow)"
                self.console.task_line(
                    f"{self.run_id}/{spec.step}/{spec.task_id}",
                    f"Not cloned: in {self.flow_name}/{_shown(self.options.origin_run_id)} step "
                    f"'{spec.step}' went on to {_shown(', '.join(went)) or 'nothing'}, and the "
                    f"flow now goes on to {now}; it runs again", always=True)
            return False
        self._record_clone(spec, source)
        self._cloned.add(spec.task_id)
        self.console.task_line(f"{self.run_id}/{spec.step}/{spec.task_id}",
                               "Cloning results of a previously successful task "
                               f"{_shown(source.pathspec)}")
        self._release_successors(spec, source.result)
        return True

    def _name_split_step(self, spec: TaskSpec) -> None:
        """Resume after an edit: say once that a step mixes cloned tasks and new ones."""
        if self.resume is None or not self.resume.split_step(spec.step):
            return
        origin = f"{self.flow_name}/{self.options.origin_run_id}"
        self.console.task_line(
            f"{self.run_id}/{spec.step}/{spec.task_id}",
            f"Note: the flow file changed after {origin} started; step '{spec.step}' keeps "
            f"the tasks of {origin} that succeeded (computed by the code of then) and runs the "
            f"others with the code of now. If you changed '{spec.step}', "
            f"`{flow_command('resume ' + spec.step)}` runs all of its tasks anew", always=True)

    def _reuse(self, spec: TaskSpec) -> bool:
        """@cache: record ``spec`` as a copy of an earlier task with the same cache key.

        A task that runs instead carries its key in ``spec.extra``; it is recorded under that key
        once it has succeeded (see :meth:`_remember_cache_key`).
        """
        if spec.attempt or "catch" in spec.extra:
            return False
        key, why_not = cache_key_or_none(self.cache, spec)
        if why_not is not None:
            self.console.task_line(f"{self.run_id}/{spec.step}/{spec.task_id}", why_not)
        if key is None or self.cache is None:
            return False
        spec.extra["cache_key"] = key
        source = self.cache.find(spec, key)
        if source is None:
            if self.cache.missed is not None:  # expired: say so, the task runs
                self.console.task_line(f"{self.run_id}/{spec.step}/{spec.task_id}",
                                       self.cache.missed)
            return False
        self._record_clone(spec, source)
        self.meta.set_cache_key(self.flow_name, self.run_id, spec.step, spec.task_id, key)
        self.console.task_line(f"{self.run_id}/{spec.step}/{spec.task_id}",
                               f"reused from cache: {_shown(source.pathspec)}")
        self._note_changed_modules(spec, source)
        self._release_successors(spec, source.result)
        return True

    def _note_changed_modules(self, spec: TaskSpec, source: CloneSource) -> None:
        """A reused task older than an edit of the project's own modules (``helpers.py``): the
        key sees the flow file only, so say it once per step, naming ``--no-cache``."""
        if self.cache is None or spec.step in self._noted_stale:
            return
        self._noted_stale.add(spec.step)  # once a step: a foreach's first reuse speaks for all
        computed, when = self.cache.computed_by(source)
        changed = self.cache.changed_since(when)
        if not changed:
            return
        listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                           else "")
        self.console.task_line(
            f"{self.run_id}/{spec.step}/{spec.task_id}",
            f"Note: {listed} changed after {_shown(computed)} computed this result, and @cache "
            f"keys see the flow file's code only: if step '{spec.step}' uses what changed, "
            f"`{flow_command('run --no-cache')}` runs it anew", always=True)

    def _record_clone(self, spec: TaskSpec, source: CloneSource) -> None:
        """Resume and @cache alike: a succeeded task whose manifest names ``source``'s blobs."""
        self.meta.clone_task(
            self.flow_name, self.run_id, spec.step, spec.task_id, origin_pathspec=source.pathspec,
            frames=spec.frames, parents=[f"{p.step}/{p.task_id}" for p in spec.parents],
            manifest=source.manifest, stdout_key=source.stdout_key,
            stderr_key=source.stderr_key, result=source.result,
        )
        self.console.progress.cloned(spec.step)

    def _remember_cache_key(self, spec: TaskSpec, result: TaskResult) -> str | None:
        """The key a succeeded @cache task is recorded under; a @catch stand-in has none (the
        step failed: running it again might not)."""
        key = spec.extra.get("cache_key")
        if key is None or not result.ok or "catch" in spec.extra:
            return None
        result.metadata["cache-key"] = key
        return key

    # -- events --------------------------------------------------------------------------------
    def _handle(self, event: Any) -> None:
        live = self._live.get(event.key)
        if live is None:
            return
        if isinstance(event, TaskOutput):
            kept = self._within_log_size(live, event.stream, event.data)
            (live.stdout if event.stream == "stdout" else live.stderr).extend(kept)
            live.clocks[event.stream].feed(kept, time.time())
            self.console.task_output(live.prefix, event.key, event.stream, event.data)
        elif isinstance(event, TaskStarted):
            live.prefix = f"{live.prefix} (pid {event.pid})"
            retry = f" (retry {live.spec.attempt})" if live.spec.attempt else ""
            self.console.task_line(live.prefix, f"Task is starting{retry}.")
        elif isinstance(event, TaskExited):
            self.console.flush_task(live.prefix, event.key)
            del self._live[event.key]
            self._slot_freed(live.spec.step)
            self._finished(live, event.result)

    def _finished(self, live: _Live, result: TaskResult) -> None:
        spec = live.spec
        if live.timed_out and not result.ok:
            result.failure = TaskFailure(
                "TimeoutException",
                timeout_message(spec.step, self._policy(spec.step).timeout_s or 0.0),
            )
        elif live.stopped and not result.ok:
            result.failure = TaskFailure(
                "Interrupted",
                f"stopped because the run received {signal.Signals(self._stop_signal or 0).name}",
            )
        follow_up = None if result.ok or self._stop_signal else self._follow_up(spec, result)
        if follow_up is not None and self._failed and "catch" not in follow_up.extra:
            # the run has failed already: a task still running then may finish, but a retry
            # would be new work (and may wait minutes_between_retries) for a run that cannot
            # succeed; Metaflow stops such tasks. A @catch stand-in records what was caught.
            follow_up = None
        said = bytes(live.stderr)  # what the task itself wrote to stderr
        if result.failure is not None and result.failure.type_name == "TaskCrashed":
            # The process died without a word (a segfault, os._exit): the stored stderr says why.
            gap = b"\n" if said and not said.endswith(b"\n") else b""
            note = gap + f"{result.failure.type_name}: {result.failure.message}\n".encode()
            live.stderr += note
            live.clocks["stderr"].feed(note, time.time())
        stdout_key = self._save_log(live, "stdout")
        stderr_key = self._save_log(live, "stderr")
        cache_key = self._remember_cache_key(spec, result)
        fault_points.hold("record.logs-saved")
        self.meta.attempt_finished(self.flow_name, self.run_id, spec.step, spec.task_id,
                                   spec.attempt, result, stdout_key=stdout_key,
                                   stderr_key=stderr_key, final=follow_up is None)
        if cache_key is not None:
            self.meta.set_cache_key(self.flow_name, self.run_id, spec.step, spec.task_id,
                                    cache_key)
        self._live_logs.finished(spec.task_id)
        outcome = "done" if result.ok else "failed" if follow_up is None else "retry"
        self.console.progress.finished(spec.step, outcome)
        if result.ok:
            if self.graph[spec.step].is_end and was_caught(result.metadata):
                self._end_caught = True
            if (result.foreach_count and not result.foreach_unbounded
                    and self.graph[spec.step].transition == FOREACH):
                # Metaflow's runtime says how wide a bounded foreach fans out, just before
                # the finish line (a num_parallel or unbounded fan-out is not counted there).
                self.console.task_line(live.prefix,
                                       f"Foreach yields {result.foreach_count} child steps.")
            self.console.task_line(live.prefix, "Task finished successfully.")
            if not self._failed:
                self._release_successors(spec, result)
            return
        failure = result.failure
        if not self.console.shows_task_output and said:
            # --quiet or the progress display hid the task's output; its error output is why
            # it failed, so show it.
            self.console.task_output(live.prefix, spec.task_id, "stderr",
                                     said + b"\n", always=True)
        said_by_catch = (follow_up is not None and "catch" in follow_up.extra
                         and failure is not None and bool(failure.traceback))
        if failure is not None and not said_by_catch and (
                not said or live.timed_out or live.stopped
                or failure.type_name == "TimeoutException"):
            # The task could not say it itself (it crashed or was stopped), or its traceback
            # ends in a class path: say it for it.
            self.console.task_line(live.prefix, f"{failure.type_name}: {failure.message}",
                                   always=True)
        kind = self.ignored_environments.get(spec.step)
        if kind and failure is not None and failure.type_name == "ModuleNotFoundError":
            self.console.task_line(
                live.prefix, f"Step '{spec.step}' declares @{kind} packages, which this run "
                f"ignores: add --environment={kind} to build its environment", always=True)
        built = self.built_environments.get(spec.step)
        if built and failure is not None and failure.type_name == "ModuleNotFoundError":
            from headwater.import_hint import module_in_environment_hint

            hint = module_in_environment_hint(spec.step, built[0], built[1], failure.message)
            if hint:
                self.console.task_line(live.prefix, hint, always=True)
        if follow_up is not None:
            self._schedule_follow_up(live, follow_up)
            return
        self.console.task_line(live.prefix, "Task failed.", always=True)
        self._failed.append(spec.pathspec)
        self._drop_waiting()

    def _drop_waiting(self) -> None:
        """A failure or an interruption: nothing that has not started will run."""
        self._ready.clear()
        self._delayed.clear()
        self._held.clear()
        self._looked_up.clear()
        self.console.progress.dropped_waiting()

    def _within_log_size(self, live: _Live, stream: str, data: bytes) -> bytes:
        """What of ``data`` the stored log keeps under ``--max-log-size``: a chunk that would
        reach the limit is replaced by Metaflow's one-line note, and nothing is kept after it."""
        limit = self.options.max_log_size
        if limit is None:
            return data
        if stream in live.truncated:
            return b""
        kept = live.stdout if stream == "stdout" else live.stderr
        if len(kept) + len(data) < limit * 1024 * 1024:
            return data
        live.truncated.add(stream)
        newline = b"\n" if kept and not kept.endswith(b"\n") else b""
        return newline + b"[TRUNCATED - MAXIMUM LOG FILE SIZE REACHED]\n"

    def _save_log(self, live: _Live, stream: str) -> str | None:
        """Store a task's output; a storage error is reported, never fatal to the run."""
        data = live.stdout if stream == "stdout" else live.stderr
        if not data:
            return None
        try:
            return self.store.save_bytes(encode_log(bytes(data), live.clocks[stream].times)).key
        except HeadwaterException as exc:
            self.console.task_line(live.prefix, f"The task's {stream} could not be saved: {exc.msg}",
                                   always=True)
            return None

    def _follow_up(self, spec: TaskSpec, result: TaskResult) -> TaskSpec | None:
        """The next attempt of a failed task: a retry, the @catch stand-in, or None."""
        policy = self._policy(spec.step)
        if "catch" in spec.extra:
            return None
        if spec.attempt + 1 < policy.attempts:
            return replace(spec, attempt=spec.attempt + 1)
        if policy.catch_var is not None:
            kept = {k: v for k, v in result.manifest.items() if k not in spec.params}
            caught = {"var": policy.catch_var, "failure": result.failure,
                      "print": policy.catch_print, "kept": kept}
            return replace(spec, attempt=spec.attempt + 1, extra={**spec.extra, "catch": caught})
        return None

    def _schedule_follow_up(self, live: _Live, spec: TaskSpec) -> None:
        if "catch" in spec.extra:
            self.console.task_line(live.prefix, "Task failed; @catch lets the flow go on.",
                                   always=True)
            self._ready.appendleft(spec)  # at once, as a retry (see _release_delayed)
            return
        policy = self._policy(spec.step)
        delay = policy.retry_delay_s if policy.retry_delay_given else 0.0
        total = self._policy(spec.step).attempts
        when = f" in {delay:g} s" if delay else ""
        self.console.task_line(
            live.prefix, f"Task failed; retrying (attempt {spec.attempt + 1} of {total}){when}.",
            always=True)
        heapq.heappush(self._delayed, (time.monotonic() + delay, id(spec), spec))

    # -- the graph walk ------------------------------------------------------------------------
    def _release_successors(self, spec: TaskSpec, result: TaskResult) -> None:
        if spec.frames and spec.frames[-1].is_control:
            return  # an unbounded foreach's control task: only its items go on to the join
        node = self.graph[spec.step]
        me = ParentRef(spec.step, spec.task_id, self._shared(spec, result.manifest), spec.frames)
        if node.transition == SPLIT:
            for index, step in enumerate(node.out):
                frame = Frame(spec.step, spec.task_id, index, len(node.out))
                self._go(step, me, spec.frames + (frame,))
        elif node.transition in (FOREACH, PARALLEL):
            count = result.foreach_count or 0
            unbounded = result.foreach_unbounded
            if node.transition == PARALLEL:  # node 0 is enqueued first, so it gets this id
                self._parallel_control[(spec.step, spec.task_id)] = str(self._next_task_id)
            # An unbounded foreach has a control task beside its items (it joins nothing).
            for index in range(CONTROL_INDEX if unbounded else 0, count):
                frame = Frame(spec.step, spec.task_id, index, count, True, result.foreach_items_key,
                              unbounded)
                self._go(node.out[0], me, spec.frames + (frame,))
        else:
            for step in result.next_steps:
                self._go(step, me, spec.frames)

    @staticmethod
    def _shared(spec: TaskSpec, manifest: Manifest) -> Manifest:
        """``manifest`` with each reference the task passed on unchanged from its parent
        replaced by the parent's own.

        A finished task's references stay in memory until the join that reads it starts, and
        go to that join in its TaskSpec. The tasks of a foreach mostly pass on what their
        parent made (the list, the parameters), each reference unpickled afresh from its own
        result; shared, they are held once, and pickled once into the join's spec (pickle
        writes an object it has already written as a back-reference)."""
        if len(spec.parents) != 1:
            return manifest
        before = spec.parents[0].manifest
        shared = {}
        for name, ref in manifest.items():
            old = before.get(name)
            shared[name] = old if old is not None and (old is ref or old == ref) else ref
        return shared

    def _go(self, step: str, parent: ParentRef, frames: tuple[Frame, ...]) -> None:
        if not self.graph[step].is_join:
            self._enqueue(step, [parent], frames)
            return
        top = frames[-1]
        key = (step, frames[:-1], top.step, top.task_id)
        arrived = self._joins.get(key)
        if arrived is None:
            # A @cache join is keyed on its parents' manifests, so it keeps them in memory.
            arrived = self._joins[key] = Arrivals(
                None if self._policy(step).cache else self.store)
        arrived.add(top.index, parent)
        if len(arrived) == top.num_splits:
            del self._joins[key]
            parents, keys = arrived.parents()
            self._enqueue(step, parents, frames[:-1], keys)


def _nohup(sig: int) -> bool:
    """SIGHUP ignored at launch (``nohup ... run``) stays ignored: the run outlives its terminal."""
    return sig == getattr(signal, "SIGHUP", None) and signal.getsignal(sig) is signal.SIG_IGN


def host_and_pid() -> tuple[str, int]:
    """What a run records about its scheduler for liveness (host and PID namespace, pid)."""
    return this_host(), os.getpid()


def python_tag() -> str:
    return "python_version:" + ".".join(map(str, sys.version_info[:3]))


def version_tags() -> list[str]:
    """The system tags every run carries about what ran it, as Metaflow's runs do:
    ``metaflow_version:`` (the Metaflow API level headwater serves) and ``python_version:``."""
    return [f"metaflow_version:{METAFLOW_API_VERSION}", python_tag()]


def _shown(text: Any) -> str:
    """A name a record gave (another run's task, which anyone writing a shared database may have
    named), as printed in a line of ours: control and format characters as escapes."""
    from headwater.tracebacks import printable_name

    return printable_name(str(text))
