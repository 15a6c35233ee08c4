"""Metaflow's S3 client behaviours that its own suite (``test/data/s3``) checks, against moto's S3
server on loopback: byte ranges and ``range_info``, ``has_info``, server-side encryption,
``S3PutObject``'s fields, listing a prefix as a folder, bad URLs, and the module paths the suite
imports. ``tools/metaflow_s3_pytests.py`` runs Metaflow's suite itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import servers
from headwater.compat.s3_names import (
    S3,
    MetaflowS3Exception,
    MetaflowS3InvalidObject,
    MetaflowS3InvalidRange,
    MetaflowS3NotFound,
    MetaflowS3URLException,
    RangeInfo,
    S3GetObject,
    S3PutObject,
)
from headwater.flow.current import current
from headwater.flow.flowspec import FlowSpec

BUCKET = "headwater-s3-behaviours"
BLOB = bytes(range(32))


@pytest.fixture
def root(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in servers.s3_env(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    servers.make_bucket(moto_endpoint, BUCKET)
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def test_byte_ranges_come_back_with_their_range_info(root: str) -> None:
    with S3(s3root=root) as s3:
        s3.put("blob", BLOB)
        cases = {(5, 10): (BLOB[5:15], RangeInfo(32, 5, 10)),
                 (None, -5): (BLOB[-5:], RangeInfo(32, 27, 5)),
                 (5, None): (BLOB[5:], RangeInfo(32, 5, 27)),
                 (0, 10 * 1024**3): (BLOB, RangeInfo(32, 0, 32)),
                 (None, None): (BLOB, RangeInfo(32, 0, 32))}
        got = s3.get_many([S3GetObject("blob", offset, length) for offset, length in cases])
        for obj, (blob, range_info) in zip(got, cases.values(), strict=True):
            assert (obj.blob, obj.size, obj.range_info, obj.has_info) == (
                blob, len(blob), range_info, True)
        bare = s3.get(S3GetObject("blob", 5, 10), return_info=False)
        assert (bare.blob, bare.range_info, bare.has_info) == (BLOB[5:15], None, False)
        with pytest.raises(MetaflowS3InvalidRange):
            s3.get(S3GetObject("blob", 100, 4))


def test_info_content_type_metadata_and_encryption(root: str) -> None:
    with S3(s3root=root) as s3:
        s3.put("plain", b"x")
        s3.put("typed", b"x", content_type="text/plain", metadata={"content-type": "text/css"})
        plain, typed = s3.info_many(["plain", "typed"])
        assert (plain.content_type, plain.metadata, plain.has_info) == (
            "binary/octet-stream", None, True)
        assert (typed.content_type, typed.metadata) == ("text/plain", {"content-type": "text/css"})
        assert not s3.get_all()[0].has_info  # get_all reads no info unless asked
    with S3(s3root=root, encryption="AES256") as s3:
        s3.put("one", b"x")
        s3.put_many([("many", b"y")])
        assert [o.encryption for o in s3.get_many(["one", "many"])] == ["AES256", "AES256"]
        assert s3.info("one").encryption == "AES256"


def test_put_object_fields_and_put_files_keep_type_and_metadata(root: str, tmp_path: Path) -> None:
    assert S3PutObject._fields == ("key", "value", "path", "content_type", "encryption",
                                   "metadata")
    (tmp_path / "data.json").write_bytes(b"{}")
    with S3(s3root=root) as s3:
        done = s3.put_files([
            S3PutObject("typed", path=str(tmp_path / "data.json"), content_type="text/x-mine",
                        metadata={"k": "v"}, encryption="AES256"),
            ("untyped.json", str(tmp_path / "data.json"))])
        assert [key for key, _ in done] == ["typed", "untyped.json"]
        typed, untyped = s3.get_many(["typed", "untyped.json"])
        assert (typed.content_type, typed.metadata, typed.encryption) == (
            "text/x-mine", {"k": "v"}, "AES256")
        assert untyped.content_type == "binary/octet-stream"  # not guessed from the name
        assert s3.put_files([("typed", str(tmp_path / "data.json"))], overwrite=False) == []


def test_list_recursive_reads_a_prefix_as_a_folder(root: str) -> None:
    with S3(s3root=root) as s3:
        s3.put_many([("log/a.txt", "a"), ("log/sub/b.txt", "b"), ("log_other/c.txt", "c")])
        assert [o.key for o in s3.list_recursive(["log"])] == ["a.txt", "sub/b.txt"]
    with S3(s3root=f"{root}/log/") as s3:
        assert [o.key for o in s3.list_recursive()] == ["a.txt", "sub/b.txt"]
        assert [o.key for o in s3.get_all()] == ["a.txt", "sub/b.txt"]


def test_bad_urls_and_values_raise_metaflows_errors(root: str) -> None:
    with S3() as s3:
        for call in (lambda: s3.get("s3://bucket-only"), lambda: s3.get("suffix"),
                     lambda: s3.get_recursive(["suffix"]), s3.get_all,
                     lambda: s3.put_many([("key", "value")])):
            with pytest.raises(MetaflowS3URLException):
                call()
        with pytest.raises(MetaflowS3InvalidObject):  # the value is checked before the key
            s3.put_many([("key", 1)])
        with pytest.raises(MetaflowS3NotFound):
            s3.put_files([("key", "/no/such/local-file")])
    with S3(s3root=root) as s3, pytest.raises(MetaflowS3URLException):
        s3.get("s3://other/address")


def test_injected_failures_are_retried_until_the_retries_run_out(root: str) -> None:
    with S3(s3root=root, inject_failure_rate=90) as s3:  # fewer on each retry: all get through
        assert len(s3.put_many([(f"k{i}", "v") for i in range(20)])) == 20
        assert len(s3.get_many([f"k{i}" for i in range(20)])) == 20
    with S3(s3root=root, inject_failure_rate=100) as s3, pytest.raises(
            MetaflowS3Exception, match="failed: 20 retries"):
        s3.put_many([("k0", "v")])


class _NamedFlow(FlowSpec):
    def __init__(self, name: str) -> None:  # as Metaflow's test doubles: no super().__init__
        self.name = name


def test_a_faked_running_flow_gives_s3_its_run_prefix(root: str) -> None:
    flow = _NamedFlow("HelloFlow")
    with pytest.raises(MetaflowS3URLException):
        S3(run=flow)
    saved = {k: v for k, v in vars(current).items() if k.startswith("_")}
    current._set_env(flow, "56", "no_step", "no_task")
    try:
        bucket, prefix = root[len("s3://"):].split("/", 1)
        with S3(bucket=bucket, prefix=prefix, run=flow) as s3:
            assert s3.s3root == f"{root}/HelloFlow/56"
    finally:
        for key in [k for k in vars(current) if k.startswith("_")]:  # as Metaflow's fixture does
            delattr(current, key)
        vars(current).update(saved)
    assert (current.is_running_flow, current.flow_name) == (False, None)


def test_the_module_paths_metaflows_suite_imports_are_served_lazily(root: str,
                                                                   tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "headwater", "shim", str(tmp_path / "shim")],
                   check=True, capture_output=True)
    script = textwrap.dedent(f"""
        import sys
        from metaflow.plugins.datatools.s3.s3util import get_s3_client
        from metaflow.plugins.datatools.s3.s3op import generate_local_path
        from metaflow.plugins.datatools.s3 import s3 as s3_module
        from metaflow.util import to_bytes, to_fileobj, url_quote, url_unquote, unicode_type
        assert not any(m.split(".")[0] in ("boto3", "botocore", "s3fs") for m in sys.modules)
        client, error = get_s3_client()
        client.put_object(Bucket={BUCKET!r}, Key="k", Body=to_fileobj("v").read())
        assert client.get_object(Bucket={BUCKET!r}, Key="k")["Body"].read() == b"v"
        assert url_unquote(url_quote("s3://b/\\u523a x")) == "s3://b/\\u523a x"
        assert len(generate_local_path("s3://b/" + "x" * 400)) <= 255
        assert s3_module.S3 is not None and unicode_type is str and to_bytes(1.5) == b"1.5"
    """)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shim")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_role_is_assumed_through_sts_and_its_credentials_sign_the_requests(root: str) -> None:
    import boto3

    iam = boto3.client("iam")  # moto's, as every client here (the root fixture's environment)
    role = iam.create_role(RoleName=f"reader-{uuid.uuid4().hex[:8]}",
                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    with S3(s3root=root, role=role) as s3:
        s3.put("blob", BLOB)
        assert s3.get("blob").blob == BLOB
        # The filesystem signs with the role's temporary credentials, not the machine's own.
        assert s3.fs.key != os.environ["AWS_ACCESS_KEY_ID"] and s3.fs.token
    with pytest.raises(MetaflowS3Exception, match="could not assume the role 'not-an-arn'"):
        S3(s3root=root, role="not-an-arn").get("blob")


def test_session_vars_reach_the_botocore_session(root: str) -> None:
    # Metaflow hands session_vars to botocore.session.Session(session_vars=...) as they are.
    region = ("region", "HW_TEST_S3_REGION", "eu-north-1", None)
    with S3(s3root=root, session_vars={"region": region}) as s3:
        s3.put("blob", BLOB)
        assert s3.get("blob").blob == BLOB
        assert s3.fs.session.get_config_variable("region") == "eu-north-1"
