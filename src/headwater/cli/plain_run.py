"""``python flow.py run`` and ``python flow.py resume`` started without click.

Importing click and building the flow's command (every option of the group, ``run`` and
``resume``) is the largest start-up cost left in a short local run. When the command line is
exactly ``run`` or ``resume`` and no environment variable that an option reads is set, every
option has its default, so there is nothing to parse: this module hands the runtime the same
values click would. ``run`` followed only by the flow's parameters and ``run``'s simple options
(``--tag``, ``--max-workers``, ``--max-num-splits``, ``--run-id-file``, ``--no-cache``), each
written in a form click reads in exactly one way and with a value click would accept, is read
here too. Anything else (top-level options, ``--help``, a repeated or unknown option, a value
click could refuse or read otherwise, an option's environment variable, a profile or executor
that does not check out) goes to click (:mod:`flow_cli`), so help, errors and every other
command behave exactly as before.
"""

from __future__ import annotations

import os
import sys
from typing import Any

PLAIN_COMMANDS = ("run", "resume")

# Environment variables an option of the group, ``run`` or ``resume`` reads (besides those the
# executor backends declare, read from the registry): one set means "let click parse".
# tests/unit/test_plain_run.py checks this list against the click command.
OPTION_ENV = frozenset({
    "HEADWATER_DATASTORE", "METAFLOW_DEFAULT_DATASTORE",
    "HEADWATER_ENVIRONMENT", "METAFLOW_ENVIRONMENT",
    "HEADWATER_PROGRESS",
    "HEADWATER_BRANCH", "METAFLOW_BRANCH",
    "HEADWATER_PRODUCTION", "METAFLOW_PRODUCTION",
    "HEADWATER_EXECUTOR",
})
RUN_OPTION_ENV_PREFIXES = ("HEADWATER_RUN_", "METAFLOW_RUN_", "HEADWATER_RESUME_", "METAFLOW_RESUME_")


class PlainContext:
    """What the run commands read from a click context: the root's ``obj``."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def find_root(self) -> PlainContext:
        return self


def is_plain(args: list[str], environ: os._Environ[str] | dict[str, str]) -> bool:
    """True when ``args`` is a bare ``run``/``resume`` and no option reads its value from
    ``environ`` (nor is shell completion asked for)."""
    if len(args) != 1 or args[0] not in PLAIN_COMMANDS:
        return False
    return _no_option_env(environ)


def _no_option_env(environ: os._Environ[str] | dict[str, str]) -> bool:
    """True when no option reads a value from ``environ`` and no shell completion is asked."""
    from headwater import backends

    option_env = OPTION_ENV | {option.env for option in backends.options("executor")}
    for name in environ:
        if name in option_env or name.startswith(RUN_OPTION_ENV_PREFIXES):
            return False
        if name.startswith("_") and name.endswith("_COMPLETE"):  # click's shell completion
            return False
    return True


def root_obj(flow_cls: type) -> dict[str, Any] | None:
    """The top-level options' values with every option at its default, as the click group
    builds them; None when the profile or the executor it names needs click's error."""
    from headwater import backends
    from headwater.exceptions import HeadwaterException
    from headwater.profiles import with_profile
    from headwater.runtime.configs import ConfigSources
    from headwater.runtime.executors.base import ExecutorChoice
    from headwater.runtime.project import BranchChoice

    try:
        env = with_profile()
        name = env.get("HEADWATER_EXECUTOR", "local")
        backends.get("executor", name)
    except (HeadwaterException, backends.UnknownBackendError):
        return None
    options = {option.key: env.get(option.env) for option in backends.options("executor")}
    return {
        "flow_cls": flow_cls,
        "settings_args": (None, None),
        "mode": None,
        "quiet": False,
        "progress": "auto",
        "typed_run_options": (),
        "with": (),
        "configs": ConfigSources((), ()),
        "branch": BranchChoice(None, False),
        "executor": ExecutorChoice(name, {k: v for k, v in options.items() if v is not None}),
        "environment": None,  # not given (see flow_cli)
    }


# The ``run``/``resume`` options shared by both, at their defaults.
_RUN_DEFAULTS: dict[str, Any] = {"tags": (), "max_workers": None, "max_num_splits": 100_000,
                                 "run_id_file": None, "no_cache": False,
                                 "max_log_size": None}  # --max-log-size: left to click
# ``run``'s options read here (flag -> keyword of do_run); the others go to click.
_VALUE_OPTIONS = {"--tag": "tags", "--max-workers": "max_workers",
                  "--max-num-splits": "max_num_splits", "--run-id-file": "run_id_file"}
