"""The whole team setup at once: tasks on Dask, blobs in S3, metadata in PostgreSQL.

Every piece is a real server on loopback (tests/conftest.py): a ``dask scheduler`` with two
workers (configured with the S3 credentials, as a cluster's workers would be), moto's S3 server
and PostgreSQL 15. The flows are chosen with environment variables only, as a user switching
setups would; the runs are read back by the client in *another process*, in another folder,
that knows nothing but the metadata URL and the datastore root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

import servers

from .flowrun import background, example, hermetic_env, task_lines, wait_for_file, write_flow

BUCKET = "headwater-team"


@pytest.fixture
def team(pg_server, moto_endpoint, dask_cluster, tmp_path) -> dict[str, str]:
    """The environment of a user on the team setup: a fresh database and bucket prefix."""
    metadata = servers.fresh_database(pg_server, "team")
    servers.make_bucket(moto_endpoint, BUCKET)
    return {
        **servers.s3_env(moto_endpoint),
        "HEADWATER_EXECUTOR": "dask",
        "HEADWATER_DASK_ADDRESS": dask_cluster.address,
        "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}",
        "HEADWATER_METADATA": metadata,
    }


def _run(flow: Path, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(flow), *args], cwd=cwd, env=hermetic_env(env),
                          capture_output=True, text=True, timeout=240)


def read_elsewhere(env: dict[str, str], folder: Path, code: str) -> object:
    """Run ``code`` (which prints one JSON value) in a fresh Python, in an empty folder, with
    only the metadata URL, the datastore root and the S3 credentials; returns the value."""
    folder.mkdir(exist_ok=True)
    keep = {k: v for k, v in env.items() if k.startswith("AWS_")
            or k in ("HEADWATER_METADATA", "HEADWATER_DATASTORE_ROOT")}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=folder,
                          env=hermetic_env(keep), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _code_dir(tmp_path: Path) -> Path:
    """A folder of its own for a test's flow file (it is what the code package holds)."""
    folder = tmp_path / "code"
    folder.mkdir(exist_ok=True)
    return folder


