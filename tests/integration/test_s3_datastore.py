"""Blobs in S3: runs, the client and resume against two real S3 servers on loopback: moto's
server and SeaweedFS (``weed mini``, an object store that keeps its data on disk)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3
import numpy as np
import pytest

import servers
from headwater import Flow, Run
from headwater.exceptions import StoreError
from headwater.store import DataStore, open_datastore, open_storage
from headwater.store.datastore import blob_path
from headwater.store.storage import S3_PART_SIZE, S3Storage

from .faultkit import no_headwater_traceback
from .flowrun import example, reset_client, run_cli, start_cli, task_lines, write_flow

BUCKET = "headwater-test"
SERVERS = {"moto": "moto_endpoint", "seaweedfs": "seaweed_endpoint"}


@pytest.fixture(params=list(SERVERS), ids=list(SERVERS))
def s3_endpoint(request: pytest.FixtureRequest) -> str:
    """The endpoint URL of each real S3 server in turn (both started once per session)."""
    return request.getfixturevalue(SERVERS[request.param])


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch) -> dict[str, str]:
    env = servers.s3_env(s3_endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    servers.make_bucket(s3_endpoint, BUCKET)
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
    # Blobs, plus the run's graph the web UI draws (graphs/FLOW/RUN.json): nothing else.
    blobs = [k for k in keys if k.startswith(f"{tmp_path.name}/blobs/")]
    assert blobs and set(keys) - set(blobs) == {f"{tmp_path.name}/graphs/ForeachFlow/1.json"}
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


def test_cards_are_kept_in_s3_and_read_back(tmp_path, s3_env, monkeypatch) -> None:
    from headwater.cards import get_cards

    from .flowrun import flow_file

    root = f"s3://{BUCKET}/{tmp_path.name}"
    done = run_cli(flow_file("cards/report_flow.py"), "--datastore-root", root, "run",
                   cwd=tmp_path, env=s3_env)
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", root)
    reset_client()
    cards = get_cards(Flow("ReportFlow").latest_run["start"].task)
    assert len(cards) == 1 and "Training report" in cards[0].html
    assert cards[0].path == f"{root}/{blob_path(cards[0].hash)}"
    assert f"{tmp_path.name}/{blob_path(cards[0].hash)}" in _objects(tmp_path.name)


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
    assert "does not exist" in done.stderr  # whatever the server's word for it
    assert "Task is starting" not in done.stdout
    assert "Traceback" not in done.stderr


def test_datastore_s3_takes_metaflows_sysroot_variable(tmp_path, s3_env) -> None:
    root = f"s3://{BUCKET}/{tmp_path.name}-sysroot"
    done = run_cli(example("linear_flow.py"), "--datastore", "s3", "--quiet", "run", cwd=tmp_path,
                   env={**s3_env, "METAFLOW_DATASTORE_SYSROOT_S3": root})
    assert done.returncode == 0, done.stdout + done.stderr
    assert _objects(f"{tmp_path.name}-sysroot/blobs/")


@pytest.mark.parametrize("variable", ["HEADWATER_DATASTORE", "METAFLOW_DEFAULT_DATASTORE"])
def test_the_datastore_kind_from_the_environment(tmp_path, s3_env, variable) -> None:
    root = f"s3://{BUCKET}/{tmp_path.name}-env"
    done = run_cli(example("linear_flow.py"), "--quiet", "run", cwd=tmp_path,
                   env={**s3_env, variable: "s3", "METAFLOW_DATASTORE_SYSROOT_S3": root})
    assert done.returncode == 0, done.stdout + done.stderr
    assert _objects(f"{tmp_path.name}-env/blobs/")
    assert not (tmp_path / ".headwater" / "blobs").exists()


def test_datastore_s3_without_an_s3_root_says_how_to_give_one(tmp_path) -> None:
    done = run_cli(example("linear_flow.py"), "--datastore", "s3", "run", cwd=tmp_path)
    assert done.returncode == 2
    assert "--datastore s3 needs an s3:// datastore root" in done.stderr


# -- Large blobs: multipart uploads and ranged downloads, several parts in flight ----------------


def _client() -> Any:
    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def _uploads(prefix: str) -> list[dict]:
    """Multipart uploads begun under ``prefix`` and neither completed nor aborted."""
    return _client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])


class InFlight:
    """Counts the calls of one S3 operation under way at once, from botocore's own events."""

    def __init__(self, storage: S3Storage, operation: str) -> None:
        self.now = self.most = self.calls = 0
        events = storage.fs.s3.meta.events
        events.register(f"before-call.s3.{operation}", self._started)
        events.register(f"after-call.s3.{operation}", self._ended)

    def _started(self, **_: Any) -> None:
        self.calls += 1
        self.now += 1
        self.most = max(self.most, self.now)

    def _ended(self, **_: Any) -> None:
        self.now -= 1


