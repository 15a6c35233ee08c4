"""The web UI's JSON API and its safety rules, against a real ``headwater ui`` server (uvicorn in a
subprocess) reading runs that real flows made."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from servers import free_port, stop_process

from .faultkit import hw
from .flowrun import flow_file, hermetic_env
from .uiserver import held_ui_run, running_task, sse_events, ui_command, ui_server, wait_until

UI_FLOW = flow_file("ui/ui_flow.py")
TOKEN = "s3cret-token-for-the-ui-tests"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A folder holding runs of UIFlow (two, the second tagged), FailFlow and ReportFlow."""
    folder = tmp_path_factory.mktemp("ui-home")
    for args in (("run",), ("run", "--tag", "nightly")):
        proc = hw(UI_FLOW, *args, cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = hw(flow_file("fail_flow.py"), "run", cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = hw(flow_file("cards/report_flow.py"), "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_runs_are_listed_newest_first_and_filtered(ui):
    everything = ui.json("/api/runs")["runs"]
    assert [r["pathspec"] for r in everything] == [
        "ReportFlow/1", "FailFlow/1", "UIFlow/2", "UIFlow/1"]
    assert ui.json("/api/runs?flow=UIFlow")["runs"][0]["pathspec"] == "UIFlow/2"
    failed = ui.json("/api/runs?status=failed")["runs"]
    assert [r["pathspec"] for r in failed] == ["FailFlow/1"]
    tagged = ui.json("/api/runs?tag=nightly")["runs"]
    assert [r["pathspec"] for r in tagged] == ["UIFlow/2"]
    assert ui.json("/api/runs?user=nobody")["runs"] == []
    assert ui.json("/api/runs?user=tester")["runs"][0]["user"] == "tester"


def test_runs_are_paginated(ui):
    first = ui.json("/api/runs?limit=3")
    assert len(first["runs"]) == 3 and first["more"] is True
    rest = ui.json("/api/runs?limit=3&offset=3")
    assert [r["pathspec"] for r in rest["runs"]] == ["UIFlow/1"] and rest["more"] is False


def test_flows_name_their_latest_run(ui):
    flows = {f["name"]: f for f in ui.json("/api/flows")}
    assert set(flows) == {"FailFlow", "ReportFlow", "UIFlow"}
    assert flows["UIFlow"]["latest_run"]["run_id"] == "2"
    assert flows["FailFlow"]["latest_run"]["status"] == "failed"


def test_a_run_has_its_graph_laid_out_and_its_steps_counted(ui):
    run = ui.json("/api/runs/UIFlow/1")
    names = [n["name"] for n in run["layout"]["nodes"]]
    assert names == ["start", "work", "join", "wait", "end"]
    edges = {(e["from"], e["to"]) for e in run["layout"]["edges"]}
    assert edges == {("start", "work"), ("work", "join"), ("join", "wait"), ("wait", "end")}
    y = {n["name"]: n["y"] for n in run["layout"]["nodes"]}
    assert y["start"] < y["work"] < y["join"] < y["wait"] < y["end"]
    assert run["steps"]["work"]["tasks"] == 3 and run["steps"]["work"]["succeeded"] == 3
    fanned = {n["name"]: n["foreach"] for n in run["layout"]["nodes"]}
    assert fanned == {"start": None, "work": "items", "join": None, "wait": None, "end": None}
    start = next(s for s in run["graph"]["steps"] if s["name"] == "start")
    assert start["foreach"] == "items" and start["type"] == "start"
    assert run["parameters"] == {"gate": "''"}


def test_tasks_are_paginated_by_step(ui):
    page = ui.json("/api/runs/UIFlow/1/tasks?step=work&limit=2")
    assert [t["foreach_index"] for t in page["tasks"]] == [0, 1] and page["more"] is True
    rest = ui.json("/api/runs/UIFlow/1/tasks?step=work&limit=2&offset=2")
    assert [t["foreach_index"] for t in rest["tasks"]] == [2] and rest["more"] is False


def test_a_failed_task_shows_its_error_and_traceback(ui):
    run = ui.json("/api/runs/FailFlow/1")
    assert run["status"] == "failed" and run["steps"]["a"]["failed"] == 1
    task_id = ui.json("/api/runs/FailFlow/1/tasks?step=a")["tasks"][0]["task_id"]
    task = ui.json(f"/api/tasks/FailFlow/1/a/{task_id}")
    failure = task["attempts"][-1]["failure"]
    assert failure["type"].endswith("ValueError") and failure["message"] == "boom in a"
    assert "raise ValueError(\"boom in a\")" in failure["traceback"]
    status, headers, body = ui.get(f"/api/tasks/FailFlow/1/a/{task_id}/logs/stdout")
    assert status == 200 and b"a is about to fail" in body
    assert headers["x-headwater-final"] == "1"


def test_artifacts_are_listed_previewed_and_downloaded(ui):
    task = ui.json("/api/tasks/UIFlow/1/start/1")
    artifacts = {a["name"]: a for a in task["artifacts"]}
    assert {"items", "greeting", "raw", "table"} <= set(artifacts)
    assert artifacts["greeting"]["preview"] == "'hello from start'"
    assert artifacts["greeting"]["type"] == "builtins.str"
    status, headers, body = ui.get("/api/tasks/UIFlow/1/start/1/artifacts/greeting")
    assert status == 200 and body == b"hello from start"
    assert "attachment" in headers["content-disposition"]
    status, _, body = ui.get("/api/tasks/UIFlow/1/start/1/artifacts/raw")
    assert status == 200 and body == b"\x00\x01 raw bytes"
    import pickle

    status, _, body = ui.get("/api/tasks/UIFlow/1/start/1/artifacts/table")
    assert pickle.loads(body) == {"rows": [[1, "a"], [2, "b"]]}


@pytest.mark.parametrize("name", ["nope", "..%2F..%2Fmeta.sqlite", "%2E%2E", "a.b"])
def test_only_a_tasks_own_artifacts_are_served(ui, name):
    status, _, body = ui.get(f"/api/tasks/UIFlow/1/start/1/artifacts/{name}")
    assert status == 404, body
    assert b"sqlite" not in body.lower() or b"error" in body


@pytest.mark.parametrize("path", ["/api/runs/..%2F..%2Fx/1", "/api/tasks/UIFlow/1/start/..%2F1",
                                  "/api/tasks/UIFlow/1/start/1/logs/secret"])
def test_bad_names_in_urls_are_refused(ui, path):
    status, _, _ = ui.get(path)
    assert status == 404


def test_a_card_is_served_sandboxed(ui):
    task = ui.json("/api/tasks/ReportFlow/1/start/1")
    assert [c["type"] for c in task["cards"]] == ["default"]
    status, headers, body = ui.get("/api/tasks/ReportFlow/1/start/1/cards/0")
    assert status == 200 and b"Training report" in body
    csp = headers["content-security-policy"]
    assert "sandbox allow-scripts" in csp and "allow-same-origin" not in csp
    assert "connect-src 'none'" in csp
    status, _, _ = ui.get("/api/tasks/ReportFlow/1/start/1/cards/7")
    assert status == 404


def test_the_ui_is_read_only(ui):
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = ui.get("/api/runs", method=method)
        assert status == 405 and "GET" in headers["allow"]


def test_without_a_token_only_localhost_names_are_answered(ui):
    status, _, _ = ui.get("/api/flows", headers={"Host": "attacker.example:8080"})
    assert status == 403
    status, _, _ = ui.get("/api/flows", headers={"Host": f"localhost:{ui.port}"})
    assert status == 200


def test_pages_have_their_own_addresses(ui):
    for path in ("/", "/flows/UIFlow", "/runs/UIFlow/1", "/runs/UIFlow/1/start/1"):
        status, headers, body = ui.get(path)
        assert status == 200 and b'<main id="app"' in body, path
        assert "script-src 'self'" in headers["content-security-policy"]
    status, _, _ = ui.get("/static/ui.js")
    assert status == 200


def test_a_running_tasks_log_streams_as_server_sent_events(ui, home):
    with held_ui_run(home, "gate-api") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"), "the wait step to start")
        url = f"{ui.url}/api/tasks/UIFlow/{run_id}/wait/{task_id}/logs/stdout/events"
        with urllib.request.urlopen(url, timeout=120) as stream:  # noqa: S310 - our own server
            events = sse_events(stream)
            first = next(e for e in events if e[0] == "log")
            assert "waiting for the gate" in first[1]["text"]
            assert "the gate opened" not in first[1]["text"]
            assert run.poll() is None  # the task is still running, held by the gate
            gate.touch()
            rest = []
            for event in events:
                rest.append(event)
                if event[0] == "end":
                    break
        assert "the gate opened" in "".join(e[1]["text"] for e in rest if e[0] == "log")
        assert run.wait(timeout=120) == 0


def test_run_events_follow_the_run_to_its_end(ui, home):
    with held_ui_run(home, "gate-run-events") as (run, gate):
        run_id = wait_until(lambda: next((r["run_id"] for r in ui.json(
            "/api/runs?flow=UIFlow&status=running")["runs"]), None), "the run to start")
        url = f"{ui.url}/api/runs/UIFlow/{run_id}/events"
        with urllib.request.urlopen(url, timeout=120) as stream:  # noqa: S310 - our own server
            seen_running = False
            for name, data in sse_events(stream):
                if name == "run" and data["status"] == "running":
                    seen_running = True
                    gate.touch()
                if name == "end":
                    assert data["status"] == "succeeded"
                    break
        assert seen_running


def test_card_server_opens_the_ui_on_its_flow(home):
    port = free_port()
    log = home / "card-server.log"
    env = {**hermetic_env(), "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")}
    with open(log, "wb") as handle:
        proc = subprocess.Popen([sys.executable, str(UI_FLOW), "card", "server",  # noqa: S603
                                 "--port", str(port)], cwd=home, env=env, stdout=handle,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def answers():
            try:
                with urllib.request.urlopen(url + "/api/flows", timeout=10) as r:  # noqa: S310
                    return json.loads(r.read())
            except OSError:
                assert proc.poll() is None, log.read_text()
                return None

        flows = wait_until(answers, "card server to answer")
        assert "UIFlow" in {f["name"] for f in flows}
        assert f"{url}/flows/UIFlow" in log.read_text()
    finally:
        stop_process(proc)


# -- the token -------------------------------------------------------------------------------


def test_a_non_loopback_address_without_a_token_is_refused(home):
    proc = subprocess.run(ui_command(home, "--host", "0.0.0.0", "--port", "0"),  # noqa: S603
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "refusing to serve the UI on 0.0.0.0" in proc.stderr
    assert "HEADWATER_UI_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_with_a_token_every_request_must_carry_it(home):
    with ui_server(home, token=TOKEN) as ui:
        assert TOKEN not in ui.output() and TOKEN[-4:] in ui.output()
        status, headers, _ = ui.get("/api/runs", token="")
        assert status == 401 and "bearer" in headers["www-authenticate"].lower()
        assert ui.get("/", token="")[0] == 401
        assert ui.get("/static/ui.js", token="")[0] == 401
        assert ui.get("/api/runs", token="wrong-token-of-same-size!!!!")[0] == 401
        assert ui.get("/api/runs")[0] == 200  # Bearer header
        wait = ui.json("/api/runs/UIFlow/1/tasks?step=wait")["tasks"][0]["task_id"]
        logs = f"/api/tasks/UIFlow/1/wait/{wait}/logs/stdout"
        for path in (f"{logs}/find?q=gate", f"{logs}/lines?from=1"):  # the whole log's too
            assert ui.get(path, token="")[0] == 401
            assert ui.get(path)[0] == 200
        status, headers, _ = ui.get(f"/runs/UIFlow/1?token={TOKEN}&x=1", token="")
        assert status == 303 and headers["location"] == "/runs/UIFlow/1?x=1"
        cookie = headers["set-cookie"].split(";")[0]
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        status, _, body = ui.get("/api/runs/UIFlow/1", token="", headers={"Cookie": cookie})
        assert status == 200 and json.loads(body)["run_id"] == "1"
