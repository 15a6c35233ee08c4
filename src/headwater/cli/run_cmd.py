"""The ``run`` command: turn parsed options into a RunOptions and call the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.cli.context import flow_class_of, settings_of
from headwater.runtime.console import Console
from headwater.runtime.launcher import resume_flow, run_flow
from headwater.runtime.scheduler import RunOptions, RunOutcome

if TYPE_CHECKING:
    import click  # a plain run passes a PlainContext (cli/plain_run.py) and never loads it


def _options(ctx: click.Context, tags: tuple[str, ...], max_workers: int | None,
             max_num_splits: int, run_id_file: str | None, no_cache: bool = False,
             max_log_size: int | None = None) -> RunOptions:
    options = RunOptions(tags=tags, max_num_splits=max_num_splits, run_id_file=run_id_file,
                         with_decorators=tuple(ctx.find_root().obj["with"]), no_cache=no_cache,
                         max_log_size=max_log_size)
    if max_workers is not None:
        if max_workers < 1:
            import click

            raise click.BadParameter("must be at least 1", param_hint="--max-workers")
        options.max_workers = max_workers
    return options


def _console(ctx: click.Context) -> Console:
    root = ctx.find_root().obj
    return Console.for_run(quiet=root["quiet"], progress=root["progress"])


def _exit_code(outcome: RunOutcome) -> int:
    if outcome.stop_signal is not None:
        return 128 + outcome.stop_signal
    return 0 if outcome.ok else 1


def do_run(ctx: click.Context, flow_cls: type, given: dict[str, Any],
           client_namespace: str | None = None, **opts: Any) -> int:
    options = _options(ctx, **opts)
    options.client_namespace = client_namespace
    outcome = run_flow(flow_cls, params=given, options=options,
                       settings=settings_of(ctx), console=_console(ctx),
                       **_launch_choices(ctx))
    return _exit_code(outcome)


def _launch_choices(ctx: click.Context) -> dict[str, Any]:
    """The configs, branch, executor and environment kind the top-level options chose."""
    root = ctx.find_root().obj
    return {"configs": root["configs"], "branch": root["branch"], "executor": root["executor"],
            "environment": root["environment"]}


def do_resume(ctx: click.Context, step: str | None, origin_run_id: str | None,
              clone_only: bool = False, reentrant: bool = False, **opts: Any) -> int:
    options = _options(ctx, **opts)
    options.origin_run_id = origin_run_id
    options.clone_only = clone_only  # --reentrant: every resume is its own run (decisions.md)
    outcome = resume_flow(flow_class_of(ctx), step=step, options=options,
                          settings=settings_of(ctx), console=_console(ctx),
                          **_launch_choices(ctx))
    return _exit_code(outcome)