def test_a_large_blob_goes_up_in_parts_side_by_side_and_comes_back_whole(tmp_path,
                                                                          s3_env) -> None:
    prefix = f"{tmp_path.name}-large"
    store = open_datastore(f"s3://{BUCKET}/{prefix}")
    storage = store.storage
    assert isinstance(storage, S3Storage)
    storage.exists_many(["warm-up"])  # the client exists from here on: watch its calls
    uploads, downloads = InFlight(storage, "UploadPart"), InFlight(storage, "GetObject")

    array = np.random.default_rng(5).integers(0, 256, 200 * 2**20 + 12345, dtype=np.uint8)
    ref = store.save_artifact(array, name="big", where="1/start/1")
    parts = -(-ref.size // S3_PART_SIZE)
    assert parts >= 13 and uploads.calls == parts
    assert uploads.most > 1  # parts went up side by side

    # One object, made of those parts: S3's multipart ETag ends in "-<parts>".
    key = f"{prefix}/{blob_path(ref.key)}"
    head = _client().head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].strip('"').endswith(f"-{parts}")
    assert head["ContentLength"] == ref.size
    assert _client().head_object(Bucket=BUCKET, Key=key, PartNumber=1)["PartsCount"] == parts
    assert _uploads(prefix) == []  # completed, nothing left open
    assert _objects(prefix) == [key]

    loaded = store.load_artifact(ref, name="big", where="1/start/1")
    assert np.array_equal(loaded, array)
    # One ranged GET per part: the first tells the size, the others go side by side.
    assert downloads.calls == parts and downloads.most > 1
    loaded[0] ^= 1  # the buffer is the caller's own, as from a local memory map

    # Existence of many blobs: one call, whatever exists among them.
    small = store.save_bytes(b"small blob")
    absent = [f"{i:032x}" for i in range(40)]
    assert store.has_many([ref.key, small.key, *absent]) == {ref.key, small.key}
    assert storage.exists_many([blob_path(ref.key), blob_path(small.key)] + absent) == {
        blob_path(ref.key), blob_path(small.key)}
    _client().delete_object(Bucket=BUCKET, Key=key)  # moto keeps objects in this process


def test_small_and_empty_blobs_take_one_request_each_way(tmp_path, s3_env) -> None:
    store = open_datastore(f"s3://{BUCKET}/{tmp_path.name}-small")
    storage = store.storage
    storage.exists_many(["warm-up"])
    puts, gets = InFlight(storage, "PutObject"), InFlight(storage, "GetObject")
    for data in (b"", b"x", os.urandom(S3_PART_SIZE - 1), os.urandom(S3_PART_SIZE + 1)):
        ref = store.save_bytes(data)
        before = gets.calls
        assert store.load_bytes(ref.key, what="a test blob") == data
        assert gets.calls - before == (1 if len(data) <= S3_PART_SIZE else 2)
    assert puts.calls == 4  # under two parts: one PUT each


MEMORY_CHILD = """
import os, sys
from headwater.store.storage import S3Storage

def peak() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

root, what, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
storage = S3Storage(root, part_size=8 * 2**20, concurrency=4)
storage.exists_many(["warm-up"])
if what == "put":
    data = bytearray(size)
    data[::4096] = os.urandom(len(data[::4096]))
    before = peak()
    storage.put("big", [b"head", memoryview(data), b"tail"])
else:
    before = peak() + size + 8  # the buffer a read hands back is the blob's own size
    assert storage.read("big").nbytes == size + 8
print(peak() - before)
"""


def test_a_large_transfer_holds_a_few_parts_in_memory_not_copies_of_the_blob(tmp_path,
                                                                             s3_env) -> None:
    # Each direction in a fresh process, its peak memory from the kernel: beyond the blob itself
    # (and, reading, the buffer returned), only the parts in flight (4 x 8 MiB here) may be held.
    size = 256 * 2**20
    root = f"s3://{BUCKET}/{tmp_path.name}-memory"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for what in ("put", "get"):
        done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, root, what, str(size)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        extra = int(done.stdout)
        assert extra < size // 2, f"{what}: {extra / 2**20:.0f} MiB beyond the blob"
    _client().delete_object(Bucket=BUCKET, Key=f"{tmp_path.name}-memory/big")


def test_a_refused_multipart_upload_is_aborted_and_nothing_appears(tmp_path, s3_env) -> None:
    # Both servers refuse to complete an upload whose parts (but the last) are under 5 MiB:
    # a real refusal after parts went up. The upload must be aborted, not left open.
    prefix = f"{tmp_path.name}-refused"
    store = DataStore(S3Storage(f"s3://{BUCKET}/{prefix}", part_size=2**20))
    with pytest.raises(StoreError) as refused:
        store.save_bytes(os.urandom(3 * 2**20 + 1))
    assert "EntityTooSmall" in str(refused.value)
    assert _uploads(prefix) == []
    assert _objects(prefix) == []


