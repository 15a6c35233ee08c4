"""@pypi steps of runs that keep their data in S3 and their records in PostgreSQL.

A step's environment holds only what its lock lists, yet its task writes the run's blobs and may
read the run's records from inside it. headwater adds the client libraries the chosen backends
declare (s3fs for S3, psycopg for PostgreSQL) to every environment of such a run; the step
declares only tabulate. Real servers on loopback (tests/conftest.py): moto's S3 server,
PostgreSQL 15, and a Dask scheduler with two workers. The runs are read back by the client.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import servers
from headwater import Flow, Metaflow, namespace

from .faultkit import no_headwater_traceback
from .flowrun import flow_file, hermetic_env, reset_client, task_lines

REMOTE_FLOW = flow_file("environments/pypi_remote_flow.py")
BAD_FLOW = flow_file("environments/bad_pypi_flow.py")
BUCKET = "headwater-envs"


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture
def s3_root(moto_endpoint, tmp_path) -> dict[str, str]:
    """S3 credentials and a fresh datastore root in the bucket."""
    servers.make_bucket(moto_endpoint, BUCKET)
    return {**servers.s3_env(moto_endpoint),
            "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}"}


@pytest.fixture
def pg_metadata(pg_server) -> str:
    """The URL of a fresh PostgreSQL database for one test's runs."""
    return servers.fresh_database(pg_server, "envs")


def run(flow: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(flow), "--environment=pypi", *args], cwd=cwd,
                          env=hermetic_env(env), capture_output=True, text=True, timeout=420)


