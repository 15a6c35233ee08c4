"""How ``logs`` prints a task's output: which streams, where to, with or without times."""

from __future__ import annotations

from typing import Any

import click


def chosen_streams(stdout: bool | None, stderr: bool | None, both: bool | None) -> list[str]:
    """Metaflow's rule: ``--stdout``/``--stderr`` pick streams; otherwise ``--both`` (default)."""
    flags = (("stdout", stdout), ("stderr", stderr))
    picked = [name for name, flag in flags if flag]
    if picked:
        return picked
    if both is False:
        return []
    return [name for name, flag in flags if flag is not False]


def print_task_logs(task: Any, streams: list[str], *, to_stdout: bool, timestamps: bool) -> None:
    """Print the chosen streams of one task; stderr goes to stderr unless ``to_stdout``.

    A task reused by ``@cache`` has the output of the task it reused, and a running task's is
    its output so far: a note on stderr says so (never on stdout, which scripts may parse).
    """
    if streams and not task.finished:
        click.echo(f"[{task.pathspec}] still running: its output so far (the whole of it is "
                   "stored when it ends; a task shows output here once it has run a second)",
                   err=True)
    reused_from = (getattr(task, "metadata_dict", None) or {}).get("cached-from")
    if reused_from and streams:
        click.echo(f"[{task.pathspec}] reused from cache: {reused_from} (its output follows)",
                   err=True)
    for stream in streams:
        err = stream == "stderr" and not to_stdout
        if timestamps:
            for when, line in task.loglines(stream):
                stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if when else "-"
                click.echo(f"{stamp} {line}", err=err)
            continue
        text = getattr(task, stream)
        if text:
            click.echo(text, nl=not text.endswith("\n"), err=err)
