"""``@resources`` on a Dask cluster: which Dask resources a task asks for, and whether a worker has them.

Dask's own mechanism does the placing: workers declare abstract resources
(``dask worker ... --resources "CPU=2,MEMORY=8192,GPU=1"``) and a task submitted with
``resources={"CPU": 2}`` runs only on a worker that has that much free. This module turns a step's
``@resources(cpu=, memory=, gpu=)`` into such a request and, before the task is submitted, checks it
against the workers connected now, so a request that no worker can ever meet fails the task at once
instead of leaving it queued forever:

- ``cpu`` -> ``CPU``, ``memory`` (MB) -> ``MEMORY``, ``gpu`` -> ``GPU``; 0 and None are left out.
- ``CPU`` and ``MEMORY`` are enforced only when some worker declares them (a cluster started without
  ``--resources`` runs every step, with one note per name and run); ``GPU`` always is.
- The workers' declarations are asked of the Dask scheduler at most every :data:`REFRESH_S`
  seconds, and once more before a task is refused.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from headwater.records import TaskFailure, TaskResult

# @resources option -> Dask resource name
DASK_NAMES = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU"}
ALWAYS_ENFORCED = frozenset({"GPU"})  # a GPU step on a machine without one cannot just run slower
REFRESH_S = 5.0
MAX_LISTED_WORKERS = 10
FAILURE_TYPE = "ResourcesUnavailable"


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _text(resources: Mapping[str, Any], sep: str = ", ") -> str:
    return sep.join(f"{name}={_number(value)}" for name, value in resources.items())


def dask_request(resources: Mapping[str, Any]) -> dict[str, int | float]:
    """The Dask resources of a step's ``@resources`` options (cpu/memory/gpu; 0 and None left
    out): ``{"cpu": 2, "memory": 4096, "gpu": 0}`` -> ``{"CPU": 2, "MEMORY": 4096}``."""
    request: dict[str, int | float] = {}
    for option, name in DASK_NAMES.items():
        value = resources.get(option)
        if value is not None and float(value) > 0:
            request[name] = _number(value)
    return request


class DaskResources:
    """Places tasks by ``@resources`` on the workers of one Dask client (one per run)."""

    def __init__(self, client: Any, *, refresh_s: float = REFRESH_S,
                 say: Callable[[str], None] | None = None) -> None:
        self._client = client
        self._refresh_s = refresh_s
        self._say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._workers: dict[str, tuple[str, dict[str, float]]] = {}  # address -> (name, resources)
        self._fetched_at: float | None = None
        self._noted: set[str] = set()  # resource names already said to be unenforced

    def _snapshot(self, fresh: bool = False) -> dict[str, tuple[str, dict[str, float]]]:
        now = time.monotonic()
        if fresh or self._fetched_at is None or now - self._fetched_at > self._refresh_s:
            try:
                info = self._client.scheduler_info(n_workers=-1).get("workers", {})
            except Exception:  # noqa: BLE001 - a missed refresh: the last answer will do
                if self._fetched_at is None:
                    raise
                return self._workers
            self._workers = {addr: (str(w.get("name", addr)), dict(w.get("resources") or {}))
                             for addr, w in info.items()}
            self._fetched_at = now
        return self._workers

    def place(self, step: str, resources: Mapping[str, Any]) -> dict[str, int | float] | TaskResult:
        """The ``resources=`` to submit a task of ``step`` with, or the failed result when no
        connected worker can ever run it. ``{}`` (no constraint, no call to the scheduler) for a
        step without ``@resources``."""
        request = dask_request(resources)
        if not request:
            return {}
        workers = self._snapshot()
        declared = {name for _, offers in workers.values() for name in offers}
        enforced = {n: v for n, v in request.items() if n in declared or n in ALWAYS_ENFORCED}
        for name in request.keys() - enforced.keys() - self._noted:
            self._noted.add(name)
            option = next(o for o, n in DASK_NAMES.items() if n == name)
            self._say(f"Note: no Dask worker declares {name}; @resources({option}="
                      f"{request[name]}) of step {step} is not enforced. Start workers with "
                      f'--resources "{name}=..." to enforce it.')
        if not enforced or not workers:  # with no worker yet, Dask waits for one that fits
            return enforced
        if not self._fits_one(enforced, workers):
            workers = self._snapshot(fresh=True)  # a worker may have just joined
            if not workers or self._fits_one(enforced, workers):
                return enforced
            return TaskResult(failure=TaskFailure(
                FAILURE_TYPE, self._refusal(step, resources, enforced, workers)))
        return enforced

    @staticmethod
    def _fits_one(request: Mapping[str, float],
                  workers: Mapping[str, tuple[str, dict[str, float]]]) -> bool:
        return any(all(offers.get(name, 0) >= value for name, value in request.items())
                   for _, offers in workers.values())

    @staticmethod
    def _refusal(step: str, resources: Mapping[str, Any], request: Mapping[str, float],
                 workers: Mapping[str, tuple[str, dict[str, float]]]) -> str:
        asked = {o: resources[o] for o in DASK_NAMES if resources.get(o)}
        lines = [f"no Dask worker can run step {step}: it asks for @resources("
                 f"{_text(asked)}), that is the Dask resources {_text(request)}, and the "
                 f"{len(workers)} connected worker(s) offer:"]
        for addr, (name, offers) in sorted(workers.items())[:MAX_LISTED_WORKERS]:
            what = _text(offers) if offers else "no resources declared"
            who = name if name == addr else f"{name} ({addr})"
            lines.append(f"  {who}: {what}")
        if len(workers) > MAX_LISTED_WORKERS:
            lines.append(f"  ... and {len(workers) - MAX_LISTED_WORKERS} more")
        lines.append(f'Start a worker with --resources "{_text(request, ",")}" (dask worker '
                     f"SCHEDULER --resources ...) or lower the request in @resources.")
        return "\n".join(lines)


def refused_future(result: TaskResult) -> Any:
    """A stand-in for the Dask future of a task that was never submitted: already finished, with
    the output ``run_task`` returns for a task that failed before it started."""
    import pickle

    out = {"code": 1, "result": pickle.dumps(result, protocol=5), "stdout": b"", "stderr": b"",
           "pid": 0}
    return _Done(out)


class _Done:
    status = "finished"

    def __init__(self, out: dict[str, Any]) -> None:
        self._out = out

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        return self._out

    def exception(self, timeout: float | None = None) -> None:
        return None

    def cancel(self) -> None:
        pass


def with_worker(result: TaskResult, out: Mapping[str, Any]) -> TaskResult:
    """``result`` with the Dask worker that ran the task (from ``run_task``'s output) in its
    metadata: ``dask-worker`` (the worker's name) and ``dask-worker-address``."""
    if out.get("worker_address"):
        result.metadata = {**result.metadata, "dask-worker": str(out.get("worker") or ""),
                           "dask-worker-address": str(out["worker_address"])}
    return result
