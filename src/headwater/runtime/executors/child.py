"""The entry point a task process runs: read the spec, run the task, send the result.

Forked tasks (the local executor, step environments' servers) and spawned ones run the same."""

from __future__ import annotations

import _socket  # the sockets a fork server hands its tasks (see forkserver.py)
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from headwater import fault_points
from headwater.flow.constants import class_constants
from headwater.graph.model import Graph
from headwater.records import TaskSpec
from headwater.runtime.executors.forkserver import read_to_end
from headwater.runtime.task import WARM_ROUNDS, execute_task, warm_task_path
from headwater.store.datastore import discover_serializers, warm_codecs


def make_child_main(flow_cls: type, graph: Graph, store: Any,
                    current_fields: Mapping[str, Any] | None = None,
                    facts: Mapping[str, str] | None = None) -> Callable[[_socket.socket], int]:
    """Bind what every task of a run shares; the result runs inside each forked task.

    ``current_fields`` (the project and branch, ...) are the same for every task of the run, so
    they are bound here rather than carried in each TaskSpec by the scheduler. ``facts`` are
    added to every result's metadata (e.g. the environment the task ran in).
    """

    def child_main(sock: _socket.socket) -> int:
        spec: TaskSpec = pickle.loads(read_to_end(sock))
        if current_fields:
            spec.extra = {**spec.extra,
                          "current": {**current_fields, **spec.extra.get("current", {})}}
        result = execute_task(flow_cls, graph, spec, store)
        if facts:
            result.metadata = {**result.metadata, **facts}
        fault_points.hold("task.stored")
        sock.sendall(pickle.dumps(result, protocol=5))
        sock.close()
        fault_points.hold("task.sent")
        return 0 if result.ok else 1

    def warm() -> None:
        """Run by the fork server before its first fork: the flow's class constants are found
        there once (the class keeps them) instead of in every task; the scheduler's own copy
        of the class is left as it was. Should that fail, each task tries again and reports
        it, as before."""
        try:
            class_constants(flow_cls)
        except Exception:  # noqa: BLE001, S110 - the task's own attempt names the error
            pass
        # The start task records the graph's plain-data description (``current.graph``); its
        # module is loaded here once, not after the fork on the run's critical path.
        import headwater.graph.info  # noqa: F401

        discover_serializers()  # once here, not in every task forked from here

    def rehearse() -> None:
        """Run by a fork server once it has forked a few tasks (see ``serve``): headwater's own
        in-memory code around a step, warmed up so later tasks find it quickened (task.py)."""
        try:
            warm_task_path(flow_cls, graph)
            warm_codecs(WARM_ROUNDS)
        except Exception:  # noqa: BLE001, S110 - an optimisation: tasks run the same without it
            pass

    child_main.warm = warm  # type: ignore[attr-defined]
    child_main.rehearse = rehearse  # type: ignore[attr-defined]
    return child_main
