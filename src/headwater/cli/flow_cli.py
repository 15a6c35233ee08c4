"""``python myflow.py COMMAND``: the command line of one flow. Parses, then delegates.

Top-level options come before the command, as with Metaflow (``python f.py --quiet run``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from headwater.cli.errors import handle_errors
from headwater.exceptions import HeadwaterException
from headwater.flow.parameters import flow_parameters
from headwater.runtime.console import PROGRESS_CHOICES

if TYPE_CHECKING:
    from headwater.runtime.executors.base import ExecutorChoice


def build_cli(flow_cls: type) -> click.Group:
    """The click group for ``flow_cls``; ``run`` gets one ``--name`` option per Parameter."""

    @click.group(cls=FlowCommands, invoke_without_command=True,
                 help=(flow_cls.__doc__ or "").strip() or f"Commands of the flow {flow_cls.__name__}.")
    @click.option("--datastore-root", default=None, help="Folder (or URL) holding runs' data.")
    @click.option("--metadata", "metadata", default=None,
                  help="'local' (SQLite in the datastore root) or a database path.")
    @click.option("--datastore", default="local", type=BackendChoice("datastore"),
                  envvar=["HEADWATER_DATASTORE", "METAFLOW_DEFAULT_DATASTORE"],
                  help="Kind of datastore; s3 needs an s3:// root (--datastore-root, "
                  "HEADWATER_DATASTORE_ROOT or METAFLOW_DATASTORE_SYSROOT_S3).")
    @click.option("--environment", default="local",
                  type=click.Choice(["local", "pypi", "conda"], case_sensitive=False),
                  envvar=["HEADWATER_ENVIRONMENT", "METAFLOW_ENVIRONMENT"],
                  help="pypi or conda: build the @pypi/@conda environments of the steps "
                  "(without it those decorators are ignored, with a note).")
    @click.option("--quiet", is_flag=True,
                  help="Print only errors, the progress summary and the closing line.")
    @click.option("--progress", default="auto", type=click.Choice(PROGRESS_CHOICES),
                  envvar="HEADWATER_PROGRESS", show_default=True,
                  help="How tasks are shown: live (redrawn counts per step, on a terminal), "
                  "lines (Metaflow's prefixed task lines), summary (a line every "
                  "HEADWATER_PROGRESS_INTERVAL seconds), or auto: live on a terminal, else lines "
                  "(summary with --quiet).")
    @click.option("--with", "with_decorators", multiple=True,
                  help="Add a step decorator to every step, e.g. --with retry.")
    @click.option("--pylint/--no-pylint", default=False, help="Accepted for Metaflow compatibility.")
    @click.option("--event-logger", default=None, hidden=True,
                  help="Accepted for Metaflow compatibility (no event logger sidecar).")
    @click.option("--monitor", default=None, hidden=True,
                  help="Accepted for Metaflow compatibility (no monitor sidecar).")
    @click.option("--config", "config_files", nargs=2, multiple=True, metavar="NAME FILE",
                  help="Read the config NAME from FILE (repeatable).")
    @click.option("--config-value", "config_values", nargs=2, multiple=True, metavar="NAME TEXT",
                  help="Give the config NAME inline, e.g. '{\"lr\": 0.1}' (repeatable).")
    @click.option("--branch", default=None, envvar=["HEADWATER_BRANCH", "METAFLOW_BRANCH"],
                  help="@project flows: run on the branch test.BRANCH.")
    @click.option("--production", is_flag=True,
                  envvar=["HEADWATER_PRODUCTION", "METAFLOW_PRODUCTION"],
                  help="@project flows: run on the prod branch.")
    @backend_options("executor", top_level=True)
    @click.option("--profile", default=None, metavar="NAME",
                  help="Use the named profile of the config file (as HEADWATER_PROFILE does).")
    @click.option("--mode", default=None, type=click.Choice(["spin"]),
                  help="spin: `card`, `dump` and `logs` read the tasks spin recorded, not runs.")
    @click.pass_context
    def cli(ctx: click.Context, datastore_root: str | None, metadata: str | None, datastore: str,
            environment: str, quiet: bool, progress: str, with_decorators: tuple[str, ...],
            pylint: bool, event_logger: str | None, monitor: str | None,
            config_files: tuple[tuple[str, str], ...], config_values: tuple[tuple[str, str], ...],
            branch: str | None, production: bool, profile: str | None, mode: str | None,
            **backend_values: Any) -> None:
        from headwater.runtime.configs import ConfigSources
        from headwater.runtime.project import BranchChoice

        _give_flow_options(ctx, flow_cls, backend_values)
        # Options that only shape a run this process schedules: a deployment refuses them when
        # they were typed (see cli/deploy_cmds.py), rather than dropping them.
        typed = tuple(key for key in ("progress", *backend_values)
                      if ctx.get_parameter_source(key) == click.core.ParameterSource.COMMANDLINE)
        if datastore != "local":
            datastore_root = _datastore_root(datastore, datastore_root)
        ctx.obj = {
            "flow_cls": flow_cls,
            "settings_args": (datastore_root, metadata),
            "mode": mode,
            "quiet": quiet,
            "progress": progress,
            "typed_run_options": typed,
            "with": with_decorators,
            "configs": ConfigSources(tuple(config_files), tuple(config_values)),
            "branch": BranchChoice(branch, production),
            "executor": _executor_choice(ctx, profile, backend_values),
            # None when not given: a run then builds no environment, and a resume follows the
            # run it resumes (its recorded locks).
            "environment": None if ctx.get_parameter_source("environment")
            == click.core.ParameterSource.DEFAULT else environment.lower(),
        }
        if ctx.invoked_subcommand is None:
            _command_taken_as_a_value(ctx, flow_cls, config_files, config_values)
            _check_and_point_on(ctx)

    cli.add_command(_run_command(flow_cls))
    cli.add_command(_resume_command())
    if getattr(flow_cls, "_hw_flow_plugins", None):
        cli.params.extend(_flow_option_params(flow_cls))
    return cli


_FLOW_OPTION = "flow_option__"


def _flow_option_params(flow_cls: type) -> list[click.Option]:
    """Top-level options declared by the flow's Metaflow-style flow decorators (``options``)."""
    from headwater.decorators.lifecycle import flow_option_specs

    return [click.Option([f"--{name}", _FLOW_OPTION + name.replace("-", "_")], **spec)
            for name, spec in flow_option_specs(flow_cls).items()]


