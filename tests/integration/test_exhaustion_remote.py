"""Running out, on the scale-out path: the S3 datastore, PostgreSQL metadata, a Dask cluster.

Each case is provoked for real against real servers (tests/servers.py): an S3 server reached
through a proxy this test can silence or cut (tests/netproxy.py), and whose credentials it can
revoke, and SeaweedFS on a tmpfs that fills up; PostgreSQL with a lock held by another client,
a low statement_timeout, a full set of connections; a Dask cluster without workers, or whose
worker has a memory limit. Each run
must end (never hang) with one message naming what failed and the fix, leave nothing that reads
back wrong, and be finished by ``resume`` once the resource is back. The flow is
``flows/faults/remote_gate_flow.py``: its ``work`` step waits at a gate, then stores a blob.
See docs/reliability.md, "Running out on the remote backends".
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import textwrap

import psycopg
import pytest

import netproxy
import servers
from headwater import Flow

from .faultkit import LiveRun, client, cloned, fault_flow, hw, no_headwater_traceback

FLOW = fault_flow("remote_gate_flow.py")
READY = r"READY pid=(?P<pid>\d+)"
END_LINE = "end read: made by start / made by work"
_names = itertools.count()


def gated(folder, **env: str) -> tuple[LiveRun, str]:
    """A run whose ``work`` waits for the returned gate file; returns once it waits there."""
    gate = os.path.join(str(folder), "gate")
    live = LiveRun(FLOW, "run", cwd=folder, GATE=gate, **env)
    try:
        live.wait_for(READY)
    except BaseException:
        live.kill()
        raise
    return live, gate


def open_gate(gate: str) -> None:
    with open(gate, "w"):
        pass


def ended_clearly(live: LiveRun, *phrases: str) -> str:
    """The run ended with exit status 1 and one message holding ``phrases``; its output."""
    code = live.finish()
    said = live.output + live.stderr
    assert code == 1, said
    for phrase in phrases:
        assert phrase in said, f"{phrase!r} not in:\n{said}"
    assert "Traceback" not in said and no_headwater_traceback(said), said
    assert "Done!" not in live.output, said
    return said


def resume_finishes(folder, **env: str) -> str:
    """``resume`` clones ``start``, runs the rest and succeeds; its output."""
    proc = hw(FLOW, "resume", cwd=folder, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cloned(proc.stdout).values()) == ["RemoteGateFlow/1/start/1"]
    assert END_LINE in proc.stdout
    return proc.stdout


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture
def database(pg_server) -> str:
    """A fresh database on the shared server; its URL."""
    name = f"exhaust_{os.getpid()}_{next(_names)}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_server.rsplit("/", 1)[0] + "/" + name


def _statuses(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT run_number, status FROM runs").fetchall()
    return {str(n): s for n, s in rows}


@pytest.mark.parametrize("limit", ["lock_timeout", "statement_timeout"])
def test_a_lock_another_postgres_client_holds_ends_the_run_clearly_and_resume_finishes(
        tmp_path, database, limit):
    """PostgreSQL waits for a lock for ever; headwater's own lock_timeout (or the server's
    statement_timeout, when lower) ends the wait with the holder named."""
    env = {"HEADWATER_METADATA": database}
    if limit == "lock_timeout":
        env["HEADWATER_METADATA_LOCK_TIMEOUT_S"] = "2"
    else:
        with psycopg.connect(database, autocommit=True) as admin:
            name = database.rsplit("/", 1)[1]
            admin.execute(f"ALTER DATABASE \"{name}\" SET statement_timeout = '2s'")
    live, gate = gated(tmp_path, **env)
    holder = psycopg.connect(database, application_name="the-other-client")
    try:
        holder.execute("LOCK TABLE tasks IN EXCLUSIVE MODE")  # held until rolled back
        open_gate(gate)  # `work` ends: recording it needs that lock
        if limit == "lock_timeout":
            said = ended_clearly(live, "waited more than 2 s for a lock another client holds",
                                 f"pid {holder.info.backend_pid}", "the-other-client",
                                 "HEADWATER_METADATA_LOCK_TIMEOUT_S", "resume")
        else:
            said = ended_clearly(live, "ran longer than the server's statement_timeout (2s)",
                                 "the-other-client", "ALTER ROLE", "resume")
        assert "Metadata error" in said
    finally:
        live.kill()
        holder.rollback()
        holder.close()
    if limit == "statement_timeout":
        with psycopg.connect(database, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE \"{database.rsplit('/', 1)[1]}\" RESET "
                          "statement_timeout")
    assert _statuses(database)["1"] in ("failed", "running")  # never "succeeded"
    resume_finishes(tmp_path, **env)
    assert _statuses(database) == {"1": _statuses(database)["1"], "2": "succeeded"}


def test_a_lock_held_for_a_moment_is_waited_for(tmp_path, database):
    env = {"HEADWATER_METADATA": database, "HEADWATER_METADATA_LOCK_TIMEOUT_S": "120"}
    live, gate = gated(tmp_path, **env)
    holder = psycopg.connect(database)
    try:
        holder.execute("LOCK TABLE tasks IN EXCLUSIVE MODE")
        open_gate(gate)
        with psycopg.connect(database, autocommit=True) as watcher:  # the scheduler waits
            deadline_ok = _wait_for_lock_waiter(watcher)
        assert deadline_ok, "the scheduler never waited for the lock"
        holder.rollback()
        assert live.finish() == 0, live.output + live.stderr
    finally:
        live.kill()
        holder.close()
    assert "Done! Run RemoteGateFlow/1 succeeded." in live.output


def _wait_for_lock_waiter(conn: psycopg.Connection) -> bool:
    from .faultkit import wait_until

    def waiting() -> bool:
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "wait_event_type = 'Lock' AND datname = current_database()"
                                 ).fetchall()[0][0])

    wait_until(waiting, "a session waiting for the lock")
    return True


def test_a_postgres_server_with_no_connection_left_is_one_clear_error(tmp_path):
    """Every slot of max_connections taken (superuser slots too): the run cannot record
    anything, so it is refused at launch with the limit named; once a slot is free it runs."""
    with servers.postgres("-c max_connections=6 -c superuser_reserved_connections=1") as url:
        hogs = [psycopg.connect(url) for _ in range(6)]
        try:
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(url)  # full, as the test means it
            proc = hw(FLOW, "run", cwd=tmp_path, HEADWATER_METADATA=url)
            said = proc.stdout + proc.stderr
            assert proc.returncode == 1, said
            assert "no connection left for this client (max_connections reached" in said, said
            assert "pg_stat_activity" in said and "PgBouncer" in said, said
            assert "Traceback" not in said and no_headwater_traceback(said), said
        finally:
            for hog in hogs:
                hog.close()
        proc = hw(FLOW, "run", cwd=tmp_path, HEADWATER_METADATA=url)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _statuses(url) == {"1": "succeeded"}


# -- Dask ------------------------------------------------------------------------------------------


def _code_copy(tmp_path) -> str:
    """The flow in a folder of its own: the Dask executor ships that folder to the workers."""
    code = tmp_path / "code"
    code.mkdir()
    return shutil.copy(FLOW, code)


def test_a_dask_cluster_without_workers_ends_the_run_clearly_and_resume_finishes(tmp_path):
    """Dask keeps a task queued for ever when no worker is there to take it."""
    flow = _code_copy(tmp_path)
    with servers.dask_cluster(tmp_path / "dask", {}) as cluster:
        env = {"HEADWATER_EXECUTOR": "dask", "HEADWATER_DASK_ADDRESS": cluster.address,
               "HEADWATER_DASK_NO_WORKERS_S": "3"}
        proc = hw(flow, "run", cwd=tmp_path, **env)
        said = proc.stdout + proc.stderr
        assert proc.returncode == 1, said
        assert f"no Dask worker is connected to the scheduler at {cluster.address}" in said
        assert f"no Dask worker was connected to the scheduler at {cluster.address} for 3 s" \
            in said, said
        assert "step(s) start" in said and f"dask worker {cluster.address}" in said, said
        assert "resume" in said and "HEADWATER_DASK_NO_WORKERS_S" in said, said
        assert "Traceback" not in said and no_headwater_traceback(said), said

        cluster.start_worker("late")  # the resource is back
        proc = hw(flow, "resume", cwd=tmp_path, **env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert END_LINE in proc.stdout
    client(tmp_path)
    first, second = sorted(Flow("RemoteGateFlow"), key=lambda r: int(r.id))
    assert not first.successful and second.successful
    assert second.data.result.startswith("made by work|")


HOG_FLOW = """
    import os
    import time

    from headwater import FlowSpec, step

    SPARE = {spare!r}


    class HogFlow(FlowSpec):
        @step
        def start(self):
            self.made = "made by start|" + "s" * 4096
            self.next(self.hog)

        @step
        def hog(self):
            held = bytearray(400 * 2**20)
            for at in range(0, len(held), 4096):  # touch every page: resident, not reserved
                held[at] = 1
            deadline = time.monotonic() + 600  # computing, holding it all (the worker's check
            while not os.path.exists(SPARE) and time.monotonic() < deadline:  # is a poll)
                time.sleep(0.05)
            self.size = len(held)
            self.next(self.end)

        @step
        def end(self):
            print("held", self.size)


    if __name__ == "__main__":
        HogFlow()
