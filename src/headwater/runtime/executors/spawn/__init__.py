"""The spawn executor: each task in a new interpreter of its own (``executor.py``), which runs
``task_process.py``. For flows whose libraries do not survive ``fork()``; slower to start."""

from __future__ import annotations

import os
from typing import Any

from headwater.runtime.executors.base import Executor, ExecutorContext


def create(context: ExecutorContext, **options: Any) -> Executor:
    """The spawn executor's factory (the backend ``spawn`` in :mod:`headwater.backends`)."""
    from headwater.flow_file import own_file_record
    from headwater.runtime.executors.spawn.executor import SpawnExecutor
    from headwater.runtime.executors.spawn.flow_check import file_digest

    code = own_file_record(context.flow_cls)
    # Each task imports the file anew: this says which file it must find (spawn/task_process.py)
    code["sha256"] = file_digest(os.path.join(code["folder"], code["path"]))
    return SpawnExecutor({"folder": code["folder"], "code": code, "root": context.store.root,
                          "current": dict(context.current_fields)},
                         step_envs=context.step_envs)