def _bucket_keys(env: dict[str, str], prefix: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


NESTED_FLOW = """
    from headwater import FlowSpec, step


    class NestedFlow(FlowSpec):
        @step
        def start(self):
            self.groups = ["ab", "cde"]
            self.next(self.group, foreach="groups")

        @step
        def group(self):
            self.letters = list(self.input)
            self.next(self.letter, foreach="letters")

        @step
        def letter(self):
            self.upper = self.input.upper()
            self.next(self.join_letters)

        @step
        def join_letters(self, inputs):
            self.word = "".join(i.upper for i in inputs)
            self.next(self.join_groups)

        @step
        def join_groups(self, inputs):
            self.words = [i.word for i in inputs]
            self.next(self.end)

        @step
        def end(self):
            print("words", self.words)


    if __name__ == "__main__":
        NestedFlow()
"""

# flow file -> (flow name, a client expression on the latest run, its expected value)
CASES = {
    "branch_flow.py": ("BranchFlow", "run.data.total", 23),
    "foreach_flow.py": ("ForeachFlow", "run.data.titles",
                        ["0: the bird", "1: the fish", "2: the fox"]),
    "conditional_flow.py": ("ConditionalFlow", "run['end'].task.data.decision", "approve"),
    "loop_flow.py": ("LoopFlow", "[run.data.value, len(list(run['double']))]", [128, 7]),
    "nested_flow.py": ("NestedFlow", "run.data.words", ["AB", "CDE"]),
}


@pytest.mark.parametrize("flow_file", sorted(CASES))
def test_flow_runs_on_the_team_setup_and_reads_back_from_anywhere(flow_file, team, tmp_path):
    flow = (write_flow(_code_dir(tmp_path), flow_file, NESTED_FLOW) if flow_file == "nested_flow.py"
            else example(flow_file))
    name, expression, expected = CASES[flow_file]
    proc = _run(flow, team, tmp_path, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(f"Done! Run {name}/")
    assert task_lines(proc.stdout), "task output is streamed to the console"
    # Nothing of the run is local: the metadata is in PostgreSQL, the blobs in the bucket.
    assert not (tmp_path / ".headwater").exists()
    assert _bucket_keys(team, f"{tmp_path.name}/blobs/")

    seen = read_elsewhere(team, tmp_path / "elsewhere", f"""
        import json
        from headwater import Flow, namespace
        namespace(None)
        run = Flow({name!r}).latest_successful_run
        print(json.dumps({{"value": {expression}, "tags": sorted(run.system_tags),
                          "code": run.code.script_name,
                          "stdout": [t.stdout for s in run for t in s]}}))
    """)
    assert seen["value"] == expected
    assert "runtime:dask" in seen["tags"]
    assert seen["code"] == flow_file
    assert any(out for out in seen["stdout"]), "task logs are kept with the run"


KILLED_FLOW = """
    import os
    import time
    from pathlib import Path
    from headwater import FlowSpec, step

    PID_FILE, SPARE_FILE = {pid_file!r}, {spare_file!r}


    class KilledFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.input == 2 and not Path(SPARE_FILE).exists():
                # the parent is the worker's fork server; its parent is the Dask worker
                server = Path(f"/proc/{{os.getppid()}}/stat").read_text()
                Path(PID_FILE).write_text(server.rpartition(")")[2].split()[1])
                time.sleep(120)
            self.square = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.squares = sorted(i.square for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        KilledFlow()
"""


def test_a_worker_killed_mid_task_fails_the_run_and_resume_finishes_it(team, dask_cluster,
                                                                       tmp_path):
    pid_file, spare = tmp_path / "worker.pid", tmp_path / "spare"
    flow = write_flow(_code_dir(tmp_path), "killed_flow.py",
                      KILLED_FLOW.format(pid_file=str(pid_file), spare_file=str(spare)))
    with background([sys.executable, str(flow), "run"], cwd=tmp_path,
                    env=hermetic_env(team)) as proc:
        os.kill(int(wait_for_file(pid_file, proc)), signal.SIGKILL)  # the nanny starts another
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "the Dask worker running the task" in out, out

    spare.touch()  # the second time, item 2 finishes at once
    resumed = _run(flow, team, tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    seen = read_elsewhere(team, tmp_path / "elsewhere", """
        import json
        from headwater import Flow, namespace
        namespace(None)
        first, second = sorted(Flow("KilledFlow"), key=lambda r: int(r.id))
        crashed = [t for t in first["work"] if not t.successful]
        print(json.dumps({
            "first": first.successful, "second": second.successful,
            "origin": second.origin_run_id, "squares": second.data.squares,
            "crashed": [(t.exception.type_name, t.index) for t in crashed],
            "cloned": sorted(t.index for t in second["work"] if t.origin_pathspec),
        }))
    """)
    assert seen["first"] is False and seen["second"] is True
    assert seen["origin"] == "1"
    assert seen["squares"] == [1, 4, 9]
    assert seen["crashed"] == [["TaskCrashed", 1]]
    assert seen["cloned"] == [0, 2], "only the task whose worker died ran again"


def test_one_word_switches_a_user_to_the_team_setup(team, tmp_path):
    """The same settings as a named profile: HEADWATER_PROFILE=team is all the run and the client
    need (besides the cloud credentials, which are AWS's own business)."""
    config = tmp_path / "config.toml"
    keys = {"executor": "HEADWATER_EXECUTOR", "dask_address": "HEADWATER_DASK_ADDRESS",
            "datastore_root": "HEADWATER_DATASTORE_ROOT", "metadata": "HEADWATER_METADATA"}
    config.write_text("[profiles.team]\n" + "".join(f'{key} = "{team[var]}"\n'
                                                    for key, var in keys.items()))
    aws = {k: v for k, v in team.items() if k.startswith("AWS_")}
    chosen = {**aws, "HEADWATER_CONFIG": str(config), "HEADWATER_PROFILE": "team"}
    proc = _run(example("branch_flow.py"), chosen, tmp_path, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / ".headwater").exists()
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    read = subprocess.run(
        [sys.executable, "-c", "from headwater import Flow, namespace; namespace(None); "
         "run = Flow('BranchFlow').latest_run; print(run.data.total, sorted(run.system_tags))"],
        cwd=folder, env=hermetic_env(chosen), capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr
    assert read.stdout.startswith("23 ") and "runtime:dask" in read.stdout