"""


def test_a_step_over_the_dask_workers_memory_limit_is_stopped_named_and_resume_finishes(
        tmp_path):
    """Dask's nanny watches the worker's own process; a task runs in a process beside it, so
    the worker's limit is enforced on the task by the worker (95 %, the nanny's bound)."""
    code = tmp_path / "code"
    code.mkdir()
    flow = code / "hog_flow.py"
    spare = tmp_path / "spare"
    flow.write_text(textwrap.dedent(HOG_FLOW).format(spare=str(spare)))
    with servers.dask_cluster(tmp_path / "dask", {}) as cluster:
        cluster.start_worker("small", options=("--memory-limit", "250MB"))
        env = {"HEADWATER_EXECUTOR": "dask", "HEADWATER_DASK_ADDRESS": cluster.address}
        proc = hw(flow, "run", cwd=tmp_path, **env)
        said = proc.stdout + proc.stderr
        assert proc.returncode == 1, said
        assert re.search(r"TaskCrashed: the task's process used [\d,]+ MiB, over what the Dask "
                         r"worker small allows \(95 % of its --memory-limit: 2\d\d MiB\)", said), said
        assert "@resources(memory=...)" in said and "resume" in said, said
        assert "Traceback" not in said and no_headwater_traceback(said), said

        cluster.stop_worker("small")
        cluster.start_worker("big", options=("--memory-limit", "4GB"))  # the resource is back
        spare.touch()  # this time the step holds its memory only as long as it takes
        proc = hw(flow, "resume", cwd=tmp_path, **env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert list(cloned(proc.stdout).values()) == ["HogFlow/1/start/1"]
        assert f"held {400 * 2**20}" in proc.stdout


# -- S3 --------------------------------------------------------------------------------------------

BUCKET = "headwater-exhaust"


@pytest.fixture
def s3(moto_endpoint, tmp_path):
    """moto's S3 server behind a proxy the test can silence or cut; the run's environment."""
    servers.make_bucket(moto_endpoint, BUCKET)
    host, port = moto_endpoint.rsplit("/", 1)[1].split(":")
    proxy = netproxy.Proxy((host, int(port)))
    env = {**servers.s3_env(proxy.endpoint),
           "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}",
           "HEADWATER_S3_TIMEOUT_S": "2"}
    try:
        yield proxy, env
    finally:
        proxy.close()


@pytest.mark.parametrize("fault", ["silent", "down"])
def test_an_s3_server_silent_or_gone_mid_run_ends_the_run_clearly_and_resume_finishes(
        tmp_path, s3, fault):
    """A server that stops answering (a black hole: botocore's own waits let one write hang a
    run for ever) or stops altogether, just before ``work`` stores its blob."""
    proxy, env = s3
    live, gate = gated(tmp_path, **env)
    try:
        proxy.set(fault)
        open_gate(gate)
        if fault == "silent":
            said = ended_clearly(live, "cannot save artifact 'result' of task RemoteGateFlow/1/work/2",
                                 "did not answer in time", "HEADWATER_S3_TIMEOUT_S",
                                 "then `resume` the run")
        else:
            said = ended_clearly(live, "cannot save artifact 'result' of task RemoteGateFlow/1/work/2",
                                 "could not be reached", "AWS_ENDPOINT_URL",
                                 "then `resume` the run")
        assert "Run RemoteGateFlow/1 failed" in said
    finally:
        live.kill()
    proxy.set("pass")  # the server is back
    resume_finishes(tmp_path, **env)


def _moto_auth(endpoint: str, count: str) -> None:
    """moto checks credentials against its IAM from now on ("0"), or never again ("inf")."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
        reply.read()


