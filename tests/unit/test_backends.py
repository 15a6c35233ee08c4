"""The registry of backends: names by kind, URL schemes, options, and the errors."""

from __future__ import annotations

import pytest

from headwater import backends
from headwater.exceptions import HeadwaterException
from headwater.profiles import ProfileError, load_profile, settings
from headwater.store.storage import open_storage


def test_built_in_backends_by_kind() -> None:
    assert backends.names("executor")[:3] == ["local", "spawn", "dask"]
    assert backends.names("datastore")[:5] == ["local", "s3", "gs", "azure", "fsspec"]
    assert backends.names("metadata")[:2] == ["sqlite", "postgresql"]
    for kind in ("card", "environment", "deployer"):
        assert isinstance(backends.names(kind), list)  # the kinds coming next exist already


def test_the_environment_backends_are_registered_and_load_their_module() -> None:
    assert backends.names("environment")[:2] == ["pypi", "conda"]
    for name in ("pypi", "conda"):
        backend = backends.get("environment", name)
        module = backend.load()  # imports neither uv nor rattler: they are imported on use
        assert module.__name__ == f"headwater.environments.{name}_env"
        assert callable(module.resolve) and callable(module.build)
        assert backend.extra == name


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(backends.UnknownBackendError) as caught:
        backends.get("executor", "kubernetes")
    assert "no executor backend named 'kubernetes'" in str(caught.value)
    assert "local, spawn, dask" in str(caught.value) and "docs/extending.md" in str(caught.value)


def test_urls_go_to_the_backend_serving_their_scheme(tmp_path) -> None:
    assert backends.for_url("datastore", str(tmp_path))[0].name == "local"
    assert backends.for_url("datastore", f"file://{tmp_path}") == (
        backends.get("datastore", "local"), "file")
    assert backends.for_url("datastore", "s3://bucket/prefix")[0].name == "s3"
    for url, name in (("gs://b/p", "gs"), ("gcs://b/p", "gs"), ("az://c/p", "azure"),
                      ("abfs://c/p", "azure"), ("abfss://c/p", "azure")):
        assert backends.for_url("datastore", url)[0].name == name
    assert backends.for_url("datastore", "memory://x")[0].name == "fsspec"  # the catch-all
    assert backends.for_url("metadata", "postgres://u@h/db")[0].name == "postgresql"
    assert backends.for_url("metadata", "sqlite:///a/b.sqlite")[0].name == "sqlite"
    with pytest.raises(backends.UnknownBackendError, match="postgresql://"):
        backends.for_url("metadata", "mysql://u@h/db")
    storage = open_storage(f"file://{tmp_path}")
    assert type(storage).__name__ == "LocalStorage" and storage.root == str(tmp_path)


def test_an_option_is_a_flag_an_environment_variable_and_a_profile_key() -> None:
    (address, *_) = backends.get("executor", "dask").options
    assert (address.flag, address.env, address.key) == (
        "--dask-address", "HEADWATER_DASK_ADDRESS", "dask_address")
    keys = settings()
    assert keys["dask_address"] == "HEADWATER_DASK_ADDRESS"
    assert keys["package_suffixes"] == "HEADWATER_PACKAGE_SUFFIXES"
    assert backends.chosen_options(backends.get("executor", "local"),
                                   {"dask_address": "tcp://x:1"}) == {}


def test_a_profile_naming_an_unknown_executor_is_refused(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.team]\nexecutor = "ray"\n')
    env = {"HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"}
    with pytest.raises(ProfileError, match="no executor backend named 'ray'"):
        load_profile(env)


def test_a_missing_dependency_names_the_extra(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend whose module imports a package that is not installed says which, and the fix."""
    (tmp_path / "hw_needs_ghost.py").write_text("import ghost_driver_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    backend = backends.Backend("executor", "ghost", "hw_needs_ghost:create", extra="ghost")
    with pytest.raises(HeadwaterException) as caught:
        backend.load()
    assert "executor backend 'ghost' needs the package 'ghost_driver_not_installed'" in str(
        caught.value)
    assert caught.value.fix == "pip install 'headwater[ghost]'"
