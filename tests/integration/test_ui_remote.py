"""The web UI over a team's setup: metadata in a real PostgreSQL server, blobs in S3 (moto on
loopback), chosen through the same environment variables a run reads."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import servers

from .flowrun import flow_file, hermetic_env
from .uiserver import (
    assert_caught_end_reads_failed,
    make_caught_end_runs,
    ui_server,
    wait_until,
)

BUCKET = "headwater-ui"


def test_the_ui_reads_postgresql_and_s3_and_follows_a_live_log(pg_server, moto_endpoint,
                                                                 tmp_path):
    metadata = servers.fresh_database(pg_server, "ui")
    servers.make_bucket(moto_endpoint, BUCKET)
    env = {**servers.s3_env(moto_endpoint),
           "HEADWATER_DATASTORE_ROOT": f"s3://{BUCKET}/{tmp_path.name}",
           "HEADWATER_METADATA": metadata}
    gate = tmp_path / "gate"
    flow = flow_file("ui/ui_flow.py")
    run = subprocess.Popen([sys.executable, str(flow), "run", "--gate", str(gate)],  # noqa: S603
                           cwd=tmp_path, env=hermetic_env(env), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        with ui_server(tmp_path, env=env) as ui:
            run_id = wait_until(lambda: next((r["run_id"] for r in ui.json(
                "/api/runs?flow=UIFlow&status=running")["runs"]), None), "the run to start")
            wait_until(lambda: ui.json(f"/api/runs/UIFlow/{run_id}")["steps"].get("wait"),
                       "the wait step to start")
            task_id = ui.json(f"/api/runs/UIFlow/{run_id}/tasks?step=wait")["tasks"][0]["task_id"]
            url = f"{ui.url}/api/tasks/UIFlow/{run_id}/wait/{task_id}/logs/stdout/events"
            with urllib.request.urlopen(url, timeout=120) as stream:  # noqa: S310 - loopback
                texts = []
                for raw in stream:
                    line = raw.decode()
                    if line.startswith("data: "):
                        texts.append(json.loads(line[6:]).get("text", ""))
                        if "waiting for the gate" in "".join(texts) and not gate.exists():
                            assert run.poll() is None  # still held: the line came live, via S3
                            gate.touch()
                    if line.startswith("event: end"):
                        break
            assert "the gate opened" in "".join(texts)
            assert run.wait(timeout=240) == 0, run.stdout.read()
            page = ui.json(f"/api/runs/UIFlow/{run_id}")
            assert page["status"] == "succeeded"
            assert [n["name"] for n in page["layout"]["nodes"]] == \
                ["start", "work", "join", "wait", "end"]  # the graph, kept in S3
            status, _, body = ui.get(f"/api/tasks/UIFlow/{run_id}/start/1/artifacts/greeting")
            assert status == 200 and body == b"hello from start"
    finally:
        gate.touch()
        if run.poll() is None:
            run.wait(timeout=240)
        run.stdout.close()


def test_a_run_whose_end_step_catch_caught_reads_failed_over_postgresql(pg_server, tmp_path):
    """The run outcome is the one recorded: PostgreSQL's listing, filters and flows agree with
    SQLite's (test_ui_truth.py)."""
    url = servers.fresh_database(pg_server, "ui")
    make_caught_end_runs(tmp_path, HEADWATER_METADATA=url)
    env = {"HEADWATER_DATASTORE_ROOT": str(tmp_path / ".headwater"), "HEADWATER_METADATA": url}
    with ui_server(tmp_path, env=env) as ui:
        assert_caught_end_reads_failed(ui)
