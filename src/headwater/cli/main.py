"""``headwater COMMAND path/to/flow.py [options]``: run any flow file's command line.

The flow file is imported under its own module name (not ``__main__``), so its
``if __name__ == '__main__'`` block does not fire, and then the same command line as
``python flow.py COMMAND`` runs with the remaining arguments.
"""

from __future__ import annotations

import os
import sys

import click

from headwater.cli.errors import report
from headwater.exceptions import HeadwaterException
from headwater.version import __version__

USAGE = """usage: headwater COMMAND FLOW_FILE [OPTIONS]

Run a command of the flow defined in FLOW_FILE, as `python FLOW_FILE COMMAND` would.
Commands: run, resume, spin, check, show, output-dot, output-mermaid, output-raw, logs, dump,
tag, runs, card, environment, package, argo-workflows, airflow.
Top-level options (--quiet, --datastore-root, ...) may come before COMMAND.
`headwater COMMAND --help` describes one command.

  headwater run examples/linear_flow.py
  headwater --quiet run flow.py --alpha 0.6
  headwater runs [FLOW]     the latest runs (of every flow, or of FLOW), as a table or --json;
                            --status failed, --tag T, --user U keep the runs that match
  headwater delete FLOW/RUN_ID ...   delete runs (or --keep-last N / --keep-since DATE /
                            --keep-tagged: every run outside that retention); --dry-run
  headwater gc [--grace 1h] free the stored data no remaining run refers to; --dry-run
  headwater cache list|clear FLOW [--step S]   the results @cache steps can reuse; clear
                            drops them, so later runs run those tasks again
  headwater code pull|diff|diff-runs|patch FLOW/RUN_ID   a run's code package against the
                            files here (runs of --executor dask and deployed runs keep one)
  headwater ui              the web UI on http://127.0.0.1:8080 (pip install 'headwater[ui]';
                            --port, --host, --token-file, --new-token, --datastore-root, ...)
  headwater version
  headwater shim FOLDER     write a `metaflow` package that forwards to headwater
                            (--force replaces a metaflow folder it did not write)
  headwater configure show  the settings in effect and where each came from
"""

SHIM_HELP = """usage: headwater shim [--force] FOLDER

Write a package named `metaflow` into FOLDER that forwards every import to headwater, so flows
written for Metaflow run unchanged with plain python. --force replaces a shim already there.

  headwater shim ~/hw-shim && PYTHONPATH=~/hw-shim python flow.py run
"""

CONFIGURE_HELP = """usage: headwater configure show

Print each setting in effect (datastore root, metadata, profile, ...) and where it came from:
the environment, the config file's profile, or the default.
"""


def flow_commands() -> tuple[str, ...]:
    """The commands of a flow's command line (``python flow.py COMMAND``), each also
    ``headwater COMMAND flow.py``."""
    from headwater.cli.flow_cli import LAZY_COMMANDS

    # `help` and `version` of a flow (Metaflow's `python flow.py help|version`) are headwater's
    # own top-level `headwater help` and `headwater version`: no flow file to give them.
    return ("run", "resume", *(c for c in LAZY_COMMANDS if c not in ("help", "version")))


def _show_configuration() -> None:
    """Each setting in effect and where it came from (environment, profile, default)."""
    from headwater.profiles import PROFILE_ENV, config_path, explain
    from headwater.redaction import redact
    from headwater.settings import Settings

    try:
        rows = explain()
        settings = Settings.resolve()
    except HeadwaterException as err:
        report(err)
        raise SystemExit(1) from None
    click.echo(f"config file: {config_path()}")
    click.echo(f"profile:     {os.environ.get(PROFILE_ENV) or '(none)'}")
    width = max((len(key) for key, _, _ in rows), default=0)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {redact(value) or '-':<40} {source}")
    click.echo(f"resolved datastore root: {redact(settings.datastore_root)}")
    click.echo(f"resolved metadata:       {redact(settings.metadata_url)}")


def _write_shim(args: list[str]) -> None:
    if any(a in ("-h", "--help") for a in args):
        click.echo(SHIM_HELP)
        return
    force = "--force" in args
    args = [a for a in args if a != "--force"]
    if len(args) != 1 or args[0].startswith("-") or not args[0].strip():
        click.echo(SHIM_HELP, err=True)
        raise SystemExit(2)
    from headwater.compat.shim import write_shim

    try:
        package = write_shim(args[0], force=force)
    except HeadwaterException as err:
        report(err)
        raise SystemExit(1) from None
    click.echo(f"Wrote {package}. Put its folder first on PYTHONPATH to run flows written for "
               f"Metaflow with plain python:\n  PYTHONPATH={package.parent} python flow.py run")


def _configure(args: list[str]) -> None:
    if args == ["show"]:
        _show_configuration()
        return
    help_asked = any(a in ("-h", "--help") for a in args)
    click.echo(CONFIGURE_HELP, err=not help_asked)
    if not help_asked:
        raise SystemExit(2)


def _command_help(args: list[str]) -> bool:
    """``headwater run --help`` without a flow file: the command's own help, for any flow."""
    if not any(a in ("-h", "--help") for a in args):
        return False
    commands = flow_commands()
    command = next((a for a in args if a in commands), None)
    if command is None:
        return False
    from headwater.cli.flow_cli import build_cli

    class FLOW_FILE:  # noqa: N801 - shown in the help as the placeholder it is
        """Commands of the flow in FLOW_FILE; its parameters show with `headwater run FLOW_FILE --help`."""

    build_cli(FLOW_FILE).main(args=args, prog_name="headwater FLOW_FILE", standalone_mode=True)
    return True


