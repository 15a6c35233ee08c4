"""The ``run`` command: turn parsed options into a RunOptions and call the runtime."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli.context import settings_of
from headwater.runtime.console import Console
from headwater.runtime.launcher import run_flow
from headwater.runtime.scheduler import RunOptions


def do_run(ctx: click.Context, flow_cls: type, given: dict[str, Any], *, tags: tuple[str, ...],
           max_workers: int | None, max_num_splits: int, run_id_file: str | None) -> int:
    options = RunOptions(tags=tags, max_num_splits=max_num_splits, run_id_file=run_id_file)
    if max_workers is not None:
        if max_workers < 1:
            raise click.BadParameter("must be at least 1", param_hint="--max-workers")
        options.max_workers = max_workers
    console = Console(quiet=ctx.obj["quiet"])
    outcome = run_flow(flow_cls, params=given, options=options, settings=settings_of(ctx),
                       console=console)
    if outcome.interrupted:
        return 130
    return 0 if outcome.ok else 1