def read_back(monkeypatch, env: dict[str, str], flow: str = "PypiRemoteFlow"):
    """The latest run of ``flow``, through this process's client pointed where it ran."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_client()
    namespace(None)
    return Flow(flow).latest_run


def check_remote_run(result, cache_envs: Path | None, *, postgres: bool,
                     driver: str = "s3fs") -> None:
    """The run succeeded; its step wrote to the cloud (through ``driver``) and read the run's
    records from inside its environment, with the drivers installed *in* that environment."""
    assert result.successful
    join = result["join"].task.data
    assert join.tables == ["1  2", "2  4"]
    assert join.seen == [[1, 2], [1, 2]]  # current.run read from the environment
    (prefix,) = join.prefixes
    if cache_envs is not None:
        assert Path(prefix).parent == cache_envs
    for drivers in join.drivers:
        assert drivers[driver] is not None and drivers[driver].startswith(prefix)
        # Nothing is added that the run does not need.
        assert [d for d in ("s3fs", "gcsfs", "adlfs") if drivers[d]] == [driver]
        if postgres:
            assert drivers["psycopg"] is not None and drivers["psycopg"].startswith(prefix)
        else:
            assert drivers["psycopg"] is None
    fmt = next(iter(result["fmt"]))
    packages = {p.split("==")[0] for p in fmt.environment_info["packages"]}
    assert {"tabulate", driver} <= packages
    assert ("psycopg" in packages) is postgres
    assert fmt.environment_info["declared"]["packages"] == {"tabulate": "0.9.0"}


def test_a_pypi_step_writes_to_s3_and_reads_postgres_from_its_environment(
        tmp_path, env_cache, s3_root, pg_metadata, monkeypatch):
    env = {**s3_root, "HEADWATER_METADATA": pg_metadata, "HEADWATER_ENV_CACHE": str(env_cache)}
    done = run(REMOTE_FLOW, "--datastore", "s3", "run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("Adding s3fs>=2024.2 (the s3 datastore), psycopg[binary]>=3.1 (the "
            "postgresql metadata store) to each environment") in done.stdout
    assert not (tmp_path / ".headwater").exists()  # blobs in S3, records in PostgreSQL
    check_remote_run(read_back(monkeypatch, env), env_cache / "envs", postgres=True)


def test_an_s3_run_with_local_metadata_adds_only_the_s3_driver(tmp_path, env_cache, s3_root,
                                                                monkeypatch):
    env = {**s3_root, "HEADWATER_ENV_CACHE": str(env_cache)}
    done = run(REMOTE_FLOW, "run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Adding s3fs>=2024.2 (the s3 datastore) to each environment" in done.stdout
    check_remote_run(read_back(monkeypatch, env), env_cache / "envs", postgres=False)

    # `environment show` with the same datastore finds the lock the run made; without it (a
    # local run would not add s3fs) the declaration is not resolved yet.
    shown = run(REMOTE_FLOW, "environment", "show", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "    s3fs==" in shown.stdout and "not resolved yet" not in shown.stdout
    local = {k: v for k, v in env.items() if k != "HEADWATER_DATASTORE_ROOT"}
    shown_local = run(REMOTE_FLOW, "environment", "show", cwd=tmp_path, env=local)
    assert "not resolved yet" in shown_local.stdout


def test_on_dask_the_workers_build_environments_that_reach_s3_and_postgres(
        tmp_path, env_cache, s3_root, pg_metadata, dask_cluster, monkeypatch):
    env = {**s3_root, "HEADWATER_METADATA": pg_metadata, "HEADWATER_ENV_CACHE": str(env_cache)}
    done = run(REMOTE_FLOW, "run", "--executor", "dask", "--dask-address", dask_cluster.address,
               cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "locked; the workers build it" in done.stdout
    result = read_back(monkeypatch, env)
    check_remote_run(result, None, postgres=True)  # built in the workers' own cache
    assert "dask-worker" in next(iter(result["fmt"])).metadata_dict
    assert env_cache not in Path(result["join"].task.data.prefixes[0]).parents


def test_a_resolution_failure_names_the_step_the_package_and_what_headwater_added(
        tmp_path, env_cache, s3_root, monkeypatch):
    # aiobotocore 0.9.0 (2018) cannot go with the s3fs headwater adds for the S3 datastore.
    env = {**s3_root, "HEADWATER_ENV_CACHE": str(env_cache), "BAD_PACKAGE": "aiobotocore"}
    done = run(BAD_FLOW, "run", cwd=tmp_path, env=env)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "step 'needs' of BadPypiFlow" in out and "aiobotocore" in out
    assert "headwater adds s3fs>=2024.2 (the s3 datastore)" in out
    assert "fix:" in out and "list it among the step's packages" in out
    assert "START RAN" not in out and not task_lines(done.stdout)
    assert no_headwater_traceback(done.stderr)
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", env["HEADWATER_DATASTORE_ROOT"])
    reset_client()
    assert [f.id for f in Metaflow().flows] == []  # nothing was recorded


def test_a_conda_step_writes_to_s3_from_its_environment(tmp_path, env_cache, s3_root,
                                                         monkeypatch, tmp_path_factory):
    from .conda_channel import index, noarch_python_package

    channel = tmp_path_factory.mktemp("conda-channel")
    noarch_python_package(channel, "hwgreet", "1.2.0",
                          "def greet(who):\n    return f'hello {who} from hwgreet 1.2.0'\n")
    index(channel)
    env = {**s3_root, "HEADWATER_ENV_CACHE": str(env_cache), "HW_TEST_CHANNEL": str(channel)}
    done = run(flow_file("environments/conda_step_flow.py"), "run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    greet = read_back(monkeypatch, env, "CondaStepFlow")["greet"].task
    assert greet.data.greeting == "hello conda from hwgreet 1.2.0"  # read back from S3
    info = greet.environment_info
    assert info["type"] == "conda" and "hwgreet==1.2.0" in info["packages"]
    # s3fs comes from PyPI with headwater's runtime, into the same prefix.
    assert any(p.startswith("s3fs==") for p in info["packages"])
    assert Path(greet.data.prefix).name == info["env_id"]


@pytest.mark.parametrize(("kind", "driver"), [("gs", "gcsfs"), ("azure", "adlfs")])
def test_a_pypi_step_writes_to_gcs_and_azure_from_its_environment(kind, driver, tmp_path,
                                                                  env_cache, request,
                                                                  monkeypatch):
    """The emulators of tests/conftest.py, with the container/bucket ``headwater-test``."""
    if kind == "gs":
        env = {**servers.gcs_env(request.getfixturevalue("gcs_endpoint")),
               "HEADWATER_DATASTORE_ROOT": f"gs://headwater-test/{tmp_path.name}"}
    else:
        env = {"AZURE_STORAGE_CONNECTION_STRING": request.getfixturevalue("azurite_connection"),
               "HEADWATER_DATASTORE_ROOT": f"az://headwater-test/{tmp_path.name}"}
    env["HEADWATER_ENV_CACHE"] = str(env_cache)
    done = run(REMOTE_FLOW, "--datastore", kind, "run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"(the {kind} datastore) to each environment" in done.stdout
    check_remote_run(read_back(monkeypatch, env), env_cache / "envs", postgres=False,
                     driver=driver)
