"""``config.cpu`` written directly in decorators and parameter defaults is read at launch."""

from __future__ import annotations

from pathlib import Path

from .flowrun import run_cli

FLOW = Path(__file__).parent / "flows" / "config_path_flow.py"


def test_defaults_of_the_config_reach_decorators_and_parameters(tmp_path) -> None:
    done = run_cli(FLOW, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lr 0.1 cpu 2 retry 0" in done.stdout  # first attempt fails...
    assert "lr 0.1 cpu 2 retry 1" in done.stdout  # ...and @retry(times=config['retries']) retries


def test_a_config_given_at_launch_changes_the_decorators(tmp_path) -> None:
    done = run_cli(FLOW, "--config-value", "config",
                   '{"cpu": 4, "retries": 0, "model": {"lr": 0.5}}', "run", cwd=tmp_path)
    assert done.returncode == 1  # no retry left: the failing first attempt ends the run
    assert "lr 0.5 cpu 4 retry 0" in done.stdout
    assert "retry 1" not in done.stdout
