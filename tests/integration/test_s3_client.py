"""The ``S3`` client flows use (``from headwater import S3`` / ``from metaflow import S3``), against
two real S3 servers on loopback: moto's server and SeaweedFS."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

import servers
from headwater import S3, Flow
from headwater.s3client import S3NotFound, S3PutObject, S3URLException

from .flowrun import reset_client, run_cli, write_flow

BUCKET = "headwater-s3client"
SERVERS = {"moto": "moto_endpoint", "seaweedfs": "seaweed_endpoint"}


@pytest.fixture(params=list(SERVERS), ids=list(SERVERS))
def s3_env(request: pytest.FixtureRequest, monkeypatch) -> dict[str, str]:
    endpoint = request.getfixturevalue(SERVERS[request.param])
    env = servers.s3_env(endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    servers.make_bucket(endpoint, BUCKET)
    return env


@pytest.fixture
def root(s3_env) -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def test_put_get_and_the_objects_fields(root: str) -> None:
    with S3(s3root=root) as s3:
        url = s3.put("a/one.txt", "héllo")
        assert url == f"{root}/a/one.txt"
        s3.put("a/raw.bin", b"\x00\x01\x02", content_type="application/octet-stream",
               metadata={"origin": "test"})
        got = s3.get("a/one.txt")
        assert (got.key, got.url, got.exists, got.downloaded) == ("a/one.txt", url, True, True)
        assert got.text == "héllo" and got.blob == "héllo".encode() and got.size == 6
        assert Path(got.path).read_bytes() == "héllo".encode()
        raw = s3.get("a/raw.bin")
        assert raw.blob == b"\x00\x01\x02"
        assert raw.content_type == "application/octet-stream"
        assert raw.metadata == {"origin": "test"}
        kept = got.path
    assert not os.path.exists(kept)  # leaving the block removes the downloads


def test_missing_objects_raise_or_come_back_missing(root: str, monkeypatch) -> None:
    # headwater's own error, as a flow importing headwater gets it: not the Metaflow-shaped
    # parent raised where the process serves `metaflow` (which an earlier test may have imported)
    monkeypatch.delitem(sys.modules, "metaflow", raising=False)
    with S3(s3root=root) as s3:
        with pytest.raises(S3NotFound, match="no S3 object at .*/nothing-here"):
            s3.get("nothing-here")
        missing = s3.get("nothing-here", return_missing=True)
        assert (missing.exists, missing.downloaded, missing.blob, missing.size) == (
            False, False, None, None)
        with pytest.raises(S3NotFound):
            s3.info("nothing-here")
        assert not s3.info("nothing-here", return_missing=True).exists


def test_many_at_once_and_listing(root: str, tmp_path: Path) -> None:
    local = tmp_path / "local.csv"
    local.write_text("x,y\n1,2\n")
    with S3(s3root=root) as s3:
        written = s3.put_many([("a/0.txt", "zero"), S3PutObject("a/b/1.txt", b"one"),
                               ("a/c/2.txt", "two")])
        assert written == [("a/0.txt", f"{root}/a/0.txt"), ("a/b/1.txt", f"{root}/a/b/1.txt"),
                           ("a/c/2.txt", f"{root}/a/c/2.txt")]
        assert s3.put_files([("f/4.csv", str(local))]) == [("f/4.csv", f"{root}/f/4.csv")]
        # overwrite=False keeps what is there and reports nothing written
        assert s3.put_many([("a/0.txt", "changed")], overwrite=False) == []
        assert s3.get("a/0.txt").text == "zero"

        got = s3.get_many(["a/0.txt", "a/b/1.txt", "f/4.csv"])
        assert [o.text for o in got] == ["zero", "one", "x,y\n1,2\n"]

        level = {(o.key, o.exists) for o in s3.list_paths(["a"])}
        assert level == {("0.txt", True), ("b", False), ("c", False)}
        top = {(o.key, o.exists) for o in s3.list_paths()}
        assert top == {("a", False), ("f", False)}
        deep = sorted(o.key for o in s3.list_recursive(["a"]))
        assert deep == ["0.txt", "b/1.txt", "c/2.txt"]
        assert sorted(o.key for o in s3.list_recursive()) == [
            "a/0.txt", "a/b/1.txt", "a/c/2.txt", "f/4.csv"]

        everything = {o.key: o.text for o in s3.get_all()}
        assert everything == {"a/0.txt": "zero", "a/b/1.txt": "one", "a/c/2.txt": "two",
                              "f/4.csv": "x,y\n1,2\n"}
        infos = s3.info_many(["a/0.txt", "gone"], return_missing=True)
        assert [(i.exists, i.size, i.downloaded) for i in infos] == [
            (True, 4, False), (False, None, False)]


def test_full_urls_without_a_root_and_the_errors_that_name_the_fix(root: str) -> None:
    with S3() as s3:
        s3.put(f"{root}/plain.txt", "p")
        assert s3.get(f"{root}/plain.txt").key == f"{root}/plain.txt"
        with pytest.raises(S3URLException, match="not a full s3:// URL"):
            s3.get("plain.txt")
    with S3(s3root=root) as s3, pytest.raises(S3URLException, match="relative to the root"):
        s3.get(f"{root}/plain.txt")
    with pytest.raises(S3URLException, match="s3://BUCKET/PREFIX"):
        S3(s3root="/tmp/not-s3")


FLOW = """
from headwater import S3, FlowSpec, step


class S3DataFlow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put("table.csv", "a,b\\n1,2\\n")
            s3.put_many([("parts/0", "p0"), ("parts/1", "p1")])
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.table = s3.get("table.csv").text
            self.parts = sorted(o.key for o in s3.list_paths(["parts"]))
            self.root = s3.s3root


if __name__ == "__main__":
    S3DataFlow()
"""


def test_a_run_keeps_its_data_under_its_own_prefix(tmp_path: Path, s3_env, monkeypatch) -> None:
    flow = write_flow(tmp_path, "s3_data_flow.py", FLOW)
    store_root = f"s3://{BUCKET}/{tmp_path.name}"
    done = run_cli(flow, "--datastore-root", store_root, "run", cwd=tmp_path, env=s3_env)
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", store_root)
    reset_client()
    run = Flow("S3DataFlow").latest_run
    run_root = f"{store_root}/data/S3DataFlow/{run.id}"
    assert run.data.root == run_root and run.data.url == f"{run_root}/table.csv"
    assert run.data.table == "a,b\n1,2\n" and run.data.parts == ["0", "1"]
    with S3(run=run) as s3:  # a notebook reads the same prefix through the client's Run
        assert s3.s3root == run_root
        assert s3.get("parts/1").text == "p1"


def test_run_self_without_an_s3_root_says_how_to_give_one(tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "s3_data_flow.py", FLOW)
    done = run_cli(flow, "run", cwd=tmp_path)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "has no S3 root" in said and "METAFLOW_DATATOOLS_S3ROOT" in said
