"""Config / config_expr and @project through the command line, as a user runs them."""

from __future__ import annotations

import json

import pytest

from headwater import Flow

from .flowrun import point_client_at, run_cli, write_flow

CONFIG_FLOW = '''
import sys

from headwater import Config, FlowSpec, Parameter, config_expr, current, project, retry, step


@project(name="demo")
class ConfigFlow(FlowSpec):
    config = Config("config", default="config.json")
    extra = Config("extra", default_value={"tag": "inline"})
    # a dotted parser name: the standard library's TOML reader, tomli (its twin) on Python 3.10
    toml = Config("toml", parser=("tomllib" if sys.version_info >= (3, 11) else "tomli") + ".loads",
                  default_value="answer = 42")
    alpha = Parameter("alpha", default=config_expr("config.alpha"))

    @retry(times=config_expr("config.retries"), minutes_between_retries=0)
    @step
    def start(self):
        print("lr", self.config.lr, self.config["model"]["depth"], self.config.model.depth)
        self.seen = (self.config.lr, self.extra.tag, self.toml.answer, self.alpha)
        self.project = (current.project_name, current.branch_name, current.is_production,
                        current.project_flow_name)
        if current.retry_count < self.config.retries:
            raise RuntimeError("try again")
        self.attempts = current.retry_count + 1
        self.next(self.end)

    @step
    def end(self):
        try:
            self.config.lr = 1
        except Exception as err:
            self.refused = type(err).__name__


if __name__ == "__main__":
    ConfigFlow()
'''


@pytest.fixture
def flow(tmp_path):
    path = write_flow(tmp_path, "config_flow.py", CONFIG_FLOW)
    (tmp_path / "config.json").write_text(json.dumps(
        {"lr": 0.5, "retries": 1, "alpha": 0.25, "model": {"depth": 3}}))
    return path


def _latest(tmp_path):
    point_client_at(tmp_path / ".headwater")
    return Flow("ConfigFlow").latest_run


def test_configs_reach_steps_decorators_and_parameter_defaults(flow, tmp_path):
    proc = run_cli(flow, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lr 0.5 3 3" in proc.stdout
    run = _latest(tmp_path)
    start = run["start"].task
    assert start.data.seen == (0.5, "inline", 42, 0.25)
    assert start.data.attempts == 2  # @retry(times=config_expr('config.retries')) gave 1 retry
    assert run.data.config.model.depth == 3  # stored with the run, read by the client
    assert run["end"].task.data.refused == "ReservedAttributeError"


def test_project_branches_and_tags(flow, tmp_path):
    proc = run_cli(flow, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    run = _latest(tmp_path)
    assert run["start"].task.data.project == ("demo", "user.tester", False,
                                              "demo.user.tester.ConfigFlow")
    assert {"project:demo", "project_branch:user.tester"} <= set(run.system_tags)
    proc = run_cli(flow, "--branch", "exp", "run", cwd=tmp_path, hermetic=True)
    assert _latest(tmp_path)["start"].task.data.project[1] == "test.exp", proc.stderr
    proc = run_cli(flow, "--production", "run", cwd=tmp_path, hermetic=True)
    run = _latest(tmp_path)
    assert run["start"].task.data.project[1:3] == ("prod", True), proc.stderr
    assert "project_branch:prod" in run.system_tags


def test_config_from_the_command_line_and_resume_keeps_it(flow, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"lr": 0.9, "retries": 0, "alpha": 1.5, "model": {"depth": 1}}))
    proc = run_cli(flow, "--config", "config", str(other), "--config-value", "extra",
                   '{"tag": "cli"}', "run", "--alpha", "2.5", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    run = _latest(tmp_path)
    assert run["start"].task.data.seen == (0.9, "cli", 42, 2.5)  # --alpha typed as a float
    proc = run_cli(flow, "resume", "end", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    resumed = _latest(tmp_path)
    assert resumed.id != run.id and resumed.data.config.lr == 0.9


@pytest.mark.parametrize("args, expected", [
    (["--config", "nope", "x.json"], "has no config named 'nope'"),
    (["--config", "config", "missing.json"], "'missing.json'"),
    (["--config-value", "config", "{bad"], "is not valid JSON"),
])
def test_config_errors_name_the_config_and_the_fix(flow, tmp_path, args, expected):
    proc = run_cli(flow, *args, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert "fix:" in proc.stderr or "JSON" in proc.stderr


def test_branch_without_project_is_refused(tmp_path):
    path = write_flow(tmp_path, "plain.py", '''
        from headwater import FlowSpec, step

        class PlainFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            PlainFlow()
    ''')
    proc = run_cli(path, "--branch", "x", "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1 and "@project" in proc.stderr
