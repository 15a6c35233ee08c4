"""``headwater code pull|diff|diff-runs|patch RUN``: a run's code package against the files here.

Metaflow's ``metaflow code`` commands, by the same names and arguments; ``metaflow code ...``
through the shim runs this same group (:mod:`headwater.cli.metaflow_cmd`). Parsing and
printing only: the work is :mod:`headwater.client.run_code`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from headwater.cli.errors import handle_errors
from headwater.settings import Settings

CODE_HELP = """Access, compare and manage the code a run ran with (its code package).

Runs of `--executor dask` and deployed runs keep one; local runs ran the files in place.
RUN is FLOW/RUN_ID.

\b
  headwater code pull HelloFlow/12 [--dir DIR]     the run's files into DIR
  headwater code diff HelloFlow/12                 this folder (a/) against the run (b/)
  headwater code diff-runs HelloFlow/12 HelloFlow/9
  headwater code patch HelloFlow/12 [--file F]     the patch turning this folder into the run's code
"""


def _where(func: Callable[..., Any]) -> Callable[..., Any]:
    """The datastore and metadata options every subcommand takes, as `headwater runs` does."""
    func = click.option("--metadata", default=None,
                        help="A metadata database path or URL.")(func)
    return click.option("--datastore-root", default=None,
                        help="Folder (or URL) holding runs' data (default: the nearest "
                        ".headwater/).")(func)


def _use(datastore_root: str | None, metadata: str | None) -> None:
    from headwater.client import use_settings

    use_settings(Settings.resolve(datastore_root=datastore_root, metadata=metadata))


def _note(text: str) -> None:
    """A line on stderr. It names files of a package someone else may have stored, so control
    characters are shown as escapes (the diff itself quotes such names as git does)."""
    from headwater.cli.dump_output import printable

    click.echo(printable(text), err=True)


@click.group("code", help=CODE_HELP)
def code() -> None:
    """The group: each command below does one thing."""


@code.command(help="Unpack the code of run RUN into a new folder (default: flow_runid_code).")
@click.argument("run_pathspec", metavar="RUN")
@click.option("--dir", "dir_", default=None, metavar="DIR",
              help="Destination folder, which must not exist (default: RUN in lower case with "
              "'/' as '_', then '_code').")
@_where
@handle_errors
def pull(run_pathspec: str, dir_: str | None, datastore_root: str | None,
         metadata: str | None) -> None:
    from headwater.client.run_code import pull as pull_code

    _use(datastore_root, metadata)
    folder = pull_code(run_pathspec, dir_)
    _note(f"Code of {run_pathspec} downloaded to {folder}")


@code.command(help="Show how the files of this folder (a/) differ from the code of run RUN "
              "(b/), file by file, as a unified diff.")
@click.argument("run_pathspec", metavar="RUN")
@_where
@handle_errors
def diff(run_pathspec: str, datastore_root: str | None, metadata: str | None) -> None:
    from headwater.client.run_code import diff as diff_code

    _use(datastore_root, metadata)
    _show(diff_code(run_pathspec), "the current directory")


@code.command("diff-runs", help="Show how the code of run OTHER (a/) differs from the code of "
              "run RUN (b/), for the files of RUN's package.")
@click.argument("run_pathspec", metavar="RUN")
@click.argument("other_pathspec", metavar="OTHER")
@_where
@handle_errors
def diff_runs(run_pathspec: str, other_pathspec: str, datastore_root: str | None,
              metadata: str | None) -> None:
    from headwater.client.run_code import diff_runs as diff_run_code

    _use(datastore_root, metadata)
    _show(diff_run_code(run_pathspec, other_pathspec), f"run {other_pathspec}")


@code.command(help="Write a patch that turns the files of this folder into the code of run "
              "RUN (apply it with `git apply` or `patch -p1`).")
@click.argument("run_pathspec", metavar="RUN")
@click.option("--file", "--file_path", "--file-path", "file_path", default=None, metavar="FILE",
              help="Patch file (default: RUN in lower case with '/' as '_', then '.patch').")
@click.option("--overwrite", is_flag=True, help="Replace the patch file if it exists.")
@_where
@handle_errors
def patch(run_pathspec: str, file_path: str | None, overwrite: bool,
          datastore_root: str | None, metadata: str | None) -> None:
    from headwater.client.run_code import apply_command, write_patch

    _use(datastore_root, metadata)
    made = write_patch(run_pathspec, file_path, overwrite=overwrite)
    for path in made.found.missing:
        _note(f"{path} is not in the current directory: the patch leaves it out "
              f"(`headwater code pull {run_pathspec}` has it)")
    for path in made.left_out:
        _note(f"{path} differs but is binary: the patch leaves it out "
              f"(`headwater code pull {run_pathspec}` has it)")
    _warn_elsewhere(made.found, "the current directory")
    if not made.found.changed:
        _note("No differences: the patch is empty.")
    _note(f"Patch saved in {made.path}")
    _note("Apply the patch by running:")
    _note(f"  {apply_command(made.path)}")


def _warn_elsewhere(found: Any, base: str) -> None:
    """Say so when some of the run's files were found here but not its flow file: the folder
    is likely another one holding files of the same names (an ``__init__.py``, a ``utils.py``),
    and a patch made here would change them."""
    if found.flow_file and found.flow_file in found.missing and (found.changed or found.identical):
        _note(f"Warning: the run's flow file {found.flow_file} is not in {base}, so this may not "
              "be the flow's folder: the files compared here only share their names with the "
              "run's; compare (and apply a patch) from the flow's folder.")


def _show(found: Any, base: str) -> None:
    """The diff on stdout (paged and coloured on a terminal); what was skipped on stderr, as
    Metaflow's command says it."""
    for path in found.identical:
        _note(f"{path} is identical, skipping")
    for path in found.missing:
        _note(f"{path} not in {base}, skipping")
    if found.missing and not found.changed and not found.identical:
        _note(f"None of the run's files are in {base}: its paths are relative to the flow's "
              "folder, so compare from there.")
    else:
        _warn_elsewhere(found, base)
    text = found.text
    if not text:
        return
    if sys.stdout.isatty():
        shown = text.decode("utf-8", errors="replace")
        plain = bool(os.environ.get("NO_COLOR"))  # https://no-color.org
        click.echo_via_pager(shown if plain else _coloured(shown), color=not plain)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()


def _coloured(text: str) -> str:
    """git's colours: headers bold, hunk ranges cyan, removed lines red, added lines green."""
    out, in_hunk = [], False
    for line in text.split("\n"):  # a "\r" stays inside its line, as git shows it
        if line.startswith("diff --git"):
            in_hunk = False
        if line.startswith("@@"):
            in_hunk, style = True, {"fg": "cyan"}
        elif not in_hunk:
            style = {"bold": True}
        else:
            style = {"-": {"fg": "red"}, "+": {"fg": "green"}}.get(line[:1], {})
        out.append(click.style(line, **style) if style and line else line)
    return "\n".join(out)
