"""Run every task on a Dask cluster; the scheduler stays here and is the only metadata writer.

At launch the flow's folder is packed (``*.py``, and other suffixes when asked) into a
content-addressed blob of the run's datastore: the *code package*
(:mod:`headwater.store.code_package`). Each task is a Dask task that calls
:func:`headwater.runtime.executors.dask.worker.run_task` on a worker, which starts
the task in a process of its own, forked from a warm server beside the worker
(:mod:`.worker_forks`); that process unpacks the code package (once per key), imports the
flow, runs the task writing blobs to the datastore, and hands back the TaskResult with the
task's stdout and stderr.

The datastore root must be reachable from the workers under the same name: a local folder on a
shared disk (or the same machine), or an object store URL such as ``s3://bucket/prefix``.
"""

from __future__ import annotations

import logging
import pickle
import queue
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from headwater import fault_points
from headwater.exceptions import RunFailedError
from headwater.records import TaskFailure, TaskResult, TaskSpec
from headwater.runtime.executors.base import Event, Executor, TaskExited, TaskOutput, TaskStarted
from headwater.runtime.executors.dask.resources import DaskResources, refused_future, with_worker
from headwater.runtime.executors.processes import died_by_signal, killed_after_finishing
from headwater.store import code_package

CONNECT_TIMEOUT_S = 10.0  # HEADWATER_DASK_TIMEOUT overrides it
TIMEOUT_ENV = "HEADWATER_DASK_TIMEOUT"


def _connect_timeout_s() -> float:
    """``HEADWATER_DASK_TIMEOUT`` seconds, else :data:`CONNECT_TIMEOUT_S`; anything but a
    positive number is one clear error (``abc`` was a ValueError traceback, ``nan`` or ``-1``
    reached Dask)."""
    from headwater.env_numbers import env_seconds

    return env_seconds(TIMEOUT_ENV, CONNECT_TIMEOUT_S, error=RunFailedError)


NO_WORKERS_ENV = "HEADWATER_DASK_NO_WORKERS_S"
NO_WORKERS_S = 300.0
"""How long tasks may wait on a cluster without a single worker before the run gives up."""
WORKER_CHECK_S = 2.0
"""How often the scheduler is asked how many workers it has, while tasks wait to start."""


def _no_workers_s() -> float:
    """``HEADWATER_DASK_NO_WORKERS_S`` (0: wait for ever, as Dask does), else 300 s."""
    from headwater.env_numbers import env_seconds

    return env_seconds(NO_WORKERS_ENV, NO_WORKERS_S, zero_ok=True, error=RunFailedError)


# Finished tasks' results fetched from the workers at once. Dask runs every done-callback on one
# thread: a fetch made there waited for the one before it, and a single worker slow to answer
# held back the results of all the others.
FETCHERS = 8


@dataclass
class _Task:
    key: str
    name: str  # the Dask key, unique per attempt
    future: Any = None
    started: bool = False
    sent: dict[str, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0})


