"""--profile / HEADWATER_PROFILE through real runs, and `headwater configure show`."""

from __future__ import annotations

import os
import subprocess
import sys

from .flowrun import example, run_cli


def _config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[profiles.team]\ndatastore_root = "{tmp_path / "team-store"}"\n')
    return path


def test_a_run_with_a_profile_writes_where_the_profile_says(tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(_config(tmp_path))}
    done = run_cli(example("linear_flow.py"), "--profile", "team", "--quiet", "run", cwd=tmp_path,
                   env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "team-store" / "meta.sqlite").is_file()
    assert not (tmp_path / ".headwater").exists()


def test_configure_show_says_where_each_setting_came_from(tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(_config(tmp_path)), "HEADWATER_PROFILE": "team",
           "HEADWATER_EXECUTOR": "local"}
    shown = subprocess.run(
        [sys.executable, "-c", "from headwater.cli.main import main; main()", "configure", "show"],
        cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "profile 'team'" in shown.stdout and "environment (HEADWATER_EXECUTOR)" in shown.stdout
    assert str(tmp_path / "team-store") in shown.stdout


def test_configure_show_never_prints_a_metadata_password(tmp_path) -> None:
    # Before: HEADWATER_METADATA=postgresql://hw:PW@host/db printed PW twice.
    secret = "Pw-in-env-9d2"
    config = tmp_path / "config.toml"
    config.write_text('[profiles.team]\nmetadata = "postgresql://hw@db.internal/hw'
                      f'?sslpassword={secret}"\n')
    for env in ({"HEADWATER_METADATA": f"postgresql://hw:{secret}@db.internal/hw"},
                {"HEADWATER_METADATA": f"postgresql://hw@db.internal/hw?password={secret}"},
                {"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"}):
        shown = subprocess.run(
            [sys.executable, "-c", "from headwater.cli.main import main; main()", "configure",
             "show"], cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "postgresql://hw" in shown.stdout and "***" in shown.stdout
        assert secret not in shown.stdout + shown.stderr


def test_an_unknown_profile_is_a_usage_error(tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(_config(tmp_path))}
    done = run_cli(example("linear_flow.py"), "--profile", "nope", "run", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "profile 'nope'" in done.stderr and "Traceback" not in done.stderr