def _give_flow_options(ctx: click.Context, flow_cls: type, values: dict[str, Any]) -> None:
    """Hand the flow decorators' options given on the command line to the launch (the others
    are read from ``METAFLOW_<NAME>`` or their defaults there)."""
    mine = [key for key in values if key.startswith(_FLOW_OPTION)]
    if not mine:
        return
    from headwater.decorators.lifecycle import flow_option_specs, give_options

    names = {name.replace("-", "_"): name for name in flow_option_specs(flow_cls)}
    given = {names[key[len(_FLOW_OPTION):]]: values[key] for key in mine
             if ctx.get_parameter_source(key) != click.core.ParameterSource.DEFAULT}
    for key in mine:
        del values[key]
    give_options(flow_cls, given)


# The other commands of a flow, by name -> (module, attribute: a command or a list of them).
# Their modules are imported only when one of them is asked for (or for the help), so that
# ``python flow.py run`` does not pay for the cards', deployers' or client's command modules.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "show": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "output-dot": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "output-mermaid": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "output-raw": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "logs": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "dump": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "help": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "version": ("headwater.cli.inspect_cmds", "COMMANDS"),
    "tag": ("headwater.cli.tag_cmd", "tag"),
    "runs": ("headwater.cli.runs_cmd", "runs"),
    "spin": ("headwater.cli.spin_cmd", "spin"),
    "package": ("headwater.cli.package_cmd", "package"),
    "card": ("headwater.cli.card_cmd", "card"),
    "environment": ("headwater.cli.environment_cmd", "environment"),
    "argo-workflows": ("headwater.cli.deploy_cmds", "COMMANDS"),
    "airflow": ("headwater.cli.deploy_cmds", "COMMANDS"),
}


def _command_taken_as_a_value(ctx: click.Context, flow_cls: type,
                              files: tuple[tuple[str, str], ...],
                              values: tuple[tuple[str, str], ...]) -> None:
    """``python flow.py --config config.json run``: ``--config`` takes two values (the config's
    name, then its file), so it took ``run`` as the file, and no command is left to run. Say
    so rather than checking the flow and exiting 0 having run nothing."""
    group = ctx.command
    assert isinstance(group, click.Group)
    for option, pairs in (("--config", files), ("--config-value", values)):
        for name, value in pairs:
            if value not in group.list_commands(ctx):
                continue
            from shlex import quote

            from headwater.flow.config import flow_configs

            names = sorted(cfg.name for cfg in flow_configs(flow_cls).values())
            example = names[0] if len(names) == 1 else "NAME"
            what = "its file" if option == "--config" else "its value"
            raise click.UsageError(
                f"{option} takes two values, the config's name and {what}, so it read "
                f"{value!r} as {what} and no command was left to run. Give the name first: "
                f"{_typed(ctx, value, f'{option} {example} {quote(name)}')}"
                + (f" (the flow's configs: {', '.join(names)})" if names else
                   f" (flow {flow_cls.__name__} declares no Config)"), ctx)


def _check_and_point_on(ctx: click.Context) -> None:
    """``python flow.py`` with no command: check the flow, as Metaflow does, then say what to
    type next (rather than a screenful of options and exit 2)."""
    group = ctx.command
    assert isinstance(group, click.Group)
    check = group.get_command(ctx, "check")
    assert check is not None
    ctx.invoke(check)
    through_headwater = (ctx.info_name or "").startswith("headwater")
    every = "headwater --help" if through_headwater else _typed(ctx, "--help")
    click.echo(f"\nNext: `{_typed(ctx, 'run')}` to run it, `{_typed(ctx, 'show')}` to see its "
               f"steps, `{every}` for every command.")


def _typed(ctx: click.Context, command: str, before: str = "") -> str:
    """``command`` of this flow as its user types it: ``python f.py [BEFORE] COMMAND``, or
    ``headwater [BEFORE] COMMAND f.py`` when the flow came through ``headwater``."""
    prog = ctx.find_root().info_name or "flow.py"
    before = f"{before} " if before else ""
    if prog.startswith("headwater"):
        return f"headwater {before}{command} {prog.rsplit(' ', 1)[-1]}"
    return f"python {prog} {before}{command}"


