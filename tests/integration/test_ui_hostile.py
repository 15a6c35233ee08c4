"""What an attacker (or a damaged datastore) sends the web UI gets a clear answer, never a 500 with
a traceback in the server's output, never a page that leaves this server, never unverified bytes."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from servers import stop_process

from .faultkit import datastore, hw
from .flowrun import flow_file, hermetic_env
from .uiserver import held_ui_run, running_task, sse_events, ui_command, ui_server, wait_until

HOSTILE_FLOW = flow_file("ui/hostile_flow.py")
TOKEN = "hostile-token-for-the-ui-tests"
TASK = "/api/tasks/HostileFlow/1/start/1"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-hostile")
    proc = hw(HOSTILE_FLOW, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def no_traceback(ui) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in ui.output(), ui.output()


@pytest.mark.parametrize("path", [
    "/api/runs?limit=abc", "/api/runs?offset=x", "/api/runs/HostileFlow/1/tasks?limit=1e3",
    f"{TASK}/logs/stdout?attempt=first", f"{TASK}/cards/%C2%B2", f"{TASK}/cards/abc"])
def test_a_bad_number_in_an_address_is_a_404_naming_it(ui, path):
    status, _, body = ui.get(path)
    assert status == 404, body
    answer = json.loads(body)
    assert answer["error"] and answer["fix"]
    no_traceback(ui)


def test_every_answer_forbids_content_sniffing(ui):
    """A log line or an artifact holding HTML is never taken for a page."""
    for path in (f"{TASK}/logs/stdout", "/api/flows", "/", "/static/ui.js", "/api/runs?limit=x"):
        status, headers, body = ui.get(path)
        assert headers["x-content-type-options"] == "nosniff", path
    assert b"<script>alert('log')</script>" in ui.get(f"{TASK}/logs/stdout")[2]


def test_a_value_built_to_expand_when_printed_is_previewed_and_the_server_stays_up(ui):
    artifacts = {a["name"]: a for a in ui.json(TASK)["artifacts"]}
    # (bounded by a budget of text since the fifth differential round, not at depth 3)
    assert artifacts["bomb"]["preview"].startswith("[[[[") and "[...]" in artifacts["bomb"]["preview"]
    assert len(artifacts["bomb"]["preview"]) < 2000
    assert "&lt;" not in artifacts["evil"]["preview"]  # JSON carries text; the page escapes it
    assert ui.json("/api/flows")[0]["name"] == "HostileFlow"


def test_numbers_too_large_for_the_database_are_clamped(ui):
    huge = "9" * 30
    assert ui.json(f"/api/runs?offset={huge}")["runs"] == []
    assert ui.json(f"/api/runs/HostileFlow/1/tasks?offset={huge}")["tasks"] == []
    status, _, body = ui.get(f"{TASK}/logs/stdout?attempt={huge}")  # clamped, then not found
    assert status == 404 and "has no attempt" in json.loads(body)["error"]
    no_traceback(ui)


def test_a_damaged_log_or_card_is_named_and_never_served(tmp_path):
    proc = hw(HOSTILE_FLOW, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for blob in (datastore(tmp_path) / "blobs").rglob("*"):
        if blob.is_file():
            blob.write_bytes(b"<script>planted</script>")
    with ui_server(tmp_path) as ui:
        status, _, body = ui.get(f"{TASK}/cards/0")
        assert status == 500 and b"planted" not in body
        assert "card 0 (default) of task HostileFlow/1/start/1" in json.loads(body)["error"]
        status, _, body = ui.get(f"{TASK}/logs/stdout")
        assert status == 500 and "stdout of HostileFlow/1/start/1" in json.loads(body)["error"]
        status, _, body = ui.get(f"{TASK}/logs/stdout/events")
        assert status == 500 and "stdout of HostileFlow/1/start/1" in json.loads(body)["error"]
        no_traceback(ui)


def test_an_event_stream_whose_database_breaks_ends_naming_why(tmp_path):
    """The metadata file damaged under an open stream: the stream ends with an ``end`` event
    carrying the error (its status was sent long ago), not a traceback and a dropped connection."""
    with held_ui_run(tmp_path, "gate"), ui_server(tmp_path) as ui:
        wait_until(lambda: running_task(ui, "UIFlow", "wait"), "the wait step to start")
        url = f"{ui.url}/api/runs/UIFlow/1/events"
        with urllib.request.urlopen(url, timeout=120) as stream:  # noqa: S310 - our server
            events = sse_events(stream)
            assert next(events)[0] == "run"
            (datastore(tmp_path) / "meta.sqlite").write_bytes(b"not a database " * 100)
            last = next(data for name, data in events if name == "end")
        assert "damaged" in last["error"] and last["fix"]
        no_traceback(ui)


@pytest.mark.parametrize("host", ["127.0.0.1:8080@attacker.example", "localhost:attacker.example",
                                  "[::1", "[::1]attacker.example"])
def test_a_host_header_that_only_starts_like_loopback_is_refused(ui, host):
    assert ui.get("/api/flows", headers={"Host": host})[0] == 403


def test_signing_in_with_the_token_link_never_leaves_this_server(home):
    with ui_server(home, token=TOKEN) as ui:
        status, headers, _ = ui.get(f"//attacker.example/?token={TOKEN}", token="")
        assert status == 303 and headers["location"] == "/attacker.example/"
        status, headers, _ = ui.get(f"/%0D%0ASet-Cookie:%20x=y/%C3%A9?token={TOKEN}", token="")
        assert status == 303 and headers["location"] == "/%0D%0ASet-Cookie:%20x=y/%C3%A9"
        assert headers["set-cookie"].startswith("headwater_ui_token=")
        no_traceback(ui)


def test_an_address_in_use_is_one_clear_error_and_port_0_prints_the_real_port(home, ui):
    proc = subprocess.run(ui_command(home, "--port", str(ui.port)), env=hermetic_env(),  # noqa: S603
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"cannot serve the UI on 127.0.0.1:{ui.port}" in proc.stderr and "fix:" in proc.stderr
    assert "headwater UI on" not in proc.stdout and "Traceback" not in proc.stderr
    log = home / "ui-port-0.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(ui_command(home, "--port", "0"), env=hermetic_env(),  # noqa: S603
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        url = wait_until(lambda: re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text()),
                         "the address to be printed")
        assert url.group(1) != "0"
        flows = wait_until(lambda: _get_json(url.group(0) + "api/flows"), "the UI to answer")
        assert [f["name"] for f in flows] == ["HostileFlow"]
    finally:
        stop_process(server)


def _get_json(url: str):  # type: ignore[no-untyped-def]
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our own server
            return json.loads(answer.read())
    except OSError:
        return None
