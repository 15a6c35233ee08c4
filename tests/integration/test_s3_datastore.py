"""Blobs in S3: runs, the client and resume against a real S3 server (moto's) on loopback."""

from __future__ import annotations

import os

import boto3
import pytest
from moto.server import ThreadedMotoServer

from headwater import Flow

from .flowrun import example, reset_client, run_cli

BUCKET = "headwater-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return env


def _objects(prefix: str) -> list[str]:
    listing = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).list_objects_v2(
        Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_run_keeps_its_blobs_in_s3_and_the_client_reads_them(tmp_path, s3_env,
                                                               monkeypatch) -> None:
    root = f"s3://{BUCKET}/{tmp_path.name}"
    done = run_cli(example("foreach_flow.py"), "--datastore-root", root, "run", cwd=tmp_path,
                   env=s3_env)
    assert done.returncode == 0, done.stdout + done.stderr
    keys = _objects(tmp_path.name)
    assert keys and all(k.startswith(f"{tmp_path.name}/blobs/") for k in keys)
    assert not (tmp_path / ".headwater" / "blobs").exists()  # only the database is local
    assert (tmp_path / ".headwater" / "meta.sqlite").is_file()

    # The client finds the database where the run put it (the nearest local .headwater/) and the
    # blobs at the remote root, as a notebook started in this folder would.
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", root)
    reset_client()
    run = Flow("ForeachFlow").latest_run
    assert run.data.titles == ["0: the bird", "1: the fish", "2: the fox"]
    assert "the fish" in run["make_title"].task.stdout or any(
        "the fish" in t.stdout for t in run["make_title"])


def test_resume_clones_from_s3(tmp_path, s3_env) -> None:
    flow = tmp_path / "flaky_flow.py"
    flow.write_text(
        "import os\n"
        "from headwater import FlowSpec, step\n"
        "class FlakyFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.data = list(range(5))\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        if os.environ.get('BREAK'):\n"
        "            raise RuntimeError('broken')\n"
        "        self.total = sum(self.data)\n"
        "if __name__ == '__main__':\n"
        "    FlakyFlow()\n"
    )
    root = f"s3://{BUCKET}/{tmp_path.name}"
    failed = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path,
                     env={**s3_env, "BREAK": "1"})
    assert failed.returncode == 1
    resumed = run_cli(flow, "--datastore-root", root, "resume", cwd=tmp_path, env=s3_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Cloning results of a previously successful task FlakyFlow/1/start/1" in resumed.stdout


def test_a_missing_bucket_is_one_clear_error_before_any_task(tmp_path, s3_env) -> None:
    done = run_cli(example("linear_flow.py"), "--datastore-root", "s3://no-such-bucket/x", "run",
                   cwd=tmp_path, env=s3_env)
    assert done.returncode == 1
    assert "s3://no-such-bucket/x cannot be written" in done.stderr
    assert "Task is starting" not in done.stdout
    assert "Traceback" not in done.stderr


def test_datastore_s3_takes_metaflows_sysroot_variable(tmp_path, s3_env) -> None:
    root = f"s3://{BUCKET}/{tmp_path.name}-sysroot"
    done = run_cli(example("linear_flow.py"), "--datastore", "s3", "--quiet", "run", cwd=tmp_path,
                   env={**s3_env, "METAFLOW_DATASTORE_SYSROOT_S3": root})
    assert done.returncode == 0, done.stdout + done.stderr
    assert _objects(f"{tmp_path.name}-sysroot/blobs/")


def test_datastore_s3_without_an_s3_root_says_how_to_give_one(tmp_path) -> None:
    done = run_cli(example("linear_flow.py"), "--datastore", "s3", "run", cwd=tmp_path)
    assert done.returncode == 2
    assert "--datastore s3 needs an s3:// datastore root" in done.stderr