def _iam(endpoint: str, key: dict[str, str] | None = None):
    import boto3

    creds = ({"aws_access_key_id": key["AccessKeyId"],
              "aws_secret_access_key": key["SecretAccessKey"]} if key else
             {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **creds)


def _policy(*actions: str) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


def _key_env(key: dict[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.mark.parametrize("fault", ["key_revoked", "made_read_only"])
def test_s3_credentials_revoked_or_made_read_only_mid_run_end_it_clearly_and_resume_finishes(
        tmp_path, moto_endpoint, fault):
    """moto checking credentials against its IAM: the run's access key is deleted (as an
    expired or rotated key is), or its policy cut to reading, while ``work`` waits."""
    servers.make_bucket(moto_endpoint, BUCKET)
    user = f"runner-{next(_names)}"
    admin = _iam(moto_endpoint)
    admin.create_user(UserName=user)
    admin.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_policy("*"))
    key = admin.create_access_key(UserName=user)["AccessKey"]
    spare = admin.create_access_key(UserName=user)["AccessKey"]
    env = {**servers.s3_env(moto_endpoint), **_key_env(key),
           "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}"}
    _moto_auth(moto_endpoint, "0")
    try:
        live, gate = gated(tmp_path, **env)
        try:
            iam = _iam(moto_endpoint, spare)
            if fault == "key_revoked":
                iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
                phrases = ("InvalidAccessKeyId", "no longer accepts this process's credentials",
                           "AWS_SESSION_TOKEN")
            else:
                iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_policy(
                    "s3:GetObject", "s3:ListBucket", "s3:HeadObject", "iam:*"))
                phrases = ("AccessDenied", "may not write to the datastore", "s3:PutObject")
            open_gate(gate)
            ended_clearly(live, "cannot save artifact 'result' of task RemoteGateFlow/1/work/2",
                          *phrases, "then `resume` the run")
        finally:
            live.kill()
        if fault == "made_read_only":
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_policy("*"))
        resume_finishes(tmp_path, **{**env, **_key_env(spare)})  # renewed credentials
    finally:
        _moto_auth(moto_endpoint, "inf")


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs of this test's own (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_an_s3_server_out_of_disk_mid_run_ends_the_run_and_resume_finishes_once_freed(
        tmp_path, small_disk):
    """SeaweedFS (a real object store writing to disk) on a tmpfs that fills up while ``work``
    waits; freeing space (a ballast file on the same disk) lets ``resume`` finish."""
    import boto3

    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (24 * 2**20))
    with servers.seaweedfs_s3(small_disk / "weed") as endpoint:
        servers.make_bucket(endpoint, BUCKET)
        env = {**servers.s3_env(endpoint),
               "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}"}
        live, gate = gated(tmp_path, **env)
        try:
            from botocore.config import Config

            filler = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                                  aws_secret_access_key="testing", region_name="us-east-1",
                                  config=Config(retries={"max_attempts": 1}))
            for size in (2**20, 2**16, 2**12):  # until the server refuses even 4 KiB
                for number in range(2000):
                    try:
                        filler.put_object(Bucket=BUCKET, Key=f"filler/{size}/{number}",
                                          Body=os.urandom(size))
                    except Exception:  # noqa: BLE001 - the refusal is what we wait for
                        break
                else:
                    raise AssertionError(f"the server took 2000 more objects of {size} bytes")
            open_gate(gate)
            ended_clearly(live, "cannot save artifact 'result' of task RemoteGateFlow/1/work/2",
                          "InternalError", "is there space?", "then `resume` the run")
        finally:
            live.kill()
        ballast.unlink()  # room again
        resume_finishes(tmp_path, **env)
