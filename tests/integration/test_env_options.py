"""Run options from the environment, as Metaflow users set them (METAFLOW_RUN_TAGS, ...)."""

from __future__ import annotations

from headwater import Flow, metadata

from .flowrun import example, run_cli


def test_tags_and_workers_come_from_the_environment(tmp_path) -> None:
    done = run_cli(
        example("linear_flow.py"), "--quiet", "run", cwd=tmp_path,
        env={"METAFLOW_RUN_TAGS": "alpha beta", "HEADWATER_RUN_MAX_WORKERS": "1"},
    )
    assert done.returncode == 0, done.stderr
    metadata(str(tmp_path / ".headwater"))
    run = Flow("LinearFlow").latest_run
    assert {"alpha", "beta"} <= set(run.user_tags)


def test_a_bad_value_in_the_environment_names_the_option(tmp_path) -> None:
    done = run_cli(example("linear_flow.py"), "run", cwd=tmp_path,
                   env={"METAFLOW_RUN_MAX_WORKERS": "many"})
    assert done.returncode != 0
    assert "max-workers" in done.stderr and "Traceback" not in done.stderr
