"""The local executor: tasks forked on this machine from a warm fork server (``executor.py``);
``../child.py`` is what each forked task runs first, ``environment_servers.py`` the servers of
steps with their own @pypi/@conda interpreter."""

from __future__ import annotations

import os
from typing import Any

from headwater.runtime.executors.base import Executor, ExecutorContext


def create(context: ExecutorContext, **options: Any) -> Executor:
    """The local executor's factory (the backend ``local`` in :mod:`headwater.backends`)."""
    from headwater.runtime.executors.child import make_child_main
    from headwater.runtime.executors.local.executor import LocalExecutor

    # Fork the task servers before this process opens a database connection or starts a thread.
    servers = min(os.cpu_count() or 1, context.max_workers)
    main = make_child_main(context.flow_cls, context.graph, context.store,
                           dict(context.current_fields))
    routes = None
    if context.step_envs:  # @pypi / @conda steps: a server per environment, started on first use
        from headwater.runtime.executors.local.environment_servers import EnvironmentServers

        routes = EnvironmentServers(context.flow_cls, context.step_envs, context.store.root,
                                    context.current_fields)
    return LocalExecutor(main, servers=servers, routes=routes)