class DaskExecutor(Executor):
    """Submits each task to the Dask scheduler at ``address``; see the module docstring."""

    def __init__(self, address: str, *, flow_cls: type, store: Any,
                 current_fields: dict[str, Any] | None = None,
                 connect_timeout: float | None = None,
                 package_suffixes: tuple[str, ...] = code_package.DEFAULT_SUFFIXES,
                 security: Any = None,
                 step_locks: dict[str, dict[str, Any]] | None = None,
                 extra_files: tuple[tuple[str, str], ...] = ()) -> None:
        try:
            import distributed
        except ImportError:
            raise RunFailedError(
                "--executor dask needs the 'distributed' package",
                fix='pip install "headwater[dask]"',
            ) from None
        self._root = store.root
        self._step_locks = dict(step_locks or {})  # @pypi/@conda: built by the workers
        self._address = address
        self._current = dict(current_fields or {})
        from headwater.decorators.package_hooks import package_additions

        # extra_files (the active metaflow_extensions packages, which the launcher found) travel
        # in the code package, as in Metaflow, so the workers need not install them.
        additions = [*extra_files, *package_additions(flow_cls)]
        tarball, code = code_package.build(flow_cls, package_suffixes, additions)
        if connect_timeout is None:
            connect_timeout = _connect_timeout_s()
        try:
            self._client = distributed.Client(address, timeout=connect_timeout,
                                              set_as_default=False, security=security)
        except (OSError, TimeoutError, ValueError, TypeError, RuntimeError) as exc:
            raise RunFailedError(
                f"cannot reach the Dask scheduler at {address}: {exc}",
                fix="check --dask-address / HEADWATER_DASK_ADDRESS (tcp://HOST:PORT) and that "
                "'dask scheduler' runs there; a cluster that speaks TLS needs a tls:// address "
                "and the dask_tls_* settings (docs/scale-out.md)",
            ) from None
        try:
            self._code = code_package.save(store, tarball, code)
        except BaseException:
            self._client.close()
            raise
        self._tasks: dict[str, _Task] = {}
        self._by_name: dict[str, _Task] = {}
        # Filled from the client's threads: ("live", msg) from the workers, ("done", (key,
        # the fetched output)) from the fetch threads, ("done", key) for a refused task.
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._fetchers = ThreadPoolExecutor(FETCHERS, thread_name_prefix="headwater-fetch")
        self._topic = f"headwater-{uuid.uuid4().hex}"
        self._client.subscribe_topic(self._topic, lambda event: self._inbox.put(("live", event[1])))
        # The scheduler's own news: a worker that leaves takes its running tasks with it.
        self._client.subscribe_topic("all", lambda event: self._inbox.put(("cluster", event[1])))
        self._resources = DaskResources(self._client)  # @resources -> Dask worker resources
        self._no_workers_bound = _no_workers_s()
        self._no_workers_since: float | None = None  # since when tasks wait on no worker
        self._workers_checked = float("-inf")

    @property
    def code_package(self) -> dict[str, str]:
        """What the run records about the code package: its blob ``key``, the flow file's
        ``path`` in it, the ``module`` name and the flow ``class``."""
        return dict(self._code)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def submit(self, key: str, spec: TaskSpec) -> None:
        from headwater.runtime.executors.dask.worker import run_task

        if self._current:
            spec.extra = {**spec.extra, "current": {**self._current,
                                                    **spec.extra.get("current", {})}}
        name = f"headwater-{spec.flow_name}-{spec.run_id}-{spec.step}-{spec.task_id}-" \
               f"{spec.attempt}-{uuid.uuid4().hex[:8]}"
        task = _Task(key, name)
        # @resources -> Dask resources; @catch's stand-in does not run the step: it goes anywhere.
        asked = {} if "catch" in spec.extra else spec.extra.get("resources") or {}
        resources = self._resources.place(spec.step, asked)
        self._tasks[key] = self._by_name[name] = task
        if isinstance(resources, TaskResult):  # no worker can run it: it fails now, unsubmitted
            task.future, task.started = refused_future(resources), True
            self._inbox.put(("done", key))
            return
        code = self._code
        if spec.step in self._step_locks:  # the lock travels with the code package
            code = {**code, "env": self._step_locks[spec.step]}
        task_payload = {"spec": spec, "root": self._root, "code": code}
        faults = fault_points.carried()  # tests only: the run's fault point, held on the worker
        if faults is not None:
            task_payload["faults"] = faults
        payload = pickle.dumps(task_payload, protocol=5)
        task.future = self._client.submit(run_task, name, payload, self._root, code,
                                          self._topic, key=name,
                                          pure=False, retries=0, resources=resources or None)
        task.future.add_done_callback(lambda future, key=key: self._fetch_soon(key, future))

    def _fetch_soon(self, key: str, future: Any) -> None:
        """Run by Dask's callback thread: hand the fetch of ``future``'s result to a fetcher."""
        try:
            self._fetchers.submit(self._fetch, key, future)
        except RuntimeError:  # closed: nobody waits for this result any more
            pass

    def _fetch(self, key: str, future: Any) -> None:
        self._inbox.put(("done", (key, _fetched(future))))

    def poll(self, timeout: float | None) -> list[Event]:
        """Live events (start, output) and exits, in the order the client received them."""
        events: list[Event] = []
        if self._client.status not in ("running", "newly-created"):
            raise self._connection_lost()
        if self._waiting():
            self._watch_workers()
            timeout = WORKER_CHECK_S if timeout is None else min(timeout, WORKER_CHECK_S)
        try:
            items = [self._inbox.get(block=timeout is None or timeout > 0, timeout=timeout)]
        except queue.Empty:
            return events
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        for kind, value in items:
            if kind == "live":
                self._on_live(value, events)
                continue
            if kind == "cluster":
                self._on_cluster(value, events)
                continue
            key, fetched = value if isinstance(value, tuple) else (value, None)
            task = self._tasks.pop(key, None)
            if task is not None:
                del self._by_name[task.name]
                self._started(task, 0, events)
                events.extend(self._exit_events(task, fetched))
        return events

    def _waiting(self) -> list[_Task]:
        """Our tasks submitted to the cluster that have not started on a worker yet."""
        return [t for t in self._tasks.values() if not t.started]

    def _watch_workers(self) -> None:
        """Tasks wait, and the cluster has no worker at all: say so at once, and give up after
        ``HEADWATER_DASK_NO_WORKERS_S``. Dask itself would keep the tasks queued for ever (a
        cluster whose workers were never started, or all died and were not replaced)."""
        now = time.monotonic()
        if now - self._workers_checked < WORKER_CHECK_S:
            return
        self._workers_checked = now
        try:
            workers = self._client.scheduler_info(n_workers=0).get("n_workers")
        except Exception:  # noqa: BLE001 - a lost scheduler is seen by the client's status
            return
        if workers or workers is None:
            self._no_workers_since = None
            return
        waiting = self._waiting()
        steps = ", ".join(sorted({t.name.split("-")[3] for t in waiting if t.name.count("-") >= 5}))
        bound = self._no_workers_bound
        if self._no_workers_since is None:
            self._no_workers_since = now
            limit = (f"the run gives up after {bound:g} s without one" if bound
                     else "the run waits for one")
            print(f"headwater: no Dask worker is connected to the scheduler at {self._address}; "
                  f"{len(waiting)} task(s) wait for one ({limit}; {NO_WORKERS_ENV} changes "
                  f"that). Start workers with: dask worker {self._address}",
                  file=sys.stderr, flush=True)
        if bound and now - self._no_workers_since >= bound:
            raise RunFailedError(
                f"no Dask worker was connected to the scheduler at {self._address} for "
                f"{bound:g} s, and {len(waiting)} task(s) of step(s) {steps or '?'} waited for "
                "one",
                fix=f"start workers (dask worker {self._address}), or find why they left (a "
                "worker's log says; a nanny restarts a worker that went over its memory "
                f"limit), then resume the run (python flow.py resume): what finished is kept. "
                f"To wait longer, set {NO_WORKERS_ENV} (0: for ever)")

    def _on_live(self, msg: Any, events: list[Event]) -> None:
        task = self._by_name.get(msg.get("name")) if isinstance(msg, dict) else None
        if task is None:  # late news of a task already reported as exited
            return
        if "pid" in msg:
            self._started(task, int(msg["pid"]), events)
        elif msg.get("stream") in task.sent:
            self._started(task, 0, events)
            task.sent[msg["stream"]] += len(msg["data"])
            events.append(TaskOutput(task.key, msg["stream"], bytes(msg["data"])))

    def _on_cluster(self, msg: Any, events: list[Event]) -> None:
        """A worker left: each of our tasks that had started there is over.

        Dask would run such a task again elsewhere (up to its ``allowed-failures``), behind the
        scheduler's back; instead the attempt fails here, so @retry and @catch decide what
        happens next, and the Dask task is cancelled. A task that had not started yet is left to
        Dask to place on another worker: no user code ran, nothing is lost.
        """
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        gone = [self._by_name.get(str(name)) for name in msg.get("processing-tasks") or ()]
        lost = [task for task in gone if task is not None and task.started]
        for task in lost:
            del self._tasks[task.key], self._by_name[task.name]
            events.append(TaskExited(task.key, _crashed(
                f"the Dask worker running the task ({msg.get('worker', 'unknown')}) died or left "
                "the cluster; the task did not finish")))
        if lost:
            self._kill(lost, force=True)

    @staticmethod
    def _started(task: _Task, pid: int, events: list[Event]) -> None:
        if not task.started:
            task.started = True
            events.append(TaskStarted(task.key, pid))

    def _exit_events(self, task: _Task, fetched: tuple[str, Any] | None = None) -> list[Event]:
        future = task.future
        if future.status == "finished":
            if fetched is None:
                fetched = _fetched(future)
            how, out = fetched
            if how == "lost":
                return [TaskExited(task.key, _crashed(f"its result was lost: {out}"))]
            events: list[Event] = []
            for stream in ("stdout", "stderr"):
                rest = out[stream][task.sent[stream]:]  # what no live event brought
                if rest:
                    events.append(TaskOutput(task.key, stream, rest))
            events.append(TaskExited(task.key, with_worker(_decode(out), out)))
            return events
        if future.status == "cancelled":
            if self._client.status != "running":  # Dask cancels every future when it happens
                raise self._connection_lost()
            return [TaskExited(task.key, TaskResult(failure=TaskFailure(
                "TaskKilled", "the task was cancelled on the Dask cluster")))]
        try:
            exc = future.exception(timeout=5)
        except Exception as err:  # noqa: BLE001
            exc = err
        name = type(exc).__name__
        if name == "KilledWorker":
            msg = (f"the Dask worker running the task died ({exc}); the task did not finish")
        else:
            msg = f"the Dask task failed: {name}: {exc}"
        return [TaskExited(task.key, _crashed(msg))]

    def _connection_lost(self) -> RunFailedError:
        """The client lost the scheduler: Dask has forgotten every task of ours, so the run
        cannot go on. Its reconnection attempts would only add tracebacks to the console."""
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        return RunFailedError(
            f"lost the connection to the Dask scheduler at {self._address}; the tasks that "
            "were running on the cluster are lost",
            fix="check that the scheduler is up and reachable from here, then resume the run "
            "(python flow.py resume): what finished is kept",
        )

    def kill(self, key: str, *, force: bool = False) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._kill([task], force)

    def _kill(self, tasks: list[_Task], force: bool) -> None:
        """Signal the tasks' processes wherever they run; forced, also cancel their futures
        (a task still queued on the cluster has no process yet)."""
        from distributed import Future

        from headwater.runtime.executors.dask.worker import kill_tasks

        try:
            self._client.run(kill_tasks, [t.name for t in tasks], force, wait=True)
        except Exception:  # noqa: BLE001 - a worker that is gone has nothing left to kill
            pass
        if force:  # a task refused before submission has no Dask future to cancel
            self._client.cancel([t.future for t in tasks if isinstance(t.future, Future)])

    def close(self) -> None:
        if self._tasks:
            self._kill(list(self._tasks.values()), force=True)
        self._tasks.clear()
        self._by_name.clear()
        self._fetchers.shutdown(wait=False, cancel_futures=True)
        for topic in (self._topic, "all"):
            try:
                self._client.unsubscribe_topic(topic)
            except Exception:  # noqa: BLE001
                pass
        try:
            self._client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
            print("headwater: the Dask client did not close cleanly", file=sys.stderr)