_FLAG_OPTIONS = {"--no-cache": "no_cache"}
_COUNTS = ("max_workers", "max_num_splits")  # whole numbers, at least 1


def run_with_options(flow_cls: type, args: list[str]) -> tuple[dict[str, str], dict[str, Any]] | None:
    """``run`` followed by the flow's parameters and ``run``'s simple options: the parameter
    values (as the strings click hands over) and ``run``'s options, as click would pass them to
    :func:`~headwater.cli.run_cmd.do_run`; None for anything click must read itself.

    Each option is ``--name VALUE`` or ``--name=VALUE``, at most once (``--tag`` may repeat);
    a value that is empty or starts with ``-``, a count that is not a plain whole number of at
    least 1, a bad tag, or a parameter whose name is also one of ``run``'s options: None.
    """
    if not args or args[0] != "run":
        return None
    from headwater.decorators.mutation import has_mutators

    if has_mutators(flow_cls):  # its options are known once the mutators ran: click's job
        return None
    from headwater import backends
    from headwater.flow.parameters import flow_parameters

    params = {param.name for param in flow_parameters(flow_cls).values()}
    taken = {*_VALUE_OPTIONS, *_FLAG_OPTIONS, "--help", "--executor", "--environment",
             *(option.flag for option in backends.options("executor"))}
    if any(f"--{name}" in taken for name in params):
        return None
    given: dict[str, str] = {}
    options = dict(_RUN_DEFAULTS, client_namespace=None)  # run's own --namespace: click's
    tags: list[str] = []
    seen: set[str] = set()
    rest = iter(args[1:])
    for token in rest:
        flag, has_value, value = token.partition("=")
        if not flag.startswith("--") or (flag in seen and flag != "--tag"):
            return None
        seen.add(flag)
        if flag in _FLAG_OPTIONS:
            if has_value:
                return None
            options[_FLAG_OPTIONS[flag]] = True
            continue
        if flag not in _VALUE_OPTIONS and flag[2:] not in params:
            return None
        if not has_value:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return None
        key = _VALUE_OPTIONS.get(flag)
        if key is None:
            given[flag[2:]] = value
        elif key == "tags":
            tags.append(value)
        elif key in _COUNTS:
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                return None
            options[key] = int(value)
        else:
            options[key] = value
    if tags:
        from headwater.meta.tags import check_tags

        try:
            check_tags(tags)
        except ValueError:
            return None
        options["tags"] = tuple(tags)
    return given, options


def main_for_flow_class(flow_cls: type) -> None:
    """Entry point used by ``FlowSpec.__init__`` when a flow file runs as a script: a bare
    ``run``/``resume`` here, everything else through click."""
    from headwater.cli.std_streams import ensure_std_streams

    ensure_std_streams()  # before anything opens a file (the metadata database above all)
    if not try_plain(flow_cls, sys.argv[1:]):
        from headwater.cli.flow_cli import main_for_flow_class as with_click

        with_click(flow_cls)


def try_plain(flow_cls: type, args: list[str]) -> bool:
    """Run a bare ``run``/``resume``, or a ``run`` with simple options, without click and exit;
    False when click must parse."""
    if is_plain(args, os.environ):
        parsed: tuple[dict[str, str], dict[str, Any]] | None = ({}, dict(_RUN_DEFAULTS))
    elif args[:1] == ["run"] and _no_option_env(os.environ):
        parsed = run_with_options(flow_cls, args)
    else:
        parsed = None
    if parsed is None:
        return False
    obj = root_obj(flow_cls)
    if obj is None:
        return False
    from headwater.cli.errors import handle_errors
    from headwater.cli.process_exit import exit_process
    from headwater.cli.run_cmd import do_resume, do_run

    ctx = PlainContext(obj)
    given, options = parsed
    if args[0] == "run":
        command = handle_errors(lambda: do_run(ctx, flow_cls, given, **options))
    else:
        command = handle_errors(lambda: do_resume(ctx, None, None, **options))
    exit_process(_as_click_would(command), flow_cls)


def _as_click_would(command: Any) -> int:
    """Run ``command`` with what click's standalone mode adds around a command: Ctrl-C or EOF
    outside the command's own handling prints ``Aborted!`` (exit 1); a closed stdout pipe
    exits quietly, with status 0 as every command does when its reader left
    (:func:`headwater.cli.std_streams.quiet_when_reader_left`)."""
    try:
        return command()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        return 1
    except OSError as err:
        import errno

        if err.errno != errno.EPIPE:
            raise
        from headwater.cli.std_streams import stop_writing

        stop_writing()
        return 0