def _no_flow_file(args: list[str]) -> None:
    """``headwater run flow`` (no ``.py``), ``headwater frobnicate``: say which, exit 2."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command in flow_commands():
        rest = [a for a in args if a != command and not a.startswith("-")]
        given = f"; got {' '.join(rest)!r}" if rest else ""
        # `headwater run sweep` beside sweep.py: name the file, as typed with its .py
        file = next((f"{word}.py" for word in rest if os.path.isfile(f"{word}.py")), None)
        given += f"; did you mean `headwater {command} {file}`?" if file else ""
        if not file:  # `headwater logs SweepFlow/3/train`: the file that defines SweepFlow
            given += _file_of_pathspec(command, rest)
        click.echo(f"headwater {command}: which flow? Give the flow file, a path ending in .py: "
                   f"headwater {command} path/to/flow.py{given}", err=True)
    else:
        click.echo(USAGE, err=True)
        if command is not None:
            click.echo(f"headwater: no command {command!r} (see the list above){_guess(command)}",
                       err=True)
    raise SystemExit(2)


def _file_of_pathspec(command: str, words: list[str]) -> str:
    """``; did you mean `headwater logs sweep.py SweepFlow/3/train`?`` when a word is a pathspec
    whose flow a ``.py`` file of the working folder defines (at most 200 files, 1 MB each)."""
    import re
    import shlex

    for word in words:
        flow = word.split("/", 1)[0]
        if "/" not in word or not flow.isidentifier():
            continue
        defines = re.compile(rf"^\s*class\s+{re.escape(flow)}\s*\(", re.MULTILINE)
        for name in sorted(os.listdir("."))[:200]:
            if not name.endswith(".py") or not os.path.isfile(name):
                continue
            try:
                with open(name, encoding="utf-8", errors="replace") as handle:
                    text = handle.read(1_000_000)
            except OSError:
                continue
            if defines.search(text):
                return (f"; did you mean `headwater {command} {shlex.quote(name)} "
                        f"{shlex.quote(word)}`?")
    return ""


def _guess(command: str) -> str:
    """``headwater dev``: what another orchestrator's word is called here, as a sentence."""
    from headwater.cli.guesses import command_hint

    def typed(name: str, before: str) -> str:
        return " ".join(w for w in ("headwater", before, name, "FLOW_FILE") if w)

    hint = command_hint(command, typed)
    return f". {hint[:1].upper()}{hint[1:]}." if hint else ""


def _load_or_exit(path: str, args: list[str]) -> type:
    """The flow class of ``path``; a mistake in the file is shown as ``python flow.py`` would,
    with the user's lines only, and exits 1. ``args``: the command line without the file."""
    from headwater.flow_file import load_flow_class
    from headwater.import_hint import (
        package_above_hint,
        relative_import_hint,
        step_package_hint,
    )
    from headwater.redaction import redact
    from headwater.tracebacks import user_error_text

    try:
        return load_flow_class(path)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the user's file raised
        sys.stderr.write(redact(user_error_text(exc)))
        sys.stderr.write(package_above_hint(exc, path, args) or step_package_hint(exc, path)
                         or relative_import_hint(exc, path, args) or "")
        raise SystemExit(1) from None


def main(argv: list[str] | None = None) -> None:
    from headwater.cli.std_streams import ensure_std_streams, quiet_when_reader_left, stop_writing

    ensure_std_streams()  # before anything opens a file (the metadata database above all)
    try:
        _dispatch(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # `headwater configure show | head -1`: the reader left. Exit quietly with status 0,
        # as `run | head -1` does, instead of a traceback (and another as Python flushes).
        stop_writing()
        raise SystemExit(0) from None
    except SystemExit as stop:  # click's commands end this way; 1 when the reader left
        raise SystemExit(quiet_when_reader_left(stop.code)) from None


def _dispatch(args: list[str]) -> None:
    if not args or args[0] in ("-h", "--help", "help"):
        click.echo(USAGE)
        return
    if args[0] in ("version", "--version"):
        click.echo(f"headwater {__version__}")
        return
    if args[0] == "configure":
        _configure(args[1:])
        return
    if args[0] == "shim":
        _write_shim(args[1:])
        return
    if args[0] in ("delete", "gc"):
        from headwater.cli import gc_cmd

        command = gc_cmd.delete if args[0] == "delete" else gc_cmd.gc
        command.main(args=args[1:], prog_name=f"headwater {args[0]}", standalone_mode=True)
        return
    if args[0] == "cache":
        from headwater.cli.cache_cmd import cache

        cache.main(args=args[1:], prog_name="headwater cache", standalone_mode=True)
        return
    if args[0] == "code":
        from headwater.cli.code_cmd import code

        code.main(args=args[1:], prog_name="headwater code", standalone_mode=True)
        return
    if args[0] == "ui":
        from headwater.cli.ui_cmd import ui

        ui.main(args=args[1:], prog_name="headwater ui", standalone_mode=True)
        return
    files = [i for i, a in enumerate(args) if a.endswith(".py")]
    if not files and args[0] == "runs":
        from headwater.cli.runs_cmd import runs_everywhere

        runs_everywhere.main(args=args[1:], prog_name="headwater runs", standalone_mode=True)
        return
    if not files:
        if _command_help(args):
            return
        _no_flow_file(args)
    path = args.pop(files[0])
    flow_cls = _load_or_exit(path, args)
    from headwater.cli.flow_cli import build_cli

    build_cli(flow_cls).main(args=args, prog_name=f"headwater {path}", standalone_mode=True)
