"""An attacker's pass over the web UI, in a real browser (Debian's Chromium driven by Playwright):
markup and terminal escapes where names, logs and errors are shown, and another site's page
trying to use the UI from the reader's browser. Nothing may run, nothing may leak.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from servers import free_port

from .faultkit import hw
from .flowrun import flow_file
from .uiserver import DEADLINE_MS

expect.set_options(timeout=DEADLINE_MS)
PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-attack")
    proc = hw(flow_file("ui/attacker_flow.py"), "run", cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return folder


@pytest.fixture
def page(context):
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return page


def _task_id(ui, step: str) -> str:
    return ui.json(f"/api/runs/AttackerFlow/1/tasks?step={step}")["tasks"][0]["task_id"]


def _nothing_ran(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("() => window.__xss") is None, frame.url
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_names_logs_and_errors_show_as_text_without_escapes_and_nothing_runs(ui, page):
    page.goto(ui.url + "/runs/AttackerFlow/1")
    expect(page.locator("#parameters")).to_contain_text(PAYLOAD)  # a parameter's value
    failure = page.locator("#failures")
    expect(failure).to_contain_text("ValueError: coloured failure " + PAYLOAD)
    assert "\x1b" not in failure.inner_text() and "[31m" not in failure.inner_text()
    _nothing_ran(page)

    page.goto(f"{ui.url}/runs/AttackerFlow/1/start/{_task_id(ui, 'start')}")
    stdout = page.locator("#stdout")
    expect(page.locator("#stdout-state")).to_have_text("complete")
    # 3 MB of output: the page shows its last MiB, says so, and links to the whole log
    expect(page.locator("#stdout-cut")).to_contain_text(
        re.compile(r"Showing the last (1\.0 MiB|102\d\.\d KiB) of 3\.\d MiB"))
    expect(page.locator("#stdout-cut a")).to_have_attribute("href", re.compile(r"/logs/stdout$"))
    expect(page.locator("#stderr-cut")).to_have_count(0)
    text = stdout.inner_text()
    assert "red words and bold" in text and "click me" in text, text[:300]
    assert "\x1b" not in text and "[31m" not in text and "javascript:" not in text
    assert stdout.locator("a").count() == 0
    expect(page.locator("#stderr")).to_have_text("progress 100%")
    # a line of 200,000 characters wraps inside its box: the page does not grow sideways
    assert "A" * 1000 in text
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # an artifact named with markup: shown as its name, and downloadable by it
    row = page.locator("#artifacts tbody tr").filter(has_text="named with markup")
    expect(row.locator("td").first).to_have_text(PAYLOAD)
    with page.expect_download() as got:
        row.locator("a", has_text="download").click()
    assert got.value.failure() is None
    assert Path(got.value.path()).read_text() == "named with markup"
    _nothing_ran(page)

    page.goto(f"{ui.url}/runs/AttackerFlow/1/end/{_task_id(ui, 'end')}")
    expect(page.locator(".failure")).to_have_text("ValueError: coloured failure " + PAYLOAD)
    expect(page.locator("pre.traceback")).to_contain_text("coloured failure")
    assert "\x1b" not in page.locator("pre.traceback").inner_text()
    assert page.locator("img").count() == 0
    _nothing_ran(page)


ATTACK = """<!doctype html><meta charset="utf-8"><title>elsewhere</title>
<body><a id="link" href="{ui}/runs/AttackerFlow/1">a link to the UI</a>
<img src="{ui}/api/flows"><img src="{ui}/runs/AttackerFlow/1">
<script src="{ui}/api/runs"></script>
<link rel="stylesheet" href="{ui}/static/ui.css">
<iframe src="{ui}/runs/AttackerFlow/1"></iframe>
<form id="f" method="post" action="{ui}/api/runs" target="sink"></form><iframe name="sink"></iframe>
<script>
  window.results = [];
  fetch("{ui}/api/flows", {{mode: "no-cors"}}).then(() => results.push("fetched"), () => results.push("fetch refused"));
  fetch("{ui}/api/flows").then(r => r.text()).then(t => results.push("READ " + t), () => results.push("read refused"));
  const events = new EventSource("{ui}/api/runs/AttackerFlow/1/events");
  events.addEventListener("run", (e) => results.push("STREAMED " + e.data));
  events.onerror = () => {{ events.close(); results.push("stream refused"); }};
  document.getElementById("f").submit();
