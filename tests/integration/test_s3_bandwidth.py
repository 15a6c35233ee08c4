"""``HEADWATER_S3_MAX_BANDWIDTH`` against a real S3 server (moto's, on loopback): the ``S3`` client
and a run's blobs keep to the cap, and a value that is no rate stops a run before any task."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

import servers

from .flowrun import run_cli, write_flow

BUCKET = "headwater-bandwidth"
RATE = 1_000_000  # bytes per second: 1MB/s
SIZE = 1_500_000  # each way: one second of burst, then the cap


@pytest.fixture
def s3_env(moto_endpoint) -> dict[str, str]:
    servers.make_bucket(moto_endpoint, BUCKET)
    return servers.s3_env(moto_endpoint)


CLIENT = """
import json, os, sys, time
from headwater import S3
from headwater.store.bandwidth import s3_limit
root, size = sys.argv[1], int(sys.argv[2])
payload = os.urandom(size)
began = time.monotonic()
with S3(s3root=root) as s3:
    s3.put("big.bin", payload)
    same = s3.get("big.bin").blob == payload
took = time.monotonic() - began
cap = s3_limit()
print(json.dumps({"same": same, "took": took, "moved": cap.moved if cap else None}))
"""


def test_the_s3_client_keeps_to_the_cap(s3_env, tmp_path) -> None:
    root = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    env = {**s3_env, "HEADWATER_S3_MAX_BANDWIDTH": "1MB/s"}
    done = subprocess.run([sys.executable, "-c", CLIENT, root, str(SIZE)], capture_output=True,
                          text=True, env={**_base_env(), **env}, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["same"] and said["moved"] == 2 * SIZE  # up and down, every byte counted once
    # 3 MB at 1MB/s with one second of burst cannot take less than 2 s, however fast the
    # server and however loaded the machine (a lower bound only: load makes it slower)
    assert said["took"] >= (2 * SIZE - RATE) / RATE * 0.95


def test_a_runs_blobs_go_through_the_cap(s3_env, tmp_path) -> None:
    flow = write_flow(tmp_path, "big_flow.py", """
        import os
        from headwater import FlowSpec, step
        from headwater.store.bandwidth import s3_limit

        class BigFlow(FlowSpec):
            @step
            def start(self):
                self.blob = os.urandom(1_500_000)
                self.next(self.end)

            @step
            def end(self):
                assert len(self.blob) == 1_500_000  # read from the bucket in this task
                print("moved", s3_limit().moved, "rate", s3_limit().rate)
        if __name__ == "__main__":
            BigFlow()
    """)
    root = f"s3://{BUCKET}/{tmp_path.name}"
    done = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path,
                   env={**s3_env, "HEADWATER_S3_MAX_BANDWIDTH": "5MB/s"})
    assert done.returncode == 0, done.stdout + done.stderr
    moved = [line for line in done.stdout.splitlines() if "moved" in line]
    assert moved, done.stdout
    count = int(moved[0].split("moved ")[1].split()[0])
    assert count >= 1_500_000 and "rate 5000000.0" in moved[0]


def test_a_value_that_is_no_rate_stops_the_run_before_any_task(s3_env, tmp_path) -> None:
    flow = write_flow(tmp_path, "tiny_flow.py", """
        from headwater import FlowSpec, step

        class TinyFlow(FlowSpec):
            @step
            def start(self):
                print("start ran")
                self.next(self.end)

            @step
            def end(self):
                pass
        if __name__ == "__main__":
            TinyFlow()
    """)
    root = f"s3://{BUCKET}/{tmp_path.name}"
    done = run_cli(flow, "--datastore-root", root, "run", cwd=tmp_path,
                   env={**s3_env, "HEADWATER_S3_MAX_BANDWIDTH": "fast"})
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "HEADWATER_S3_MAX_BANDWIDTH='fast'" in said and "50MB/s" in said
    assert "start ran" not in said and "Traceback" not in said


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