class FlowCommands(click.Group):
    """The flow's command group: ``run`` and ``resume`` built with it, the rest loaded by name."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self._load(*LAZY_COMMANDS[cmd_name])
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as err:
            # `python flow.py deploy`: another orchestrator's word; name the command it is here.
            from headwater.cli.guesses import command_hint

            hint = command_hint(args[0], lambda c, b: _typed(ctx, c, b)) if args else None
            if hint is not None:
                err.message = f"{err.message} {_capital(hint)}."
            raise

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as err:  # `python flow.py --retries 3 run`
            raise _before_command(self, ctx, err, args) or _guessed_option(ctx, err) \
                or err from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as err:
            raise (_misplaced(self, ctx, err) or _parameter_to_resume(ctx, err)
                   or _config_as_option(ctx, err) or _create_output(ctx, err)
                   or _guessed_option(ctx, err) or err) from None
        except click.UsageError as err:
            raise _swallowed_option(err) or _bare_parameter(err) \
                or _missing_task_path(ctx, err) or _missing_dag_file(ctx, err) or err from None

    def _load(self, module_name: str, attribute: str) -> None:
        import importlib

        found = getattr(importlib.import_module(module_name), attribute)
        for command in found if isinstance(found, (list, tuple)) else [found]:
            self.commands.setdefault(command.name, command)


def _misplaced(group: click.Group, ctx: click.Context,
               err: click.NoSuchOption) -> click.UsageError | None:
    """``python f.py run --quiet``: an option of the flow's command line given after the
    command. Say where it goes instead of only "No such option" (Metaflow's order, kept)."""
    command_ctx = err.ctx
    names: list[str] = []  # the command's words under the flow's: ["tag", "add"]
    walk = command_ctx
    while walk is not None and walk is not ctx:
        names.insert(0, walk.info_name or "COMMAND")
        walk = walk.parent
    if command_ctx is None or walk is not ctx or not names:
        return None
    option = next((p for p in group.params if isinstance(p, click.Option)
                   and err.option_name in p.opts), None)
    if option is None:
        return None
    flag = err.option_name + ("" if option.is_flag else " ...")
    command = " ".join(names)
    return click.UsageError(
        f"No such option '{err.option_name}' for '{command}': it is an option of the flow's "
        f"command line, so it goes before the command: {_typed(ctx, command, flag)}", command_ctx)


def _before_command(group: click.Group, ctx: click.Context, err: click.NoSuchOption,
                    args: list[str]) -> click.UsageError | None:
    """``python f.py --tag x run`` or ``python f.py --alpha 2 run``: an option of ``run`` (or
    ``resume``), or a parameter of the flow, given before the command. The reverse of
    :func:`_misplaced`: say it goes after the command."""
    option = err.option_name.split("=", 1)[0]
    typed = next((arg for arg in args if arg in ("run", "resume")), "run")
    command = group.commands.get(typed)
    if command is None:
        return None
    if not any(isinstance(p, click.Option) and option in (*p.opts, *p.secondary_opts)
               for p in command.params):
        return None
    flow_cls = getattr(group.commands.get("run"), "flow_cls", None)
    what = ("a parameter of " + flow_cls.__name__
            if flow_cls is not None and option in {f"--{p.name}" for p in
                                                   flow_parameters(flow_cls).values()}
            else f"an option of '{typed}'")
    flag = option if getattr(_option_of(command, option), "is_flag", False) else f"{option} ..."
    return click.UsageError(
        f"No such option '{option}' before the command: it is {what}, so it goes after "
        f"'{typed}': {_typed(ctx, typed)} {flag}", ctx)


def _option_of(command: click.Command, name: str) -> click.Parameter | None:
    return next((p for p in command.params if isinstance(p, click.Option)
                 and name in (*p.opts, *p.secondary_opts)), None)


def _parameter_to_resume(ctx: click.Context,
                         err: click.NoSuchOption) -> click.UsageError | None:
    """``resume --lrs '[0.1]'``: a parameter given to resume, which keeps the parameters of the
    run it resumes (as Metaflow's does). Say so, and that another value is a new run."""
    if err.ctx is None or err.ctx.info_name != "resume":
        return None
    from headwater.flow.parameters import flow_parameters

    flow_cls = ctx.find_root().obj.get("flow_cls") if ctx.find_root().obj else None
    names = {f"--{param.name}" for param in flow_parameters(flow_cls).values()} \
        if flow_cls is not None else set()
    option = err.option_name.split("=", 1)[0]
    if option not in names:
        return None
    return click.UsageError(
        f"No such option '{option}' for 'resume': {option} is a parameter of "
        f"{flow_cls.__name__}, and resume keeps the parameters of the run it resumes, so a "
        f"resumed run reuses what was computed with them. Another value is a new run: "
        f"`{_typed(ctx, 'run')} {option} ...`", err.ctx)


def _config_as_option(ctx: click.Context, err: click.NoSuchOption) -> click.UsageError | None:
    """``run --cfg prod.json``: a Config named as if it were a parameter. Configs are given to
    the flow's command line, before the command, with ``--config NAME FILE``; click's own
    answer ("Did you mean '--tag'?") led away from that."""
    from headwater.flow.config import flow_configs

    obj = ctx.find_root().obj or {}
    flow_cls = obj.get("flow_cls")
    option = err.option_name.split("=", 1)[0]
    if flow_cls is None or err.ctx is None or err.ctx.info_name not in ("run", "resume", "create"):
        return None
    name = next((cfg.name for cfg in flow_configs(flow_cls).values()
                 if option[2:] in (cfg.name, cfg.name.replace("_", "-"))), None)
    if name is None:
        return None
    command = err.ctx.info_name
    if command == "create":  # argo-workflows create, airflow create
        command = " ".join(n for n in (err.ctx.parent.info_name if err.ctx.parent else "",
                                       command) if n)
    kept = ("resume keeps the configs of the run it resumes; another one is a new run: "
            if command == "resume" else "")
    target = "run" if command == "resume" else command
    return click.UsageError(
        f"No such option '{option}' for '{command}': {name} is a Config of "
        f"{flow_cls.__name__}, given to the flow's command line before the command; {kept}"
        f"`{_typed(ctx, target, f'--config {name} FILE')}`, or inline with "
        f"`--config-value {name} JSON`", err.ctx)


_OUTPUT_OPTIONS = ("--output", "-o", "--out", "--file", "--yaml", "--output-file", "--dag-file")


def _create_output(ctx: click.Context, err: click.NoSuchOption) -> click.UsageError | None:
    """``argo-workflows create --output wf.yaml``: where the manifest or the DAG file goes."""
    option = err.option_name.split("=", 1)[0]
    command = err.ctx
    if command is None or command.info_name != "create" or option not in _OUTPUT_OPTIONS:
        return None
    orchestrator = command.parent.info_name if command.parent is not None else ""
    if orchestrator == "airflow":
        how = (f"the DAG file is the argument of create: "
               f"`{_typed(ctx, 'airflow create')} dags/flow.py`")
    else:
        how = (f"--only-json prints the manifest instead of submitting it: "
               f"`{_typed(ctx, 'argo-workflows create')} --only-json > workflow.json` (JSON, "
               "which kubectl and argo read as they read YAML)")
    return click.UsageError(f"No such option '{option}' for '{orchestrator} create': {how}",
                            command)


def _guessed_option(ctx: click.Context, err: click.NoSuchOption) -> click.NoSuchOption | None:
    """``run --retries 3``: an option another orchestrator has. Add what does that here to
    click's "No such option" (of the flow's command line, ``run``, ``resume`` or ``create``)."""
    from headwater.cli.guesses import option_hint

    command = err.ctx.info_name if err.ctx is not None else None
    if err.ctx is not ctx and command not in ("run", "resume", "create"):
        return None
    hint = option_hint(err.option_name, lambda c, b: _typed(ctx, c, b))
    if hint is None:
        return None
    err.possibilities = None  # click's "Did you mean --help?" is no help beside the hint
    err.message = f"{err.format_message()} {_capital(hint)}."
    return err


def _missing_task_path(ctx: click.Context, err: click.UsageError) -> click.UsageError | None:
    """``python flow.py logs`` with no task: say which runs and steps there are to name."""
    param = getattr(err, "param", None)
    if not isinstance(err, click.MissingParameter) or param is None \
            or not (param.metavar or "").startswith("RUN_ID/"):
        return None
    from headwater.cli.context import latest_run_example

    command = err.ctx.info_name if err.ctx is not None else "logs"
    example = latest_run_example(ctx)
    if example is None:
        return click.UsageError(f"{err.format_message()} This flow has no run yet: "
                                f"`{_typed(ctx, 'run')}` makes one.", err.ctx)
    run_id, steps = example
    return click.UsageError(
        f"{err.format_message()} Name a run and a step, e.g. `{_typed(ctx, command)} "
        f"{run_id}/{steps[0]}` (the latest run is {run_id}; its steps: {', '.join(steps)}; "
        f"`{_typed(ctx, 'runs')}` lists the others).", err.ctx)


def _missing_dag_file(ctx: click.Context, err: click.UsageError) -> click.UsageError | None:
    """``python flow.py airflow create`` with no path: name the file to give."""
    command = err.ctx
    if not isinstance(err, click.MissingParameter) or command is None \
            or command.info_name != "create" or command.parent is None \
            or command.parent.info_name != "airflow":
        return None
    stem = (ctx.find_root().info_name or "flow.py").rsplit(" ", 1)[-1].rsplit("/", 1)[-1]
    example = f"dags/{stem if stem.endswith('.py') else 'flow.py'}"
    return click.UsageError(
        f"{err.format_message()} It is the DAG file to write, in Airflow's dags folder: "
        f"`{_typed(ctx, 'airflow create')} {example}`.", command)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _swallowed_option(err: click.UsageError) -> click.UsageError | None:
    """``run --debug --alpha 0.5``: an option that takes a value (every flow parameter does, a
    boolean one too, as in Metaflow) took the next option as its value, and click reports only
    the word left over. Say which option swallowed which."""
    import sys

    command_ctx = err.ctx
    if command_ctx is None or "unexpected extra argument" not in err.message:
        return None
    options = [p for p in command_ctx.command.params if isinstance(p, click.Option)]
    takes_value = {opt: p for p in options if not p.is_flag and not p.count for opt in p.opts}
    known = {opt for p in options for opt in (*p.opts, *p.secondary_opts)}
    args = sys.argv[1:]
    for name, value in zip(args, args[1:], strict=False):
        if name in takes_value and value in known:
            example = "true" if (takes_value[name].metavar or "").upper() == "BOOL" else "VALUE"
            return click.UsageError(
                f"{err.message}: {name} took '{value}' as its value. Every parameter takes a "
                f"value, a boolean one too: give {name} its own ({name} {example})", command_ctx)
    return None


def _bare_parameter(err: click.UsageError) -> click.UsageError | None:
    """``run epochs=3`` or ``run epochs 3`` (a parameter written as a keyword argument, as in
    Airflow's ``-c`` conf or a notebook call): click says only "unexpected extra argument";
    name the option it is."""
    import shlex
    import sys

    command_ctx = err.ctx
    if command_ctx is None or "unexpected extra argument" not in err.message:
        return None
    options = {opt for p in command_ctx.command.params if isinstance(p, click.Option)
               for opt in p.opts if opt.startswith("--")}
    args = sys.argv[1:]
    for at, word in enumerate(args):
        name, equals, value = word.partition("=")
        if word.startswith("-") or not name:
            continue
        for option in (f"--{name}", f"--{name.replace('_', '-')}",
                       f"--{name.replace('-', '_')}"):
            if option in options:
                if not equals:
                    value = args[at + 1] if at + 1 < len(args) else ""
                given = shlex.quote(value) if value else "VALUE"
                return click.UsageError(
                    f"{err.message}: options, the flow's parameters included, take two dashes: "
                    f"{option} {given}", command_ctx)
    return None


def _run_command(flow_cls: type) -> click.Command:
    def run(**kwargs: Any) -> None:
        from headwater.cli.run_cmd import do_run

        ctx = click.get_current_context()
        for key, default in claimed.items():  # options a flow parameter took: their defaults
            kwargs.setdefault(key, default)
        _executor_override(ctx, kwargs)
        values = {key: kwargs.pop(key) for key in list(kwargs) if key.startswith("param__")}
        given = {p.name: values.get(f"param__{attr}")
                 for attr, p in flow_parameters(flow_cls).items()}  # mutators may have added some
        given = {k: v for k, v in given.items() if v is not None and v != ()}
        code = do_run(ctx, flow_cls, given, **kwargs)
        ctx.exit(code)

    # A Parameter named like one of headwater's own run options (--environment, --executor,
    # --no-cache; Metaflow's run has none of them, so its flows may use the names) takes the
    # flag: the option is left out rather than declared twice.
    flags = {f"--{param.name}" for param in flow_parameters(flow_cls).values()}
    run_options = [*common_run_options(), _namespace_option()]
    options = [o for o in run_options if not flags.intersection(o.opts)]
    claimed = {o.name: o.default for o in run_options if flags.intersection(o.opts)}
    options.extend(_parameter_option(attr, param)
                   for attr, param in flow_parameters(flow_cls).items())
    command = RunCommand("run", callback=handle_errors(run), params=options,
                         help="Run the flow from its start step.")
    command.flow_name = flow_cls.__name__
    command.flow_cls = flow_cls
    return command


def _namespace_option() -> click.Option:
    """``run --namespace NS``: the client namespace inside the run's tasks (Metaflow's option:
    a flow that reads other flows' results picks whose on the command line, not in its code)."""
    return click.Option(
        ["--namespace", "client_namespace"], default=None, metavar="NS",
        help="The namespace the client sees inside this run's tasks (default: user:<you>); "
        "--namespace= is the global namespace. The run's own tags do not change.")


def _parameter_option(attr: str, param: Any) -> click.Option:
    """``--name VALUE`` for one Parameter of the flow."""
    label = "file" if param.is_include_file else param.type_label
    from headwater.flow.config import ConfigExpr

    lazy = isinstance(param.default, ConfigExpr) or (callable(param.default)
                                                     and not isinstance(param.default, type))
    shown = param.default is not None and not lazy and param.show_default
    default = f" [default: {param.default}]" if shown else ""
    required = " [required]" if param.required else ""
    option_class = _FunctionDefaultOption if lazy and param.show_default else click.Option
    option = option_class(
        [f"--{param.name}", f"param__{attr}"], type=str, default=None, metavar=label.upper(),
        help=f"{param.help or ''}{default}{required}".strip(),
        multiple=getattr(param, "multiple", False),
    )
    option.flow_parameter = param  # type: ignore[attr-defined]
    return option


class _FunctionDefaultOption(click.Option):
    """A parameter whose default is a function (or a config expression): ``--help`` calls it
    to show the value, as Metaflow's help does. Only the help calls it, so a run (which
    evaluates it once, in the launcher) never pays for or depends on a second call."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        value = _help_default(ctx, self.flow_parameter)  # type: ignore[attr-defined]
        if record is None or value is None:
            return record
        names, text = record
        required = " [required]"
        tail = required if text.endswith(required) else ""
        text = text[: len(text) - len(tail)] if tail else text
        return names, f"{text} [default: {value}]{tail}".strip()


def _help_default(ctx: click.Context, param: Any) -> Any:
    """The value a default function gives now, for the help; None when it cannot be had (it
    fails, or needs configs that do not resolve): the help is not the place to report that."""
    from headwater.runtime.configs import ConfigSources, launch_configs
    from headwater.settings import current_username

    flow_cls = getattr(ctx.command, "flow_cls", None)
    if flow_cls is None:
        return None
    root = ctx.find_root().obj or {}
    try:
        scope = launch_configs(flow_cls, root.get("configs") or ConfigSources()).scope
        return param.resolve_default(flow_cls.__name__, current_username(), scope)
    except Exception:  # noqa: BLE001 - a default that cannot be shown is left out of the help
        return None


class RunCommand(click.Command):
    """``run``, whose help lists the flow's own Parameters first, in a section of their own:
    they are what a newcomer looks for, not the executor's options.

    A flow with mutators gets its parameters' options only once the top-level options are
    parsed: the configs they name decide which parameters the mutators add or remove.
    """

    flow_name = "the flow"
    flow_cls: type | None = None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if self.flow_cls is not None:
            self._mutated_parameters(ctx, self.flow_cls)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            if self.flow_cls is not None and "HEADWATER_RUNNER_ARGS" in os.environ:
                _refuse_for_runner(self.flow_cls, exc.option_name)
            raise

    def _mutated_parameters(self, ctx: click.Context, flow_cls: type) -> None:
        from headwater.decorators.mutation import has_mutators

        root = ctx.find_root().obj or {}
        if root.get("with"):  # a --with step mutator is one of the flow's mutators from now on
            _attach_with(flow_cls, tuple(root["with"]))
        if not has_mutators(flow_cls):
            return
        from headwater.decorators.mutation import apply_mutators
        from headwater.exceptions import HeadwaterException
        from headwater.runtime.configs import ConfigSources, launch_configs

        try:
            resolved = launch_configs(flow_cls, root.get("configs") or ConfigSources())
            apply_mutators(flow_cls, resolved.scope)
        except HeadwaterException:
            return  # the run reports it, through the command's own error handling
        params = flow_parameters(flow_cls)
        self.params = [p for p in self.params if not (p.name or "").startswith("param__")
                       or (p.name or "")[len("param__"):] in params]
        present = {p.name for p in self.params}
        self.params.extend(_parameter_option(attr, param) for attr, param in params.items()
                           if f"param__{attr}" not in present)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ours, theirs = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                (ours if (param.name or "").startswith("param__") else theirs).append(record)
        if ours:
            with formatter.section(f"Parameters of {self.flow_name}"):
                formatter.write_dl(ours)
        with formatter.section("Options"):
            formatter.write_dl(theirs)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Examples to copy, with this flow's first parameter: what people coming from other
        orchestrators look for first (a parameter, a tag, retries, a concurrency limit)."""
        params = [p for p in self.get_params(ctx) if (p.name or "").startswith("param__")
                  and isinstance(p, click.Option)]
        run = _typed(ctx.parent or ctx, "run")
        rows = []
        if params:
            rows.append((f"{run} {params[0].opts[0]} VALUE", "a parameter"))
        rows += [(f"{run} --tag nightly --max-workers 4", "tag the run; 4 tasks at a time"),
                 (_typed(ctx.parent or ctx, "run", "--with retry:times=3"),
                  "retry every step up to 3 times"),
                 (_typed(ctx.parent or ctx, "resume"), "run again what failed, reusing the rest")]
        width = max(len(command) for command, _ in rows)
        with formatter.section("Examples"):
            for command, what in rows:  # as lines to paste, never rewrapped
                formatter.write(f"{'':>{formatter.current_indent}}{command:<{width}}  # {what}\n")
            formatter.write_paragraph()
            formatter.write_text("One step: @retry(times=3), @timeout(seconds=600), @cache, "
                                 "@resources(cpu=2), @environment(vars={...}) above @step.")


def _attach_with(flow_cls: type, specs: tuple[str, ...]) -> None:
    """Put the user decorators of ``--with`` on the steps; an error is the run's to report."""
    from headwater.decorators.registry import split_with
    from headwater.exceptions import HeadwaterException

    try:
        split_with(flow_cls, specs)
    except HeadwaterException:
        pass


def _env(option: str, command: str = "run") -> list[str]:
    """Run options may come from the environment, as Metaflow users set them: Metaflow reads
    each option of a command from ``METAFLOW_<COMMAND>_<OPTION>`` (``METAFLOW_RUN_RUN_ID_FILE``,
    ``METAFLOW_RESUME_MAX_WORKERS``). ``resume`` also reads the ``run`` names, after its own
    (they were its only names before)."""
    names = [f"HEADWATER_{command.upper()}_{option}", f"METAFLOW_{command.upper()}_{option}"]
    return names if command == "run" else [*names, *_env(option)]


def _executor_choice(ctx: click.Context, profile: str | None,
                     values: dict[str, Any]) -> ExecutorChoice:
    """Select ``--profile`` for this process (and its tasks), and let the profile fill in the
    executor settings the command line and the environment left unset."""
    from headwater.exceptions import HeadwaterException
    from headwater.profiles import PROFILE_ENV, with_profile
    from headwater.runtime.executors.base import ExecutorChoice

    if profile:
        os.environ[PROFILE_ENV] = profile
    try:
        env = with_profile()
    except HeadwaterException as err:
        raise click.UsageError(str(err)) from None
    name = values.pop("executor")
    if ctx.get_parameter_source("executor") == click.core.ParameterSource.DEFAULT:
        name = env.get("HEADWATER_EXECUTOR", name)
        _check_backend_name("executor", name, "HEADWATER_EXECUTOR (or the profile)")
    options = {key: value if value is not None else env.get(_option_env(key))
               for key, value in values.items()}
    return ExecutorChoice(name, {k: v for k, v in options.items() if v is not None})


def _option_env(key: str) -> str:
    from headwater.backends import BackendOption

    return BackendOption(key, "").env


def _check_backend_name(kind: str, name: str, where: str) -> None:
    from headwater import backends

    try:
        backends.get(kind, name)
    except backends.UnknownBackendError as err:
        raise click.UsageError(f"{where}: {err}") from None


def _datastore_root(kind: str, given: str | None) -> str:
    """The root ``--datastore KIND`` asks for (an ``s3://`` root for s3), from the option or
    the environment."""
    from headwater import backends
    from headwater.settings import metaflow_sysroot

    backend = backends.get("datastore", kind)
    root = (given or os.environ.get("HEADWATER_DATASTORE_ROOT")
            or metaflow_sysroot(kind, os.environ) or "")
    schemes = [s for s in backend.schemes if s]
    if backend.catch_all:
        ok = "://" in root
        wanted = "a URL"
    else:
        ok = any(root.startswith(f"{s}://") for s in schemes)
        wanted = f"an {schemes[0]}://" if schemes else "a"
    if not ok:
        from headwater.redaction import redact
        from headwater.tracebacks import printable_lines

        example = f"{schemes[0]}://BUCKET/PREFIX" if schemes else "URL"
        hint = (" (that is a connection string: it goes in AZURE_STORAGE_CONNECTION_STRING)"
                if "accountkey=" in root.lower() or "sharedaccesssignature=" in root.lower()
                else "")
        raise click.UsageError(
            f"--datastore {kind} needs {wanted} datastore root: pass --datastore-root {example} "
            "or set HEADWATER_DATASTORE_ROOT"
            + (f" (got {printable_lines(redact(root))!r}){hint}" if root else "")
        )
    return root


class BackendChoice(click.ParamType):
    """A backend name of one kind, checked against the registry (:mod:`headwater.backends`).

    Built-in names are accepted without reading installed packages' entry points; the full list
    is read only for help and for an unknown name.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"{kind} backend"

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        from headwater import backends

        return "[" + "|".join(backends.names(self.kind)) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from headwater import backends

        try:
            backends.get(self.kind, value)
        except backends.UnknownBackendError as err:
            self.fail(f"{err.msg}; {err.fix}", param, ctx)
        return value


def backend_options(kind: str, *, top_level: bool) -> Callable[[Callable], Callable]:
    """``--executor NAME`` and the options every executor backend brings (``--dask-address``),
    as the registry declares them; at the top level each also reads its environment variable."""
    from headwater import backends

    def decorate(func: Callable) -> Callable:
        for option in reversed(backends.options(kind)):
            func = click.option(option.flag, option.key, default=None,
                                envvar=option.env if top_level else None,
                                metavar=option.metavar,
                                help=option.help if top_level else
                                f"{option.help.rstrip('.')} (the same as the top-level {option.flag}).")(func)
        return click.option(f"--{kind}", kind, default="local" if top_level else None,
                            type=BackendChoice(kind),
                            envvar=f"HEADWATER_{kind.upper()}" if top_level else None,
                            show_default=top_level,
                            help="Where tasks run." if top_level
                            else "Where tasks run (the same as the top-level --executor).")(func)

    return decorate


def common_run_options(command: str = "run") -> list[click.Option]:
    """Options ``run`` and ``resume`` share; each also reads HEADWATER_<COMMAND>_X /
    METAFLOW_<COMMAND>_X (``resume`` then the ``run`` names)."""
    return [
        click.Option(["--tag", "tags"], multiple=True, callback=_checked_tags,
                     envvar=_env("TAGS", command) + _env("TAG", command),
                     help="Tag the run (repeatable; from the environment: space-separated)."),
        click.Option(["--max-workers"], type=int, default=None,
                     envvar=_env("MAX_WORKERS", command),
                     help="Tasks running at once (default: 16, as Metaflow)."),
        click.Option(["--max-num-splits"], type=click.IntRange(min=1), default=100_000,
                     show_default=True, envvar=_env("MAX_NUM_SPLITS", command),
                     help="Refuse a foreach with more items than this."),
        click.Option(["--run-id-file"], default=None, envvar=_env("RUN_ID_FILE", command),
                     help="Write the run id to this file."),
        click.Option(["--max-log-size"], type=click.IntRange(min=0), default=None,
                     envvar=_env("MAX_LOG_SIZE", command), metavar="MB", help="Keep at most this many megabytes of each task's stdout "
                     "and stderr (Metaflow's option; default: all of it, where Metaflow keeps "
                     "10). The console still shows everything."),
        click.Option(["--with", "run_with"], multiple=True, metavar="DECORATOR",
                     help="Add a step decorator to every step of this run, e.g. --with retry "
                     "(as the top-level --with)."),
        click.Option(["--no-cache"], is_flag=True, default=False,
                     help="Run every @cache step, reusing nothing (its results refresh the cache)."),
        click.Option(["--environment"], default=None,
                     type=click.Choice(["local", "pypi", "conda"], case_sensitive=False),
                     help="pypi or conda: build the steps' @pypi/@conda environments (the same "
                     "as the top-level --environment)."),
        *_executor_params(),
    ]


def _executor_params() -> list[click.Parameter]:
    """The executor options of ``run`` / ``resume``, new for each command: click appends an
    option to the function it decorates, so a carrier shared between commands would collect
    every command's copy (and click warns of each duplicate)."""

    def carrier() -> None:
        """Only carries the options :func:`backend_options` attaches."""

    return list(backend_options("executor", top_level=False)(carrier).__click_params__)


def _executor_override(ctx: click.Context, kwargs: dict[str, Any]) -> None:
    """``run --executor dask --dask-address A`` (and ``run --environment pypi``) win over the
    top-level options and the environment variables; ``run --with D`` adds to the top-level
    ``--with``."""

    from headwater import backends

    root = ctx.find_root().obj
    run_with = kwargs.pop("run_with")
    if run_with:  # ``run --with retry``: Metaflow's run-level decorators come before top-level ones
        root["with"] = (*run_with, *root["with"])
    environment = kwargs.pop("environment")
    if environment:  # ``run --environment=pypi`` (as `headwater run flow.py` users write it)
        root["environment"] = environment.lower()
    name = kwargs.pop("executor")
    values = {o.key: kwargs.pop(o.key) for o in backends.options("executor")}
    values = {k: v for k, v in values.items() if v is not None}
    choice = root["executor"]
    if name or values:
        root["executor"] = choice._replace(name=name or choice.name,
                                           options={**choice.options, **values})


def _refuse_for_runner(flow_cls: type, option: str) -> None:
    """``Runner(...).run(bogus=1)``: an argument naming no parameter is a ValueError for the
    Runner, as with Metaflow's (see :mod:`headwater.runtime.runner_args`); click reports the
    unknown option here as usual."""
    from headwater.runtime.runner_args import RunnerArgs, unknown_argument

    checks = RunnerArgs.take()
    name = option.lstrip("-")
    if checks is None or name not in checks.types:
        return
    checks.record(unknown_argument(flow_cls, name), "ValueError")


def _checked_tags(ctx: click.Context, param: click.Parameter,
                  value: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a bad ``--tag`` while parsing, before anything is started or recorded.

    A refused tag exits 1, as Metaflow's ``run --tag ""`` does ("Tagging error"), not 2 as a
    click usage error would: the option was well formed, its value breaks the tag rules."""
    from headwater.meta.tags import check_tags

    try:
        check_tags(value)
    except ValueError as exc:
        raise _Refused(_TagRefused(
            f"{exc} (given to --tag of {ctx.command_path})",
            fix="give each --tag a non-empty value without control characters, e.g. "
            "--tag experiment-3")) from None
    return value


class _TagRefused(HeadwaterException):
    """A ``--tag`` the tag rules refuse (headwater.meta.tags)."""

    headline = "Invalid tag operation"


class _Refused(click.ClickException):
    """A headwater error met while click parses: printed as every other headwater error (see
    :func:`headwater.cli.errors.report`), exiting with that error's code."""

    def __init__(self, error: HeadwaterException) -> None:
        super().__init__(str(error))
        self.error = error
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        from headwater.cli.errors import report

        report(self.error)


def _resume_command() -> click.Command:
    def resume(step: str | None, origin_run_id: str | None, **kwargs: Any) -> None:
        from headwater.cli.run_cmd import do_resume

        ctx = click.get_current_context()
        _executor_override(ctx, kwargs)
        ctx.exit(do_resume(ctx, step, origin_run_id, **kwargs))

    options: list[click.Parameter] = [
        click.Argument(["step"], required=False),
        click.Option(["--origin-run-id"], default=None,
                     help="The run to resume (default: your latest run of this flow)."),
        click.Option(["--clone-only"], is_flag=True, default=False,
                     help="Only clone the tasks that succeeded into the new run; run nothing."),
        click.Option(["--reentrant"], is_flag=True, default=False,
                     help="Accepted for Metaflow: resumes of one run may always run at once "
                     "(each is a run of its own)."),
        *common_run_options("resume"),
    ]
    return click.Command(
        "resume", callback=handle_errors(resume), params=options,
        help="Start a new run from an earlier one: clone what succeeded, re-run the failed "
        "steps and everything after them (or STEP and everything after it).",
    )


def main_for_flow_class(flow_cls: type) -> None:
    """Entry point used by ``FlowSpec.__init__`` when a flow file runs as a script."""
    from headwater.cli.process_exit import exit_process
    from headwater.cli.std_streams import quiet_when_reader_left

    cli = build_cli(flow_cls)
    try:
        cli.main(args=sys.argv[1:], prog_name=sys.argv[0], standalone_mode=True)
    except SystemExit as stop:  # click's standalone mode always ends this way
        exit_process(quiet_when_reader_left(stop.code), flow_cls)
