"""How ``dump`` shows artifacts: a readable listing, or a pickle file for scripts."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import click

from headwater.exceptions import HeadwaterException
from headwater.outfiles import replace_file
from headwater.spelling import closest


def _every(task: Any) -> list[Any]:
    """A task's artifacts, private names too (a client Task lists them only when asked)."""
    every = getattr(task, "_every_artifact", None)
    return every() if every is not None else list(task)


def _selected(task: Any, wanted: set[str], private: bool) -> list[Any]:
    return [
        artifact for artifact in sorted(_every(task), key=lambda a: a.id)
        if (not wanted or artifact.id in wanted) and (private or not artifact.id.startswith("_"))
    ]


def note_unmatched(tasks: list[Any], wanted: set[str]) -> None:
    """A line on stderr for each ``--include`` name no task has: a mistyped name otherwise
    prints the tasks' headings and nothing else, as if the artifact were empty."""
    if not wanted or not tasks:
        return
    present = {artifact.id for task in tasks for artifact in _every(task)}
    where = tasks[0].pathspec if len(tasks) == 1 else f"the {len(tasks)} tasks listed"
    for name in sorted(wanted - present):
        close = closest(name, sorted(present))
        hint = f"; did you mean '{close}'?" if close else ""
        click.echo(f"Note: --include {printable(name)}: no artifact of that name in {where}"
                   f"{hint} (dump without --include lists them all)", err=True)


def _task_key(task: Any) -> str:
    """``RUN/STEP/TASK``: the task's pathspec without the flow name, as Metaflow keys it."""
    return "/".join(task.pathspec.split("/")[1:])


def dump_to_file(tasks: list[Any], path: str, *, wanted: set[str], private: bool) -> None:
    """Pickle ``{RUN/STEP/TASK: {artifact: value}}`` to ``path`` (replaced atomically, a new
    file private to this user)."""
    output = {
        _task_key(task): {a.id: a.data for a in _selected(task, wanted, private)} for task in tasks
    }
    # a new private file renamed into place: never written through a link planted at the path;
    # pickled straight into it, so a large value is not held a second time as one big bytes
    try:
        replace_file(path, lambda handle: pickle.dump(output, handle,
                                                      protocol=pickle.HIGHEST_PROTOCOL))
    except OSError as exc:
        raise HeadwaterException(f"cannot write the artifacts to --file {path}: "
                                 f"{exc.strerror or exc}",
                                 fix="give --file a path in a folder you own") from None
    click.echo(f"Artifacts of {len(output)} task(s) written to {path}", err=True)


def _recorded_traceback(text: str) -> str:
    """A failed task's recorded traceback as printed: on a terminal, as ``logs`` shows a step's
    output (colours pass, other control characters and bidi overrides as escapes). The step may
    be anyone's in a shared datastore, and its exception's message is its text: printed raw,
    ``ESC ] 52`` set the reader's clipboard, ``ESC ] 0`` retitled the window. Into a pipe it is
    the record's, as stored."""
    from headwater.cli.log_output import is_terminal, terminal_safe

    return terminal_safe(text) if is_terminal(err=False) else text


