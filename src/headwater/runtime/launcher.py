"""Start a run: check the graph, resolve parameters, fork the task server, schedule to the end.

This is the library entry point the CLI, the Runner and notebooks share; it prints through a
Console and returns a RunOutcome instead of exiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater import __version__
from headwater.graph import check_flow
from headwater.runtime.child import make_child_main
from headwater.runtime.console import Console
from headwater.runtime.executors.local import LocalExecutor
from headwater.runtime.parameters import resolve_parameters, store_parameters
from headwater.runtime.scheduler import (
    RunOptions,
    RunOutcome,
    Scheduler,
    host_and_pid,
    python_tag,
)
from headwater.settings import Settings, current_username
from headwater.store import open_datastore


def run_flow(flow_cls: type, *, params: Mapping[str, Any], options: RunOptions,
             settings: Settings, console: Console) -> RunOutcome:
    """Run ``flow_cls`` from its start step; returns when the run has finished or failed."""
    flow_name = flow_cls.__name__
    user = current_username()
    console.say(f"headwater {__version__} executing {flow_name} for user:{user}")
    console.say("Validating your flow...")
    graph = check_flow(flow_cls)
    console.say("    The graph looks good!")
    values = resolve_parameters(flow_cls, params, user)
    store = open_datastore(settings.datastore_root)
    # Fork the task server before anything opens a database connection or starts a thread.
    executor = LocalExecutor(make_child_main(flow_cls, graph, store))
    try:
        from headwater.meta import open_metadata

        meta = open_metadata(settings.metadata_url)
        param_refs = store_parameters(values, store, f"{flow_name}/parameters")
        host, pid = host_and_pid()
        run_id = meta.new_run(
            flow_name, user=user, tags=list(options.tags),
            system_tags=[f"user:{user}", "runtime:local", python_tag()],
            params=param_refs, origin_run_id=options.origin_run_id, pid=pid, host=host,
        )
        if options.run_id_file:
            with open(options.run_id_file, "w") as handle:
                handle.write(run_id)
        console.say(f"Workflow starting (run-id {run_id}):", always=False)
        scheduler = Scheduler(flow_name=flow_name, graph=graph, executor=executor, meta=meta,
                              store=store, console=console, options=options, username=user)
        outcome = scheduler.run(run_id, param_refs, tuple(options.tags))
    finally:
        executor.close()
    _closing_line(console, flow_name, outcome)
    return outcome


def _closing_line(console: Console, flow_name: str, outcome: RunOutcome) -> None:
    if outcome.ok:
        console.say(f"Done! Run {flow_name}/{outcome.run_id} succeeded.", always=True)
    elif outcome.interrupted:
        console.say(f"Run {flow_name}/{outcome.run_id} was interrupted and is recorded as failed.",
                    always=True)
    else:
        failed = ", ".join(outcome.failed_tasks)
        console.say(f"Run {flow_name}/{outcome.run_id} failed: {failed}.", always=True)
