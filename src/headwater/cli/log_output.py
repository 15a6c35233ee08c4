"""How ``logs`` prints a task's output: which streams, where to, with or without times, and
what of it reaches a terminal.

A step's output is whatever the step printed, and in a shared datastore the step may be
someone else's: printed raw to a terminal, ``ESC ] 52`` sets the reader's clipboard, ``ESC ] 0``
retitles the window, ``ESC [ 2 J`` clears it, a DCS string talks to the terminal itself. So on
a terminal ``logs`` passes on text, line breaks, tabs, carriage returns (progress bars) and
colours (SGR: ``ESC [ ... m``) and shows every other control character, and the bidirectional
overrides that reorder a line, as its escape (:func:`terminal_safe`); ``--raw`` prints it all as stored. Into a pipe or a file the output goes
as before (click drops the colours), since no terminal reads it there.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

# A colour or style change (SGR), kept; or one control character no terminal needs for text
# (C0 but tab, line feed and carriage return; DEL; C1, whose 0x9b is a CSI of its own); or an
# explicit bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069), which
# makes the rest of a line read in another order ("report\u202efdp.exe" as "reportexe.pdf")
# on a terminal that reorders. The implicit marks (U+200E, U+200F, U+061C) and joiners, which
# text in Arabic, Hebrew or Indic scripts and emoji need, stay text.
_SHOWN = re.compile(
    r"(\x1b\[[0-9;:]{0,64}m)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with each control character but tab, line feed and carriage return written as
    its escape (``\\x1b``), except the ``ESC`` starting a colour change: what a step printed
    can colour the reader's terminal but not drive it."""
    from headwater.tracebacks import shown_char

    return _SHOWN.sub(lambda m: m.group(1) or shown_char(m.group()), text)


def is_terminal(err: bool) -> bool:
    """Whether stdout (stderr with ``err``) is a terminal."""
    stream = sys.stderr if err else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by something without a file, or closed
        return False


def chosen_streams(stdout: bool | None, stderr: bool | None, both: bool | None) -> list[str]:
    """Metaflow's rule: ``--stdout``/``--stderr`` pick streams; otherwise ``--both`` (default)."""
    flags = (("stdout", stdout), ("stderr", stderr))
    picked = [name for name, flag in flags if flag]
    if picked:
        return picked
    if both is False:
        return []
    return [name for name, flag in flags if flag is not False]


def task_heading(task: Any) -> None:
    """``==> Flow/run/step/task (index 2) <==`` on stderr, before each task's output when a
    listing has several (``logs RUN/STEP`` of a foreach): as ``tail`` heads each of several
    files, so lines that look alike are told apart, and stdout stays the output alone."""
    from headwater.tracebacks import printable_lines as printable

    index = getattr(task, "index", None)
    where = f" (index {index})" if index is not None else ""
    sys.stdout.flush()  # the task before's lines first, where both streams meet (2>&1)
    click.echo(f"==> {printable(task.pathspec)}{where} <==", err=True)


def print_task_logs(task: Any, streams: list[str], *, to_stdout: bool, timestamps: bool,
                    raw: bool = False) -> None:
    """Print the chosen streams of one task; stderr goes to stderr unless ``to_stdout``. On a
    terminal, without ``raw``, through :func:`terminal_safe`.

    A task reused by ``@cache`` has the output of the task it reused, and a running task's is
    its output so far: a note on stderr says so (never on stdout, which scripts may parse).
    """
    from headwater.tracebacks import printable_lines as printable  # the record's ids, as text

    if streams and not task.finished:
        click.echo(f"[{printable(task.pathspec)}] still running: its output so far (the whole "
                   "of it is stored when it ends; a task shows output here once it has run a "
                   "second)", err=True)
    reused_from = (getattr(task, "metadata_dict", None) or {}).get("cached-from")
    if reused_from and streams:
        click.echo(f"[{printable(task.pathspec)}] reused from cache: "
                   f"{printable(str(reused_from))} (its output follows)", err=True)
    for stream in streams:
        err = stream == "stderr" and not to_stdout
        shown = terminal_safe if not raw and is_terminal(err) else str
        if timestamps:
            for when, line in task.loglines(stream):
                stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if when else "-"
                click.echo(f"{stamp} {shown(line)}", err=err)
            continue
        text = getattr(task, stream)
        if text:
            click.echo(shown(text), nl=not text.endswith("\n"), err=err)
