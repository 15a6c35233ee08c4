"""Every test gets a clean environment and its own working directory.

Nothing a test does may land in the repository (a stray ``.headwater/``) or depend on the developer's
shell (a HEADWATER_DATASTORE_ROOT left exported, METAFLOW_USER, ...).
"""

from __future__ import annotations

import hashlib
import os

import pytest

import servers

LONGEST_READABLE_ID = 100


def pytest_make_parametrize_id(config, val, argname):
    """Name a long string parameter by its length and digest, whatever pytest's version.

    Older pytest put the whole value in the test's id, and pytest copies the id into
    ``PYTEST_CURRENT_TEST``: a 200,000-character hostile value made every child process of the
    test fail to start (E2BIG, one environment string over 128 KiB).
    """
    if isinstance(val, (str, bytes)) and len(val) > LONGEST_READABLE_ID:
        raw = val.encode("utf-8", "surrogatepass") if isinstance(val, str) else val
        return f"{argname}-{len(val)}chars-{hashlib.sha256(raw).hexdigest()[:10]}"
    return None


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in list(os.environ):
        if name.startswith(("HEADWATER_", "METAFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEADWATER_USER", "tester")
    # The terminal the suite runs in is not the one a test reasons about (an Emacs shell says
    # TERM=dumb, some users set NO_COLOR): tests that care set these themselves.
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(tmp_path)


# -- Real servers, started once per test session on first use (see servers.py) -------------------

DASK_WORKERS = {
    # Abstract Dask resources, as an administrator declares them: w2 is the "big" worker.
    "w1": "CPU=1,MEMORY=4096",
    "w2": "CPU=2,MEMORY=8192,GPU=1",
}


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL 15 server on loopback; the URL of its ``postgres`` database."""
    with servers.postgres() as url:
        yield url


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3 server on loopback; its endpoint URL."""
    with servers.moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def seaweed_endpoint(tmp_path_factory):
    """SeaweedFS (``weed mini``) on loopback, data on disk; its S3 endpoint URL."""
    with servers.seaweedfs_s3(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    """gcp-storage-emulator on loopback with the bucket ``headwater-test``; its endpoint URL."""
    with servers.gcs_emulator(tmp_path_factory.mktemp("gcs"), ("headwater-test",)) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_connection(tmp_path_factory):
    """Azurite's blob service on loopback with the container ``headwater-test``; the connection
    string that reaches it."""
    with servers.azurite(tmp_path_factory.mktemp("azurite"), ("headwater-test",)) as connection:
        yield connection


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory, moto_endpoint):
    """A ``dask scheduler`` with workers w1 and w2 (see DASK_WORKERS), loopback only.

    The workers are configured with credentials for the moto S3 server, as a real cluster's
    workers are for their bucket, so tasks can use an ``s3://`` datastore root.
    """
    env = servers.s3_env(moto_endpoint)
    # Workers build @pypi environments in a cache of their own (tests/integration/test_environments.py).
    env["HEADWATER_ENV_CACHE"] = str(tmp_path_factory.mktemp("worker-env-cache"))
    with servers.dask_cluster(tmp_path_factory.mktemp("dask"), DASK_WORKERS, env) as cluster:
        yield cluster