</script></body>"""


class _Elsewhere(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def test_another_sites_page_cannot_use_the_ui_but_its_links_open_it(ui, page):
    """A page on another site (``localhost`` is another site than ``127.0.0.1``) embeds,
    fetches, streams and posts to the UI from the reader's browser: every request is refused
    and nothing comes back; a link it holds still opens the UI in the tab."""
    port = free_port()
    handler = type("Elsewhere", (_Elsewhere,), {"page": ATTACK.format(ui=ui.url).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # each request the page makes to the UI: the status it got, or why the browser dropped it
    answers: dict[str, object] = {}
    page.on("response", lambda r: answers.__setitem__(f"{r.request.method} {r.url}", r.status)
            if r.url.startswith(ui.url) else None)
    page.on("requestfailed", lambda r: answers.setdefault(f"{r.method} {r.url}", r.failure)
            if r.url.startswith(ui.url) else None)
    try:
        page.goto(f"http://localhost:{port}/")
        page.wait_for_function("() => results.length >= 3")
        results = page.evaluate("results")
        assert not any(r.startswith(("READ", "STREAMED")) for r in results), results
        expected = {f"GET {ui.url}/api/flows", f"GET {ui.url}/runs/AttackerFlow/1",
                    f"GET {ui.url}/api/runs", f"GET {ui.url}/static/ui.css",
                    f"GET {ui.url}/api/runs/AttackerFlow/1/events", f"POST {ui.url}/api/runs"}
        deadline = time.monotonic() + DEADLINE_MS / 1000
        while not expected <= set(answers) and time.monotonic() < deadline:
            page.wait_for_timeout(100)  # Playwright delivers the answers while it waits
        assert expected <= set(answers), (sorted(expected - set(answers)), answers)
        for key, status in answers.items():  # refused by the UI, or its refusal not even read
            assert status in (403, 405) or isinstance(status, str), (key, status)
        assert answers[f"GET {ui.url}/runs/AttackerFlow/1"] == 403  # the framed page
        assert {k for k in answers if k.startswith("POST")} == {f"POST {ui.url}/api/runs"}
        # a link followed from that page is the reader's choice: the UI opens, and works
        page.click("#link")
        page.wait_for_url(f"{ui.url}/runs/AttackerFlow/1")
        expect(page.locator("#run-status")).to_have_text("failed")
        _nothing_ran(page)
    finally:
        server.shutdown()
        server.server_close()


def test_every_answer_carries_the_safety_headers(ui):
    task = f"/api/tasks/AttackerFlow/1/start/{_task_id(ui, 'start')}"
    for path in ("/api/flows", f"{task}/logs/stdout", f"{task}/artifacts/coloured",
                 "/api/nothing", "/static/ui.js"):
        status, headers, _ = ui.get(path)
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["cross-origin-resource-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "default-src 'none'" in headers["content-security-policy"], path
        assert float(headers["x-headwater-now"]) > 0, path
    status, headers, _ = ui.get("/runs/AttackerFlow/1")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    # the static files are served from their folder only
    for path in ("/static/..%2Fapi.py", "/static/%2E%2E/reader.py", "/static/../app.py",
                 "/static/%2e%2e%2f%2e%2e%2fsettings.py"):
        status, _, body = ui.get(path)
        assert status == 404 and b"import" not in body, path


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
    {"Origin": "http://attacker.example"},
    {"Origin": "null"},
])
def test_requests_marked_as_from_another_site_are_refused(ui, headers):
    status, _, body = ui.get("/api/flows", headers=headers)
    assert status == 403, body
    assert b"another site" in body


def test_a_link_from_another_site_and_a_same_origin_request_are_answered(ui):
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document"}
    assert ui.get("/runs/AttackerFlow/1", headers=link)[0] == 200
    own = {"Sec-Fetch-Site": "same-origin", "Origin": f"http://127.0.0.1:{ui.port}"}
    assert ui.get("/api/flows", headers=own)[0] == 200
    assert ui.get("/api/flows", headers={"Sec-Fetch-Site": "none"})[0] == 200


def test_a_log_is_read_whole_or_by_its_tail_cut_at_a_line(ui):
    task = f"/api/tasks/AttackerFlow/1/start/{_task_id(ui, 'start')}"
    status, headers, whole = ui.get(f"{task}/logs/stdout")
    assert status == 200 and int(headers["x-headwater-log-size"]) == len(whole) > 3_000_000
    status, headers, tail = ui.get(f"{task}/logs/stdout?tail=300000")
    assert status == 200 and int(headers["x-headwater-log-size"]) == len(whole)
    assert whole.endswith(tail) and len(tail) <= 300_000
    assert whole[-len(tail) - 1:-len(tail)] == b"\n"  # from a line's start
    assert ui.get(f"{task}/logs/stdout?tail=lots")[0] == 404


def test_finding_in_a_hostile_log_is_text_bounded_and_runs_nothing(ui, page):
    """The find box over a 3 MB log of escapes, a hyperlink to a javascript: address and a line
    of 200,000 characters: searched on the server as plain text over what the page shows,
    answers bounded, the matches drawn as text."""
    task = f"/api/tasks/AttackerFlow/1/start/{_task_id(ui, 'start')}"
    found = ui.json(f"{task}/logs/stdout/find?q=RED+WORDS")
    assert [m["text"] for m in found["matches"]] == ["red words and bold"]  # escapes dropped
    assert found["matches"][0]["line"] == 30_001
    assert ui.json(f"{task}/logs/stdout/find?q=%5B31m")["count"] == 0  # no escape is text
    assert ui.json(f"{task}/logs/stdout/find?q=javascript")["count"] == 0
    long = ui.json(f"{task}/logs/stdout/find?q=AAAA")["matches"]
    assert len(long) == 1 and len(long[0]["text"]) == 400 and long[0]["cut_end"]
    many = ui.json(f"{task}/logs/stdout/find?q=x&limit=5000")  # limit clamped to 1,000
    assert many["count"] == 30_000 and len(many["matches"]) == 1000 and many["more"]
    window = ui.json(f"{task}/logs/stdout/lines?from=30003&count=5000")
    assert len(window["lines"][0]) == 4000 and window["total_lines"] == 30_003
    for path in (f"{task}/logs/stdout/find?q=x&limit=lots", f"{task}/logs/stdout/lines?from=x",
                 f"{task}/logs/nothing/find?q=x", f"{task}/logs/stdout/find?q=" + "(a*)*" * 41):
        status, headers, body = ui.get(path)
        assert status == 404, path
        assert headers["x-content-type-options"] == "nosniff"
    assert ui.get(f"{task}/logs/stdout/lines?from={'9' * 30}")[0] == 200  # clamped

    page.goto(f"{ui.url}/runs/AttackerFlow/1/start/{_task_id(ui, 'start')}")
    expect(page.locator("#stdout-cut")).to_be_visible()
    page.get_by_role("searchbox", name="find in stdout").fill("click me")
    expect(page.locator("#stdout-matches")).to_have_text("1 matching line in the whole log")
    expect(page.locator("#stdout-hits .line")).to_have_text(["line 30002 click me"])
    page.get_by_role("button", name="show line 30002 in its place").click()
    expect(page.locator("#stdout-around .target")).to_have_text("click me")
    assert page.locator("#stdout-around a, #stdout-hits a, #stdout-around img").count() == 0
    _nothing_ran(page)
