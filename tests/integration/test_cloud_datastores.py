"""Blobs in Google Cloud Storage and Azure Blob Storage: runs, the client, resume and the errors a
user meets, against each cloud's emulator on loopback (gcp-storage-emulator and Microsoft's
Azurite, both keeping their data on disk), through the same drivers (gcsfs, adlfs) a real
bucket or container is reached with."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import fsspec
import pytest

import servers
from headwater import Flow

from .faultkit import no_headwater_traceback
from .flowrun import reset_client, run_cli, write_flow

BUCKET = "headwater-test"  # made by the session fixtures (tests/conftest.py)


@dataclass
class Cloud:
    kind: str  # the --datastore name, as Metaflow spells it
    scheme: str
    env: dict[str, str]

    def root(self, prefix: str) -> str:
        return f"{self.scheme}://{BUCKET}/{prefix}"

    def keys(self, prefix: str) -> list[str]:
        """Every object under ``prefix`` of the test bucket, read with the driver itself."""
        fs = fsspec.filesystem(self.scheme, skip_instance_cache=True, **self._options())
        try:
            found = fs.find(f"{BUCKET}/{prefix}")
        except FileNotFoundError:
            return []
        return [path.removeprefix(f"{BUCKET}/") for path in found]

    def _options(self) -> dict[str, str]:
        if self.kind == "azure":
            return {"connection_string": self.env["AZURE_STORAGE_CONNECTION_STRING"]}
        return {"token": "anon"}


@pytest.fixture(params=["gs", "azure"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """Each cloud's emulator in turn (both started once per session), with the environment a
    user would set to reach it, set in this process too (for the client)."""
    if request.param == "gs":
        env = servers.gcs_env(request.getfixturevalue("gcs_endpoint"))
        made = Cloud("gs", "gs", env)
    else:
        env = {"AZURE_STORAGE_CONNECTION_STRING": request.getfixturevalue("azurite_connection")}
        made = Cloud("azure", "az", env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return made


BLOBS_FLOW = """
    from headwater import FlowSpec, step


    class CloudFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.square, foreach="items")

        @step
        def square(self):
            # Above the size kept inline in the metadata: this one must go to the blob store.
            self.payload = bytes([self.input]) * 100_000
            self.next(self.join)

        @step
        def join(self, inputs):
            self.sizes = sorted(len(i.payload) * i.payload[0] for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print("sizes", self.sizes)


    if __name__ == "__main__":
        CloudFlow()
"""


def test_a_run_keeps_its_blobs_in_the_cloud_and_the_client_reads_them(tmp_path, cloud,
                                                                      monkeypatch) -> None:
    flow = write_flow(tmp_path, "cloud_flow.py", BLOBS_FLOW)
    root = cloud.root(tmp_path.name)
    done = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path, env=cloud.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sizes [100000, 200000, 300000]" in done.stdout
    keys = cloud.keys(tmp_path.name)
    assert any(k.startswith(f"{tmp_path.name}/blobs/") for k in keys), keys
    assert not (tmp_path / ".headwater" / "blobs").exists()  # only the database is local

    # The client reads the payloads back from the cloud, as a notebook in this folder would.
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", root)
    reset_client()
    tasks = sorted(Flow("CloudFlow").latest_run["square"], key=lambda t: t.index)
    assert [t.data.payload[:2] for t in tasks] == [b"\x01\x01", b"\x02\x02", b"\x03\x03"]


def test_metaflows_datastore_settings_name_the_cloud_for_runs_and_the_client(
        tmp_path, cloud, monkeypatch) -> None:
    # Metaflow's names: --datastore gs|azure with METAFLOW_DATASTORE_SYSROOT_GS|AZURE; an Azure
    # sysroot is written without a scheme, as container/prefix.
    prefix = f"{tmp_path.name}-sysroot"
    sysroot = cloud.root(prefix) if cloud.kind == "gs" else f"{BUCKET}/{prefix}"
    variable = f"METAFLOW_DATASTORE_SYSROOT_{cloud.kind.upper()}"
    flow = write_flow(tmp_path, "cloud_flow.py", BLOBS_FLOW)
    done = run_cli(flow, "--datastore", cloud.kind, "--quiet", "run", cwd=tmp_path,
                   env={**cloud.env, variable: sysroot})
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(k.startswith(f"{prefix}/blobs/") for k in cloud.keys(prefix))

    # With the same two settings the client finds the blobs without being told the root.
    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", cloud.kind)
    monkeypatch.setenv(variable, sysroot)
    reset_client()
    run = Flow("CloudFlow").latest_run
    assert sorted(len(t.data.payload) for t in run["square"]) == [100_000] * 3


def test_resume_clones_from_the_cloud(tmp_path, cloud) -> None:
    flow = write_flow(tmp_path, "flaky_flow.py", """
        import os
        from headwater import FlowSpec, step


        class FlakyFlow(FlowSpec):
            @step
            def start(self):
                self.data = list(range(5000))
                self.next(self.end)

            @step
            def end(self):
                if os.environ.get("BREAK"):
                    raise RuntimeError("broken")
                print("total", sum(self.data))


        if __name__ == "__main__":
            FlakyFlow()
    """)
    root = cloud.root(tmp_path.name)
    failed = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path,
                     env={**cloud.env, "BREAK": "1"})
    assert failed.returncode == 1
    resumed = run_cli(flow, "--datastore-root", root, "resume", cwd=tmp_path, env=cloud.env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Cloning results of a previously successful task FlakyFlow/1/start/1" in resumed.stdout
    assert "total 12497500" in resumed.stdout  # `end` read start's list back from the cloud


def test_a_missing_bucket_is_one_clear_error_before_any_task(tmp_path, cloud) -> None:
    root = f"{cloud.scheme}://no-such-bucket/x"
    flow = write_flow(tmp_path, "cloud_flow.py", BLOBS_FLOW)
    done = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path, env=cloud.env)
    assert done.returncode == 1
    assert f"{root} cannot be written" in done.stderr
    # The store's own word for it, and what to check in this cloud's terms.
    said = {"gs": "not found", "azure": "ContainerNotFound"}[cloud.kind]
    assert said in done.stderr
    assert {"gs": "GOOGLE_APPLICATION_CREDENTIALS",
            "azure": "AZURE_STORAGE_CONNECTION_STRING"}[cloud.kind] in done.stderr
    assert "Task is starting" not in done.stdout
    assert "<?xml" not in done.stderr and "Traceback" not in done.stderr


def test_azure_without_credentials_says_which_to_set(tmp_path, azurite_connection) -> None:
    flow = write_flow(tmp_path, "cloud_flow.py", BLOBS_FLOW)
    done = run_cli(flow, "--datastore-root", f"az://{BUCKET}/x", "run", cwd=tmp_path)
    assert done.returncode == 1
    assert f"az://{BUCKET}/x cannot be opened" in done.stderr
    assert "AZURE_STORAGE_CONNECTION_STRING" in done.stderr  # the fix names the variables
    assert "Task is starting" not in done.stdout
    assert no_headwater_traceback(done.stdout + done.stderr) and "Traceback" not in done.stderr


@pytest.mark.parametrize(("root", "extra"), [("gs://b/p", "gcs"), ("az://c/p", "azure")])
def test_a_missing_driver_names_the_extra_that_brings_it(tmp_path, root, extra) -> None:
    module = {"gcs": "gcsfs", "azure": "adlfs"}[extra]
    # A fresh interpreter where the driver cannot be imported, as if it were not installed.
    script = (f"import sys; sys.modules[{module!r}] = None\n"
              "from headwater.store import open_storage\n"
              f"open_storage({root!r})\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert f"{root} needs a driver that is not installed" in done.stderr
    assert f"pip install 'headwater[{extra}]'" in done.stderr
