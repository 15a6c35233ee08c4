"""Profiles: a config file of named setups, selected by HEADWATER_PROFILE, below env and options."""

from __future__ import annotations

import pytest

from headwater.profiles import ProfileError, explain, load_profile, with_profile
from headwater.settings import Settings


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[profiles.team]\n'
        f'datastore_root = "{tmp_path / "team-store"}"\n'
        'executor = "dask"\n'
        'dask_address = "tcp://127.0.0.1:8786"\n'
        '[profiles.local]\n'
        f'datastore_root = "{tmp_path / "mine"}"\n'
    )
    return path


def test_no_profile_selected_changes_nothing(config) -> None:
    env = {"HEADWATER_CONFIG": str(config)}
    assert load_profile(env) is None
    assert with_profile(env) == env


def test_the_selected_profile_fills_in_settings(config, tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"}
    filled = with_profile(env)
    assert filled["HEADWATER_DATASTORE_ROOT"] == str(tmp_path / "team-store")
    assert filled["HEADWATER_EXECUTOR"] == "dask"
    settings = Settings.resolve(environ=env)
    assert settings.datastore_root == str(tmp_path / "team-store")


def test_an_environment_variable_wins_over_the_profile(config, tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team",
           "HEADWATER_DATASTORE_ROOT": str(tmp_path / "env-store")}
    assert Settings.resolve(environ=env).datastore_root == str(tmp_path / "env-store")
    sources = {key: source for key, _, source in explain(env)}
    assert sources["datastore_root"].startswith("environment")
    assert sources["executor"].startswith("profile 'team'")
    assert sources["metadata"] == "default"


def test_an_explicit_option_wins_over_everything(config, tmp_path) -> None:
    env = {"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"}
    settings = Settings.resolve(datastore_root=str(tmp_path / "opt"), environ=env)
    assert settings.datastore_root == str(tmp_path / "opt")


def test_an_unknown_profile_lists_the_known_ones(config) -> None:
    with pytest.raises(ProfileError) as err:
        load_profile({"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "tema"})
    assert "'tema'" in str(err.value) and "local, team" in str(err.value)


def test_a_missing_file_and_unknown_settings_are_clear_errors(tmp_path, config) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile({"HEADWATER_CONFIG": str(tmp_path / "nope.toml"), "HEADWATER_PROFILE": "x"})
    config.write_text('[profiles.team]\ndatastore = "s3"\n')
    with pytest.raises(ProfileError, match="unknown settings: datastore"):
        load_profile({"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"})
