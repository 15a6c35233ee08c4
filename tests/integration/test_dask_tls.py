"""A Dask cluster that speaks only TLS: the launcher connects with the profile's certificates.

A real ``dask scheduler --protocol tls`` and ``dask worker`` are started with a certificate
authority made for the test (mutual TLS: the cluster admits only certificates its CA signed).
A run whose profile names the CA and a client certificate goes through; one without them, or
with a certificate from another CA, is refused at launch with one clear message, no run recorded.
"""

from __future__ import annotations

import pytest

from headwater import Flow
from servers import dask_cluster, make_tls_files

from .flowrun import example, point_client_at, run_cli, run_count


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask-tls")
    tls = make_tls_files(folder / "certs")
    with dask_cluster(folder, {"tls-w1": None}, tls=tls) as cluster:
        yield cluster


def _profile(tmp_path, address: str, **tls: str):
    lines = ["[profiles.secure]", 'executor = "dask"', f'dask_address = "{address}"']
    lines += [f'{key} = "{value}"' for key, value in tls.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return {"HEADWATER_CONFIG": str(path), "HEADWATER_DASK_TIMEOUT": "20"}


def _run(tmp_path, env):
    return run_cli(example("branch_flow.py"), "--profile", "secure", "run", cwd=tmp_path,
                   hermetic=True, timeout=180, env=env)


def _settings(files) -> dict[str, str]:
    return {"dask_tls_ca_file": str(files.ca_file), "dask_tls_cert": str(files.cert),
            "dask_tls_key": str(files.key)}


def _refused(proc, *phrases: str, tmp_path) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Task is starting" not in proc.stdout
    assert run_count(tmp_path / ".headwater") == 0


def test_a_flow_runs_on_a_tls_cluster_with_the_profiles_certificates(tls_cluster, tmp_path):
    proc = _run(tmp_path, _profile(tmp_path, tls_cluster.address, **_settings(tls_cluster.tls)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    point_client_at(tmp_path / ".headwater")
    run = Flow("BranchFlow").latest_run
    assert run.successful and "runtime:dask" in run.system_tags
    assert run["a"].task.runtime_name == "dask"
    assert run.data.total == 23


def test_the_same_settings_work_from_the_environment(tls_cluster, tmp_path):
    env = _profile(tmp_path, tls_cluster.address)
    env.update({"HEADWATER_DASK_TLS_CA_FILE": str(tls_cluster.tls.ca_file),
                "HEADWATER_DASK_TLS_CERT": str(tls_cluster.tls.cert),
                "HEADWATER_DASK_TLS_KEY": str(tls_cluster.tls.key)})
    proc = _run(tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_without_certificates_a_tls_cluster_is_one_clear_error(tls_cluster, tmp_path):
    proc = _run(tmp_path, _profile(tmp_path, tls_cluster.address))
    _refused(proc, f"the Dask scheduler at {tls_cluster.address} speaks TLS, but no certificate "
             "was given", "fix: set dask_tls_ca_file, dask_tls_cert and dask_tls_key in the "
             "profile", tmp_path=tmp_path)


def test_tls_settings_with_a_plain_tcp_address_are_refused(tls_cluster, tmp_path):
    plain = tls_cluster.address.replace("tls://", "tcp://")
    proc = _run(tmp_path, _profile(tmp_path, plain, **_settings(tls_cluster.tls)))
    _refused(proc, f"the scheduler address {plain} is not a tls:// address",
             f"fix: use --dask-address {tls_cluster.address}", tmp_path=tmp_path)


def test_a_certificate_the_cluster_did_not_sign_is_refused(tls_cluster, tmp_path):
    stranger = make_tls_files(tmp_path / "certs", name="stranger")
    settings = {**_settings(stranger), "dask_tls_ca_file": str(tls_cluster.tls.ca_file)}
    env = {**_profile(tmp_path, tls_cluster.address, **settings), "HEADWATER_DASK_TIMEOUT": "5"}
    proc = _run(tmp_path, env)
    _refused(proc, f"cannot reach the Dask scheduler at {tls_cluster.address}", tmp_path=tmp_path)


def test_a_partial_tls_setting_names_what_is_missing(tls_cluster, tmp_path):
    proc = _run(tmp_path, _profile(tmp_path, tls_cluster.address,
                                   dask_tls_cert=str(tls_cluster.tls.cert)))
    _refused(proc, "Dask TLS needs dask_tls_ca_file too (only dask_tls_cert is set)",
             tmp_path=tmp_path)
