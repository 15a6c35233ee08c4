"""A bare ``run``/``resume`` skips click only when click would have nothing to parse."""

from __future__ import annotations

import os

import click

from headwater import FlowSpec, Parameter, backends, step
from headwater.cli.flow_cli import build_cli
from headwater.cli.plain_run import (
    OPTION_ENV,
    RUN_OPTION_ENV_PREFIXES,
    is_plain,
    root_obj,
    run_with_options,
)
from headwater.flow.parameters import flow_parameters
from headwater.runtime.scheduler import RunOptions


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def _envvars(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names.update(envvar)
    return names


def test_every_environment_variable_an_option_reads_sends_the_command_to_click() -> None:
    cli = build_cli(TinyFlow)
    ctx = click.Context(cli)
    option_env = OPTION_ENV | {o.env for o in backends.options("executor")}
    group_env = _envvars(cli)
    run_env = _envvars(cli.get_command(ctx, "run")) | _envvars(cli.get_command(ctx, "resume"))
    assert group_env  # the probe works
    assert group_env <= option_env, group_env - option_env
    assert run_env and all(n.startswith(RUN_OPTION_ENV_PREFIXES) or n in option_env
                           for n in run_env), run_env
    for name in sorted(group_env | run_env):
        assert not is_plain(["run"], {name: "x"}), name
        assert not is_plain(["resume"], {name: "x"}), name


def test_only_a_bare_run_or_resume_is_plain() -> None:
    assert is_plain(["run"], {"METAFLOW_DATASTORE_SYSROOT_LOCAL": "/tmp/x", "USERNAME": "u"})
    assert is_plain(["resume"], {})
    for args in ([], ["run", "--help"], ["--quiet", "run"], ["run", "--tag", "a"], ["show"],
                 ["resume", "start"], ["run", "--n", "3"]):
        assert not is_plain(args, {}), args
    assert not is_plain(["run"], {"_LINEAR.PY_COMPLETE": "bash_source",
                                  "_LINEAR_PY_COMPLETE": "bash_source"})


def _click_obj(flow_cls: type) -> dict:
    """The group's ``obj`` as click builds it for ``flow.py run``."""
    cli = build_cli(flow_cls)
    ctx = cli.make_context("flow.py", ["run"])
    with ctx:
        ctx.invoke(cli.callback, **ctx.params)
    return ctx.obj


def test_the_defaults_match_what_click_builds(monkeypatch, tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.team]\nexecutor = "dask"\ndask_address = "tcp://127.0.0.1:1"\n'
                      '[profiles.typo]\nexecutor = "daks"\n')
    monkeypatch.setenv("HEADWATER_CONFIG", str(config))
    for name in [*OPTION_ENV, "HEADWATER_PROFILE", "HEADWATER_DASK_ADDRESS"]:
        monkeypatch.delenv(name, raising=False)
    assert root_obj(TinyFlow) == _click_obj(TinyFlow)

    monkeypatch.setenv("HEADWATER_PROFILE", "team")
    ours = root_obj(TinyFlow)
    assert ours is not None and ours["executor"].name == "dask"  # the probe works
    assert ours == _click_obj(TinyFlow)

    # A profile naming an unknown executor is left to click, which reports it.
    monkeypatch.setenv("HEADWATER_PROFILE", "typo")
    assert root_obj(TinyFlow) is None


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float)
    n = Parameter("n", default=3)
    label = Parameter("label", default="x")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def _click_run_args(flow_cls: type, args: list[str]) -> tuple[dict, dict]:
    """What click hands ``do_run`` for ``flow.py run ARGS``: the parameters given (as the run
    command's callback picks them out) and run's own options."""
    cli = build_cli(flow_cls)
    ctx = cli.make_context("flow.py", ["run"])
    run = cli.get_command(ctx, "run")
    sub = run.make_context("run", list(args), parent=ctx)
    values = dict(sub.params)
    params = flow_parameters(flow_cls)
    given = {p.name: values.pop(f"param__{attr}") for attr, p in params.items()}
    values.pop("executor")
    values.pop("environment")  # run's own --environment: read by the callback, like the executor
    values.pop("run_with")  # run's own --with: added to the top-level one by the callback
    for option in backends.options("executor"):
        values.pop(option.key)
    return {k: v for k, v in given.items() if v is not None}, values


def test_run_with_simple_options_is_read_as_click_reads_it() -> None:
    for args in (
        [],
        ["--alpha", "0.6"],
        ["--alpha=0.6", "--n", "100", "--label", "a b"],
        ["--n", "007", "--max-num-splits", "100", "--max-workers", "2"],
        ["--tag", "a", "--tag", "b:c", "--no-cache", "--run-id-file", "rid.txt"],
        ["--label=x=y", "--max-num-splits=5"],
        ["--alpha", "not-a-number"],  # converted (and refused) by the runtime, as with click
    ):
        ours = run_with_options(ParamFlow, ["run", *args])
        assert ours is not None, args
        assert ours == _click_run_args(ParamFlow, args), args


def test_run_options_click_must_read_are_left_to_it() -> None:
    for args in (
        ["--help"],
        ["--with", "retry"],  # decorators for the run: click's
        ["--alpha"],  # no value: click's error
        ["--alpha", ""],
        ["--alpha", "-1"],  # click reads it as the value; left to it all the same
        ["--alpha", "1", "--alpha", "2"],  # repeated: click keeps the last
        ["--max-workers", "0"], ["--max-num-splits", "0"], ["--max-workers", "+2"],
        ["--max-workers", "1_0"], ["--max-num-splits", "x"],
        ["--tag", ".."], ["--tag", "a\x01"],
        ["--no-cache=yes"], ["--namespace", "user:will"],
        ["--executor", "local"], ["--environment", "pypi"], ["--environment=pypi"],
        ["--unknown", "1"], ["-n", "3"], ["3"], ["--", "--n", "3"],
    ):
        assert run_with_options(ParamFlow, ["run", *args]) is None, args
    assert run_with_options(ParamFlow, ["resume", "--n", "3"]) is None
    assert run_with_options(ParamFlow, ["--quiet", "run"]) is None


class ClashingFlow(FlowSpec):
    executor = Parameter("executor", default="x")  # the same flag as run's own --executor

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_parameter_named_like_a_run_option_is_left_to_click() -> None:
    assert run_with_options(ClashingFlow, ["run"]) is None


class EnvironmentParamFlow(FlowSpec):
    environment = Parameter("environment", default="dev")  # the same flag as run's --environment

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_parameter_named_like_run_environment_option_is_left_to_click() -> None:
    assert run_with_options(EnvironmentParamFlow, ["run", "--environment", "prod"]) is None


def test_no_command_declares_an_option_twice_however_often_the_cli_is_built() -> None:
    # A shared carrier once collected run's and resume's executor options together: every
    # `resume --tag x` printed a dozen click warnings about duplicate parameters.
    for _ in range(3):
        cli = build_cli(TinyFlow)
        for name in ("run", "resume"):
            command = cli.commands[name]
            flags = [flag for param in command.params for flag in param.opts]
            assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)


def test_max_workers_defaults_to_metaflows_sixteen_on_any_machine(monkeypatch) -> None:
    """A flow moved from Metaflow runs as many tasks at once as it did there (docs/decisions.md),
    on a two-core runner as on a big server."""
    for cores in (1, 2, 64):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert RunOptions().max_workers == 16