def _fetched(future: Any) -> tuple[str, Any] | None:
    """A finished task's output, fetched from its worker: ``("ok", output)``, ``("lost", the
    error)``, or None when the task did not finish (failed or cancelled: ``poll`` asks why).

    Called in the executor's fetch threads, several at once, so that the round trip to the
    worker for each result overlaps the scheduler's work instead of stopping it (under load it
    was most of a Dask run's time: the scheduler waited for each result before submitting the
    next task), and one worker slow to answer holds back only its own results."""
    if future.status != "finished":
        return None
    try:
        return "ok", future.result()
    except BaseException as exc:  # noqa: BLE001 - lost between worker and here (also cancelled)
        return "lost", exc


def _crashed(message: str) -> TaskResult:
    return TaskResult(failure=TaskFailure("TaskCrashed", message))


def _decode(out: dict[str, Any]) -> TaskResult:
    code = out["code"]
    if out.get("memory_rss"):  # the worker stopped it: over the worker's memory limit
        return _over_memory(out)
    if out["result"]:
        try:
            result: TaskResult = pickle.loads(out["result"])
        except Exception as err:  # noqa: BLE001 - a truncated result is a crash
            return _crashed(f"unreadable task result ({err})")
        if code < 0 and result.ok:
            return killed_after_finishing(result, -code)
        return result
    if code < 0:  # named as a local task's death is (a segfault says so in the task's stderr)
        return died_by_signal(-code, "the task's process on the Dask worker")
    return _crashed(f"the task's process on the Dask worker exited with code {code} before the "
                    "step finished")


def _over_memory(out: dict[str, Any]) -> TaskResult:
    mib = 2**20
    worker = out.get("worker") or out.get("worker_address") or "?"
    return _crashed(
        f"the task's process used {out['memory_rss'] / mib:,.0f} MiB, over what the Dask worker "
        f"{worker} allows (95 % of its --memory-limit: {out['memory_limit'] / mib:,.0f} MiB), "
        "and the worker stopped it. Give the step a worker with more memory (workers started "
        "with a larger --memory-limit and --resources MEMORY=..., and @resources(memory=...) "
        "on the step), or make it hold less at once; then resume the run")
