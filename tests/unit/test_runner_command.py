"""Runner keyword arguments -> command-line options (no process is started here)."""

from __future__ import annotations

import sys

import pytest

from headwater.runner.command import (
    RunnerArgumentError,
    cli_value,
    entry_argv,
    resume_args,
    run_args,
    top_level_args,
)


def test_values_are_spelled_as_on_the_command_line():
    assert cli_value(True) == "true" and cli_value(False) == "false"
    assert cli_value({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert cli_value([1, "x"]) == '[1, "x"]'
    assert cli_value(0.5) == "0.5" and cli_value("text") == "text"


def test_top_level_options():
    args = top_level_args({
        "quiet": True, "datastore_root": "/data", "metadata": None, "pylint": False,
        "decospecs": ["retry", "catch:var=e"], "environment": "local", "verbose": False,
    })
    assert args == ["--quiet", "--datastore-root", "/data", "--no-pylint", "--with", "retry",
                    "--with", "catch:var=e", "--environment", "local"]
    assert top_level_args({"with_": "retry"}) == ["--with", "retry"]


def test_run_options_then_parameters_with_their_exact_names():
    args = run_args({"alpha": 3, "learning_rate": 0.1, "tags": ["a", "b"], "max_workers": 4,
                     "config": {"k": 1}, "flag": True, "skip": None})
    assert args == ["--tag", "a", "--tag", "b", "--max-workers", "4", "--alpha", "3",
                    "--learning_rate", "0.1", "--config", '{"k": 1}', "--flag", "true"]
    assert run_args({"tags": "one"}) == ["--tag", "one"]


def test_the_runner_attribute_file_belongs_to_the_runner():
    with pytest.raises(RunnerArgumentError, match="runner_attribute_file"):
        run_args({"runner_attribute_file": "x"})


def test_resume_arguments():
    assert resume_args({}) == []
    assert resume_args({"step": "train", "origin_run_id": 12}) == [
        "train", "--origin-run-id", "12"]
    assert resume_args({"step_to_rerun": "train", "tags": ["r"]}) == ["train", "--tag", "r"]
    with pytest.raises(RunnerArgumentError, match="alpha"):
        resume_args({"alpha": 1})


def test_metaflow_flows_start_through_headwater(tmp_path):
    native = tmp_path / "native.py"
    native.write_text("from headwater import FlowSpec\n")
    written_for_metaflow = tmp_path / "mf.py"
    written_for_metaflow.write_text("import os\nfrom metaflow import FlowSpec\n")
    assert entry_argv(sys.executable, str(native)) == [sys.executable, str(native)]
    argv = entry_argv(sys.executable, str(written_for_metaflow))
    assert argv[:2] == [sys.executable, "-c"] and "headwater.cli.main" in argv[2]
    assert argv[3] == str(written_for_metaflow)


def test_no_cache_is_a_flag_of_run_and_resume():
    assert run_args({"no_cache": True, "alpha": 1}) == ["--no-cache", "--alpha", "1"]
    assert run_args({"no_cache": False}) == []
    assert resume_args({"no_cache": True}) == ["--no-cache"]


def test_a_parameter_too_deep_or_too_long_for_a_command_line_is_refused_by_name():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RunnerArgumentError, match="parameter 'data': its value is nested too "):
        run_args({"data": deep})
    with pytest.raises(RunnerArgumentError, match=r"parameter 'data': its value is 200000 bytes"):
        run_args({"data": "[" * 100_000 + "]" * 100_000})
    assert run_args({"data": "x" * 1000}) == ["--data", "x" * 1000]  # an ordinary value passes


def test_decorators_given_to_run_or_resume_go_after_the_command_as_metaflows_runner_does():
    assert run_args({"decospecs": ["retry", "catch:var=e"], "alpha": 1}) == [
        "--with", "retry", "--with", "catch:var=e", "--alpha", "1"]
    assert resume_args({"decospecs": "retry", "step": "b"}) == ["b", "--with", "retry"]
