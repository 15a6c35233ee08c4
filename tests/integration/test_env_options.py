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


def test_run_and_resume_read_their_own_commands_variables(tmp_path) -> None:
    """jackie-ob/metaflow-datastore-tests drives its flows with ``METAFLOW_RUN_RUN_ID_FILE``
    and ``METAFLOW_RESUME_MAX_WORKERS``: Metaflow reads every option of a command from
    ``METAFLOW_<COMMAND>_<OPTION>``. headwater read only the ``run`` names of four options, so
    the run-id file was never written and ``resume`` ignored its own names."""
    flow = example("linear_flow.py")
    done = run_cli(flow, "--quiet", "run", cwd=tmp_path,
                   env={"METAFLOW_RUN_RUN_ID_FILE": "run_id"})
    assert done.returncode == 0, done.stderr
    first = (tmp_path / "run_id").read_text()
    resumed = run_cli(flow, "--quiet", "resume", "--origin-run-id", first, cwd=tmp_path,
                      env={"METAFLOW_RESUME_RUN_ID_FILE": "resumed_id",
                           "METAFLOW_RESUME_TAGS": "again"})
    assert resumed.returncode == 0, resumed.stderr
    second = (tmp_path / "resumed_id").read_text()
    assert second != first
    metadata(str(tmp_path / ".headwater"))
    assert "again" in Flow("LinearFlow")[second].user_tags

    bad = run_cli(flow, "resume", "--origin-run-id", first, cwd=tmp_path,
                  env={"METAFLOW_RESUME_MAX_WORKERS": "many"})
    assert bad.returncode != 0 and "max-workers" in bad.stderr