def test_cleanup_aborts_the_uploads_a_killed_writer_left(tmp_path, s3_env) -> None:
    prefix = f"{tmp_path.name}-leftover"
    storage = open_storage(f"s3://{BUCKET}/{prefix}")
    key = f"{prefix}/blobs/ab/ab12"
    client = _client()
    started = client.create_multipart_upload(Bucket=BUCKET, Key=key)
    client.upload_part(Bucket=BUCKET, Key=key, UploadId=started["UploadId"], PartNumber=1,
                       Body=b"half a blob")
    elsewhere = client.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}-other/blobs/x")

    assert storage.list("blobs/") == [] and storage.exists_many(["blobs/ab/ab12"]) == set()
    (left,) = _uploads(f"{prefix}/")
    age = time.time() - left["Initiated"].timestamp()  # by the server's clock (moto's is fixed)
    assert storage.cleanup_temp(older_than_s=age + 3600) == 0
    assert storage.cleanup_temp(older_than_s=-60) == 1
    assert _uploads(f"{prefix}/") == []
    assert [u["Key"] for u in _uploads(f"{prefix}-other/")] == [f"{prefix}-other/blobs/x"]
    client.abort_multipart_upload(Bucket=BUCKET, Key=f"{prefix}-other/blobs/x",
                                  UploadId=elsewhere["UploadId"])


# -- A store that refuses a write in the middle of a run ------------------------------------------

REFUSED_FLOW = """
import os
import time
from pathlib import Path

from headwater import FlowSpec, step


class RefusedFlow(FlowSpec):
    @step
    def start(self):
        self.payload = "made by start"
        self.next(self.work)

    @step
    def work(self):
        payload = self.payload  # read while the bucket is there
        go = Path(os.environ["GO_FILE"])
        print("WAITING for", go, flush=True)
        while not go.exists():
            time.sleep(0.05)
        # Over the inline limit (1 KiB), so it needs an object of its own in the bucket.
        self.result = "made by work after " + payload + "|" + "." * 2048
        self.next(self.end)

    @step
    def end(self):
        print("end read:", self.result.partition("|")[0])


if __name__ == "__main__":
    RefusedFlow()
"""


# What each server answers a write to a bucket that is gone.
STORE_SAYS = {"moto": "NoSuchBucket: The specified bucket does not exist",
              "seaweedfs": "AccessDenied: Access Denied."}


def _take_bucket_away(client: Any, bucket: str) -> dict[str, bytes]:
    """Empty ``bucket`` and delete it; return what it held, to put back later."""
    held = {}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        held[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)
    return held


def test_a_store_that_refuses_a_write_fails_the_task_with_the_stores_message(
        tmp_path, s3_endpoint, s3_env, monkeypatch, request) -> None:
    bucket = f"hw-refused-{uuid.uuid4().hex[:12]}"
    servers.make_bucket(s3_endpoint, bucket)
    root = f"s3://{bucket}/flows"
    flow = write_flow(tmp_path, "refused_flow.py", REFUSED_FLOW)
    go = tmp_path / "go"
    env = {**s3_env, "GO_FILE": str(go)}
    proc = start_cli(flow, "--datastore-root", root, "run", cwd=tmp_path, env=env)
    try:
        for line in proc.stdout:  # `work` has started: `start` stored its artifacts
            if "WAITING for" in line:
                break
        else:
            raise AssertionError(f"the run ended before `work` waited:\n{proc.stderr.read()}")
        client = _client()
        held = _take_bucket_away(client, bucket)
        go.touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 1, out + err
    said = [t.text for t in task_lines(out) if t.step == "work"]
    refusal = next((t for t in said if "cannot save artifact 'result'" in t), None)
    assert refusal is not None, out + err
    assert "RefusedFlow/1/work/" in refusal  # the task's pathspec names the step
    assert STORE_SAYS[request.node.callspec.params["s3_endpoint"]] in refusal  # the store's words
    assert "bucket does not exist" in refusal or f"bucket {bucket} does not exist" in refusal
    assert "then `resume` the run" in out  # ... and what to do about it
    assert said[-1] == "Task failed."
    assert no_headwater_traceback(out + err) and "Traceback" not in out + err

    # The run is recorded failed in the local metadata, which outlives the bucket.
    db = sqlite3.connect(f"file:{tmp_path / '.headwater' / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        (status,) = db.execute("SELECT status FROM runs WHERE flow = 'RefusedFlow'").fetchone()
    finally:
        db.close()
    assert status == "failed"

    # The bucket comes back (with what it held): resume clones `start` and finishes the run.
    client.create_bucket(Bucket=bucket)
    for key, data in held.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)
    resumed = run_cli(flow, "--datastore-root", root, "resume", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Cloning results of a previously successful task RefusedFlow/1/start/1" in \
        resumed.stdout
    assert "end read: made by work after made by start" in resumed.stdout

    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", root)
    reset_client()
    origin = Run("RefusedFlow/1")
    assert origin.finished and origin.status == "failed"
    failure = origin["work"].task.exception
    assert failure.type_name == "StoreError"
    assert "cannot save artifact 'result'" in failure.message
    assert STORE_SAYS[request.node.callspec.params["s3_endpoint"]] in failure.message
    run = Flow("RefusedFlow").latest_run
    assert run.successful and run.origin_run_id == origin.id
    assert run["end"].task.data.result.partition("|")[0] == "made by work after made by start"