def print_artifacts(task: Any, max_value_size: int, *, wanted: set[str], private: bool,
                    attempt: int | None = None) -> None:
    """The pathspec (with its state unless it succeeded), a failure's traceback, then artifacts.
    With ``attempt`` (``dump --attempt N``), the heading names it and the rest is that
    attempt's: its outcome, its failure, the artifacts it stored."""
    which = "" if attempt is None else f" (attempt {attempt})"
    click.echo(f"{task.pathspec}{which}:{_state(task, attempt)}")
    failure = task.exception
    if failure is not None and not task.successful:
        click.echo(_indent(_recorded_traceback(
            failure.traceback or f"{failure.type_name}: {failure.message}")))
    selected = _selected(task, wanted, private)
    # in columns: name, type, size, value (widths of this task's own artifacts)
    names = {a.id: printable(a.id) for a in selected}
    types = {a.id: printable(a.type_name) for a in selected}
    # A name longer than _WIDEST (setattr takes any) is printed whole but widens no column:
    # one 100,000-character name padded every other row to its length.
    name_width = max((len(n) for n in names.values() if len(n) <= _WIDEST), default=0)
    type_width = max((len(t) for t in types.values() if len(t) <= _WIDEST), default=0)
    size_width = max((len(str(a.size)) for a in selected), default=0)
    for artifact in selected:
        line = (f"    {names[artifact.id]:<{name_width}}  {types[artifact.id]:<{type_width}}  "
                f"{artifact.size:>{size_width}} bytes")
        if artifact.size <= max_value_size:
            shown = value_text(artifact.data, as_str=True)
            line += "  " + (shown if len(shown) <= 200 else shown[:197] + "...")
        click.echo(line)


_WIDEST = 80


def value_text(value: Any, as_str: bool = False) -> str:
    """A value as the table shows it: ``repr`` within the card previews' bounds (20 items a
    container, 3 levels), never the full ``repr``. A value of a few hundred stored bytes can
    expand when printed (``a = [a, a]`` forty times: 2**40 items), and ``dump`` never finished;
    a ``__repr__`` that raises (or an integer of more digits than Python prints) was a
    traceback that ended the listing.

    ``as_str`` (``dump``'s table): a plain value of the standard library is shown as ``str``
    shows it, as Metaflow's ``dump`` does (``1.5``, not ``Decimal('1.5')``; ``hello``, not
    ``'hello'``): the type column says which type it is. A text that would read ambiguously on
    one line of a table (empty, spaces at an end, a line break or a control character) keeps
    its quotes. ``spin`` lists ``name = value`` lines, as Python would write them: ``repr``."""
    from headwater.cards.preview import bounded_repr

    try:
        plain = _plain_text(value) if as_str else None
        if plain is not None:
            return plain
        return bounded_repr(value, 200)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not end the listing
        return f"<{type(value).__name__}: repr failed: {printable(str(exc))[:120]}>"


def _plain_text(value: Any) -> str | None:
    """``str(value)`` for the standard library's scalar types, when it is one clear line.

    Their modules are looked up, never imported: a value of one was unpickled, which imported
    it, and a reader whose Python cannot import one (a store read as another user) is not
    stopped by a type it never met."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, _plain_types()):
        text = str(value)
    else:
        return None
    if not text or text != text.strip() or len(text) > 200 or not text.isprintable():
        return None
    return printable(text)


_PLAIN = {"decimal": ("Decimal",), "fractions": ("Fraction",), "uuid": ("UUID",),
          "datetime": ("date", "time", "timedelta"), "pathlib": ("PurePath",),
          "enum": ("Enum",)}  # datetime.datetime is a date


def _plain_types() -> tuple[type, ...]:
    found: list[object] = []
    for module_name, names in _PLAIN.items():
        module = sys.modules.get(module_name)
        found.extend(getattr(module, name) for name in names if hasattr(module, name))
    return tuple(kind for kind in found if isinstance(kind, type))


def printable(text: str) -> str:
    """``text`` with each control character written as its escape (``\\x1b``, ``\\n``), as
    ``repr`` would: an artifact is named by ``setattr`` with any string (a column name read from a
    file, say), and its name and its class's name are labels in a table, not the step's output,
    so they never move the cursor, retitle the terminal or break the table's lines."""
    from headwater.tracebacks import printable_name  # bidi overrides and zero-width ones too

    return printable_name(text)


def _state(task: Any, attempt: int | None = None) -> str:
    """`` (failed)`` or `` (running)`` after the pathspec; nothing for a successful task."""
    if task.successful:
        return ""
    if attempt is None and task.finished and task._caught():
        return " (failed; @catch caught it and the flow went on)"
    return " (failed)" if task.finished else " (running, or stopped without a result)"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines())
