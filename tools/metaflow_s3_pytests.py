"""Metaflow's S3 client suite (``test/data/s3``) against a moto S3 server on loopback.

    python tools/metaflow_s3_pytests.py --snapshot GITDIR --python PY [--metaflow] [-k EXPR]
                                        [-- PYTEST ARGS]

The suite expects a bucket holding its synthetic data at ``METAFLOW_S3_TEST_ROOT``; on first use
its ``s3_data`` module uploads everything, a 5 GiB object included, unless an ``ALL_OK`` marker
is there. This script (run with an interpreter that has moto and boto3, e.g. headwater's test
venv) starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1, makes the bucket, writes the
marker, uploads the data the selected tests read (every case but ``5gb_file`` and
``3000_files``, which Metaflow's own MinIO job deselects too) with the suite's own data
generator, then runs pytest on ``data/s3`` with the interpreter under test. The server stops
with the script.

As in :mod:`metaflow_pytests` (whose helpers this reuses), ``--python`` is the interpreter under
test: with headwater in it, a shim makes ``import metaflow`` headwater; with ``--metaflow`` it
is taken to have real Metaflow. It needs pytest and numpy. The benchmark tests need the
pytest-benchmark plugin and are deselected (``-k`` adds to that selection). The last line
printed is ``metaflow-s3-pytests: P passed, F failed, E errors, S skipped``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metaflow_pytests import _COUNT, _environment, _extract_tests  # noqa: E402

BUCKET = "metaflow-test"
ROOT = f"s3://{BUCKET}/metaflow/"
DESELECT = "not benchmark and not 5gb_file and not 3000_files"
SKIPPED_DATA = ("5gb_file", "3000_files")

# Runs in the interpreter under test, in test/: the suite's own generator makes the bytes, so
# the data are exactly those its s3_data module would upload (metadata variants included).
_SEED = f"""
import json, os
from urllib.parse import urlparse
from data import s3client, S3ROOT
mark = urlparse(os.path.join(S3ROOT, "ALL_OK"))
s3client.put_object(Bucket=mark.netloc, Key=mark.path.lstrip("/"), Body=b"ok")
from data.s3 import s3_data as d  # finds ALL_OK, so it uploads nothing itself

def upload(key, source, content_type=None, meta=None):
    url = urlparse(os.path.join(S3ROOT, key))
    extra = {{}}
    if content_type:
        extra["ContentType"] = content_type
    if meta:
        extra["Metadata"] = {{"metaflow-user-attributes": json.dumps(meta)}}
    s3client.upload_fileobj(source.fileobj(), url.netloc, url.path.lstrip("/"),
                            ExtraArgs=extra or None)

cases = [(p, s, None) for p, s in d.BIG_DATA + d.FAKE_RUN_DATA if p not in {SKIPPED_DATA!r}]
cases += [(p, s, d.BASIC_METADATA) for p, s in d.BASIC_DATA]
count = 0
for prefix, specs, metas in cases:
    for name, size in specs.items():
        if size is None:
            continue
        source = d.RandomFile(prefix, name, size)
        upload(source.key, source)
        count += 1
        for suffix, (content_type, meta) in (metas or {{}}).items():
            upload(f"{{source.key}}_{{suffix}}", source, content_type, meta)
            count += 1
print(f"seeded {{count}} objects under {{S3ROOT}}")
"""


# A pytest plugin for the run: the deselected 5 GiB case would still be generated (and hashed)
# while the tests are collected, 5 GiB of memory and a minute; it is made 1 byte instead.
_PLUGIN = """
import os, sys
sys.path.insert(0, os.getcwd())
from data.s3 import s3_data
s3_data.BIG_DATA[:] = [(p, {n: 1 for n in s}) if p == "5gb_file" else (p, s)
                       for p, s in s3_data.BIG_DATA]
s3_data.BENCHMARK_LARGE_FILE = ("5gb_file", {"5gb_file": 1})
"""


def _start_moto() -> tuple[object, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="git dir of Metaflow's repository")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--python", default=sys.executable, help="the interpreter under test")
    parser.add_argument("--metaflow", action="store_true",
                        help="the interpreter has real Metaflow (baseline): write no shim")
    parser.add_argument("-k", dest="select", help="further pytest -k selection")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    server, endpoint = _start_moto()
    try:
        with tempfile.TemporaryDirectory(prefix="mf-s3-pytests-") as scratch_name:
            scratch = Path(scratch_name)
            tests = _extract_tests(args.snapshot, args.rev, scratch)
            env = _environment(args.python, scratch, args.metaflow)
            env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                       AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                       AWS_ENDPOINT_URL=endpoint, AWS_ENDPOINT_URL_S3=endpoint,
                       METAFLOW_S3_TEST_ROOT=ROOT, METAFLOW_DATASTORE_SYSROOT_S3=ROOT)
            import boto3

            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id="testing",
                         aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
            subprocess.run([args.python, "-c", _SEED], cwd=tests, env=env, check=True)
            (scratch / "plugins").mkdir()
            (scratch / "plugins" / "mf_s3_small_data.py").write_text(_PLUGIN)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (env.get("PYTHONPATH"), str(scratch / "plugins")) if p)
            select = DESELECT + (f" and ({args.select})" if args.select else "")
            cmd = [args.python, "-m", "pytest", "data/s3", "-q", "-p", "no:cacheprovider",
                   "-p", "mf_s3_small_data", "-k", select, *args.pytest_args]
            proc = subprocess.Popen(cmd, cwd=tests, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            lines = []
            for line in proc.stdout:  # type: ignore[union-attr]
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
            proc.wait()
    finally:
        server.stop()
    lines = [line for line in lines if line.strip()]
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for number, kind in _COUNT.findall(lines[-1] if lines else ""):
        kind = "errors" if kind.startswith("error") else kind
        if kind in counts:
            counts[kind] += int(number)
    print(f"metaflow-s3-pytests: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['errors']} errors, {counts['skipped']} skipped")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    sys.exit(main())
