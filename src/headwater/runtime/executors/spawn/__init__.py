"""The spawn executor: each task in a new interpreter of its own (``executor.py``), which runs
``task_process.py``. For flows whose libraries do not survive ``fork()``; slower to start."""

from __future__ import annotations

from typing import Any

from headwater.runtime.executors.base import Executor, ExecutorContext


def create(context: ExecutorContext, **options: Any) -> Executor:
    """The spawn executor's factory (the backend ``spawn`` in :mod:`headwater.backends`)."""
    from headwater.flow_file import own_file_record
    from headwater.runtime.executors.spawn.executor import SpawnExecutor

    code = own_file_record(context.flow_cls)
    return SpawnExecutor({"folder": code["folder"], "code": code, "root": context.store.root,
                          "current": dict(context.current_fields)},
                         step_envs=context.step_envs)
