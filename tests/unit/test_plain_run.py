"""A bare ``run``/``resume`` skips click only when click would have nothing to parse."""

from __future__ import annotations

import click

from headwater import FlowSpec, backends, step
from headwater.cli.flow_cli import build_cli
from headwater.cli.plain_run import (
    OPTION_ENV,
    RUN_OPTION_ENV_PREFIXES,
    is_plain,
    root_obj,
)


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


def test_no_command_declares_an_option_twice_however_often_the_cli_is_built() -> None:
    # A shared carrier once collected run's and resume's executor options together: every
    # `resume --tag x` printed a dozen click warnings about duplicate parameters.
    for _ in range(3):
        cli = build_cli(TinyFlow)
        for name in ("run", "resume"):
            command = cli.commands[name]
            flags = [flag for param in command.params for flag in param.opts]
            assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
