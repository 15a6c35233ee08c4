"""The eighth browser round, in a real browser (Debian's Chromium driven by Playwright) against a
real ``headwater ui`` server over runs real flows made, as testers outside use it:

- A live foreach of 700 tasks followed on pages left open while its tasks run, hundreds of them
  ending while the server is paused (a laptop asleep, a loaded machine): the event stream sends
  at most 500 tasks an event, and every page still ends up with every task, its final status,
  the right counts and no row twice, without a reload.
- The server stopped and started again while pages follow a run: each page says it lost the
  connection (what it shows may be out of date), then catches up once the server is back, even
  on tasks that ended longer ago than a new event stream looks back; a server back asking for
  a token is named with its answer; a browser gone offline and back the same.
- A deep link to a log of an attempt the task never had: a 404 naming the attempts it had.
- Three tabs following a running task, and more tabs of the UI still open: a task's page follows
  both its logs through one connection (a browser opens six to one server, for all its tabs).
- Names as long and as foreign as Python allows (flow, step, artifacts, tags): no page scrolls
  sideways on a phone or at 200% zoom.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from headwater.ui.events import FIRST_LOOKBACK_S, LOOKBACK_S
from servers import stop_process

from .faultkit import hw
from .flowrun import flow_file, hermetic_env
from .uiserver import (
    DEADLINE_MS,
    UIServer,
    _wait_ready,
    gated_run,
    held_ui_run,
    new_context,
    running_task,
    sse_events,
    ui_command,
    ui_server,
    wait_until,
    watched_page,
)

expect.set_options(timeout=DEADLINE_MS)
WIDE_FLOW = flow_file("ui/wide_live_foreach_flow.py")
UI_FLOW = flow_file("ui/ui_flow.py")
WIDTH = 700  # the flow's default: more than one event's 500 tasks

# Counts the event streams the page opened and that connected, so a test knows a page follows.
COUNT_OPENS = """window.__opens = 0;
const RealSource = window.EventSource;
window.EventSource = class extends RealSource {
  constructor(...a) { super(...a); this.addEventListener("open", () => { window.__opens++; }); } };"""


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ui-round8")


def _running(ui, run_id: str) -> int:  # type: ignore[no-untyped-def]
    listed = ui.json(f"/api/runs/WideForeachFlow/{run_id}/tasks?step=work&status=running")
    return len(listed["tasks"])


def _following(page) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator("#run-status")).to_have_text("running")
    wait_until(lambda: page.evaluate("window.__opens") >= 1, "the page's event stream to open")


def test_a_live_foreach_of_700_tasks_is_followed_to_every_task(ui, home, browser):
    """Pages open on a 700-task foreach while it runs; the server is paused (SIGSTOP) while every
    work task ends, and let go only once the last of them ended longer ago than the stream's
    look-back: its next poll finds 700 changed tasks, more than one event carries, all of which
    must reach the pages. Before, a poll that came late looked back only from its own time and
    missed them: a page listing the running tasks kept eight long-finished tasks "running"."""
    context = new_context(browser)
    context.add_init_script(COUNT_OPENS)
    with gated_run(WIDE_FLOW, home, "wide", ("work", "join"), "--max-workers", "8") as (run, gates):
        run_id = wait_until(lambda: (ui.json("/api/runs?flow=WideForeachFlow")["runs"] or
                                     [{}])[0].get("run_id"), "the run to start")
        wait_until(lambda: _running(ui, run_id) == 8, "eight work tasks held at their gate")
        base = f"{ui.url}/runs/WideForeachFlow/{run_id}"
        running = watched_page(context)
        running.goto(f"{base}?step=work&status=running#tasks")
        first = watched_page(context)
        first.goto(base)
        later = watched_page(context)
        later.goto(f"{base}?offset=600#tasks")
        pages = (running, first, later)
        for page in pages:
            _following(page)
        expect(running.locator("#tasks-table tbody tr .status")).to_have_text(["running"] * 8)
        expect(later.locator("#tasks-none")).to_contain_text("No tasks on this page")

        os.kill(ui.proc.pid, signal.SIGSTOP)
        try:
            (gates / "work").touch()
            started = gates / "join-started"
            wait_until(started.exists, "every work task to end and the join to start", 900)
            # the last work task ended before the join started: wait until that is further back
            # than the stream looks back from a poll's own time
            wait_until(lambda: time.time() - started.stat().st_mtime > LOOKBACK_S + 1,
                       "the ends to be older than the stream's look-back")
        finally:
            os.kill(ui.proc.pid, signal.SIGCONT)

        # the page of running tasks empties: each of its tasks ended
        expect(running.locator("#tasks-table tbody tr")).to_have_count(0)
        expect(running.locator("#tasks-none")).to_have_text("step work has no running tasks yet.")
        for page in (first, later):
            expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text(
                f"{WIDTH} tasks")
            expect(page.locator("#tasks-table tbody tr .status")).to_have_text(
                ["succeeded"] * 100)
        total = WIDTH + 2  # start, the work tasks, the join running
        expect(first.locator("#tasks-range")).to_have_text(f"tasks 1\u2013100 of {total}")
        expect(later.locator("#tasks-range")).to_have_text(f"tasks 601\u2013700 of {total}")
        # every row once, the tasks the API lists there, in its order
        for page, offset in ((first, 0), (later, 600)):
            rows = page.locator("#tasks-table tbody tr").evaluate_all(
                "rows => rows.map((r) => r.dataset.task)")
            listed = ui.json(f"/api/runs/WideForeachFlow/{run_id}/tasks?offset={offset}")
            assert rows == [f"{t['step']}/{t['task_id']}" for t in listed["tasks"]]
            assert len(set(rows)) == 100
        # still answering the reader: a link followed from the page it drew
        later.locator("#tasks-table tbody tr a").first.focus()
        later.keyboard.press("Enter")
        expect(later.locator("#task-status")).to_have_text("succeeded")
        for stream in ("stdout", "stderr"):
            expect(later.locator(f"#{stream}-state")).to_have_text("complete")
        later.go_back()
        expect(later.locator("#tasks-range")).to_have_text(f"tasks 601\u2013700 of {total}")

        (gates / "join").touch()
        for page in pages:
            expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(first.locator("#tasks-range")).to_have_text(f"tasks 1\u2013100 of {total + 1}")
        assert run.wait(timeout=300) == 0
        for page in pages:  # leaving a page aborts its own stream (docs/ui.md): nothing else
            problems = [p for p in page.problems  # type: ignore[attr-defined]
                        if not p.endswith("/events net::ERR_ABORTED")]
            assert problems == [], problems
    context.close()


# -- the server stopped and started again ---------------------------------------------------------

def _serve_again(home: Path, port: int, token: str | None = None):  # type: ignore[no-untyped-def]
    """``headwater ui`` over ``home`` again, on the port the pages were opened on."""
    log = home / f"ui-{port}-again.log"
    env = hermetic_env({"HEADWATER_UI_TOKEN": token} if token else None)
    with open(log, "ab") as handle:
        proc = subprocess.Popen(ui_command(home, "--port", str(port)), env=env,  # noqa: S603
                                stdout=handle, stderr=subprocess.STDOUT, cwd=home)
    server = UIServer(proc, port, log, token)
    _wait_ready(server)
    return proc


def test_pages_say_the_server_is_gone_then_catch_up_when_it_is_back(home, browser):
    """The server is stopped while the runs list, a running run's page and its running task's
    page are open: each says it lost the connection and that what it shows may be out of date
    (before, they went on looking live: the run "running", its duration ticking). The run ends
    meanwhile; the server starts again on the same address and every page catches up on its own
    (the run and the task succeeded, the task's whole log once), the notice gone."""
    context = new_context(browser)
    with ui_server(home) as ui, held_ui_run(home, "restart-gate") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        runs = watched_page(context)
        runs.goto(f"{ui.url}/flows/UIFlow")
        expect(runs.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"] .status')
               ).to_have_text("running")
        run_page = watched_page(context)
        run_page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        expect(run_page.locator("#run-status")).to_have_text("running")
        task_page = watched_page(context)
        task_page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
        expect(task_page.locator("#stdout")).to_contain_text("waiting for the gate")

        stop_process(ui.proc)
        for page in (runs, run_page, task_page):
            notice = page.locator("#connection")
            expect(notice).to_contain_text("Lost the connection to the headwater UI server")
            expect(notice).to_contain_text("may be out of date")
        gate.touch()
        assert run.wait(timeout=300) == 0

        again = _serve_again(home, ui.port)
        try:
            for page in (runs, run_page, task_page):
                expect(page.locator("#connection")).to_have_count(0)
            expect(runs.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"] .status')
                   ).to_have_text("succeeded")
            expect(run_page.locator("#run-status")).to_have_text("succeeded")
            expect(task_page.locator("#task-status")).to_have_text("succeeded")
            expect(task_page.locator("#stdout")).to_have_text(
                "waiting for the gate\nthe gate opened\n")
        finally:
            context.close()
            stop_process(again)


def test_a_run_page_catches_up_on_tasks_that_ended_while_the_server_was_away(home, browser,
                                                                             monkeypatch):
    """The server is away for longer than a new event stream looks back (30 s) while the tasks a
    page lists end, and the run goes on: when the stream opens again, the page reads its tasks
    again. Before, it showed eight long-finished tasks "running" until the run ended."""
    monkeypatch.setenv("WIDTH", "40")
    context = new_context(browser)
    context.add_init_script(COUNT_OPENS)
    with ui_server(home) as ui, gated_run(WIDE_FLOW, home, "wide-away", ("work", "join"),
                                          "--max-workers", "8") as (run, gates):
        run_id = wait_until(lambda: (ui.json("/api/runs?flow=WideForeachFlow&status=running")
                                     ["runs"] or [{}])[0].get("run_id"), "the run to start")
        wait_until(lambda: _running(ui, run_id) == 8, "eight work tasks held at their gate")
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/WideForeachFlow/{run_id}?step=work&status=running#tasks")
        _following(page)
        rows = page.locator("#tasks-table tbody tr")
        expect(rows.locator(".status")).to_have_text(["running"] * 8)

        stop_process(ui.proc)
        expect(page.locator("#connection")).to_contain_text("Lost the connection")
        (gates / "work").touch()
        started = gates / "join-started"
        wait_until(started.exists, "every work task to end and the join to start", 600)
        wait_until(lambda: time.time() - started.stat().st_mtime > FIRST_LOOKBACK_S + 1,
                   "the ends to be older than a new stream looks back", 120)
        again = _serve_again(home, ui.port)
        try:
            expect(page.locator("#connection")).to_have_count(0)
            expect(rows).to_have_count(0)
            expect(page.locator("#tasks-none")).to_have_text("step work has no running tasks yet.")
            expect(page.locator("#run-status")).to_have_text("running")
            (gates / "join").touch()
            expect(page.locator("#run-status")).to_have_text("succeeded")
            assert run.wait(timeout=300) == 0
        finally:
            context.close()
            stop_process(again)

def test_a_server_back_with_a_token_is_named_not_taken_for_one_away(home, browser):
    """The server comes back on the same address, now asking for a token: the runs list left
    open says the server refused to update it and what it answered, rather than that it is
    away and being tried again (before: nothing at all, the list kept as if current)."""
    made = hw(UI_FLOW, "run", cwd=home)
    assert made.returncode == 0, made.stdout + made.stderr
    context = new_context(browser)
    with ui_server(home) as ui:
        page = watched_page(context)
        page.goto(f"{ui.url}/flows/UIFlow")
        expect(page.locator("#runs-table tbody tr").first).to_be_visible()
        stop_process(ui.proc)
        again = _serve_again(home, ui.port, token="round8-secret-token")
        try:
            notice = page.locator("#connection")
            expect(notice).to_contain_text("refused to update this page")
            expect(notice).to_contain_text("401")
            expect(notice).not_to_contain_text("Lost the connection")
        finally:
            context.close()
            stop_process(again)

# -- deep links ------------------------------------------------------------------------------------

def test_a_deep_link_to_a_log_of_an_attempt_there_never_was_is_a_404_naming_it(ui, home,
                                                                                 context):
    """A log's address with an attempt the task never had (a bookmark, a number typed in) was
    an empty log, answered 200, as if the attempt had printed nothing; its lines and its find
    answered empty too. Now each is a 404 naming the task, the attempt and the ones it had."""
    made = hw(UI_FLOW, "run", cwd=home)
    assert made.returncode == 0, made.stdout + made.stderr
    run_id = ui.json("/api/runs?flow=UIFlow")["runs"][0]["run_id"]
    task = ui.json(f"/api/runs/UIFlow/{run_id}/tasks?step=wait")["tasks"][0]["task_id"]
    base = f"{ui.url}/api/tasks/UIFlow/{run_id}/wait/{task}/logs/stdout"
    page = context.new_page()
    for tail in ("?attempt=7", "/lines?attempt=7", "/find?q=gate&attempt=7"):
        answer = page.goto(base + tail)
        assert answer.status == 404, tail
        expect(page.locator("body")).to_contain_text(
            f"task UIFlow/{run_id}/wait/{task} has no attempt 7")
        expect(page.locator("body")).to_contain_text("its attempts are 0")
    answer = page.goto(base + "?attempt=0")  # the attempt it had
    assert answer.status == 200
    expect(page.locator("body")).to_contain_text("the gate opened")

# -- long names in any script, on a phone and at 200% zoom ----------------------------------------

LONG_FLOW = "ÜberLangerFlußFlowMitEinemSehrLangenNamenDerImmerWeiterGehtUndGehtUndGehtBisZumEnde"
LONG_STEP = "schritt_größe_日本語_ein_sehr_langer_schrittname_der_immer_weiter_geht"
LONG_TAG = "tag-" + "長い" * 80

# How far the page scrolls sideways, and the first elements reaching past the window (outside
# the boxes that scroll on their own: a wide table, the graph, the timelines, a log)
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const over = [...document.querySelectorAll("body *")].filter((n) =>
    n.getBoundingClientRect().right > width + 1 && !n.closest(".scroll, #dag, #timeline, #task-timeline, pre, svg"));
  return { extra: document.documentElement.scrollWidth - width,
           over: over.slice(0, 5).map((n) => `${n.tagName}#${n.id}: ${n.textContent.slice(0, 40)}`) };
}"""


@pytest.mark.parametrize("window", [
    {"viewport": {"width": 375, "height": 700}},  # a phone
    {"viewport": {"width": 640, "height": 450}, "device_scale_factor": 2},  # 1280x900 at 200%
], ids=["phone", "zoom-200"])
def test_long_names_in_any_script_never_make_a_page_scroll_sideways(ui, home, browser, window):
    """A 90-character flow name, a step named in a sentence, long tags in Japanese and Arabic:
    before, the breadcrumbs, the step picker and the flow filter's menu kept each on one line,
    wider than a phone or a laptop at 200% zoom, and every page scrolled sideways."""
    if not (home / ".headwater-long-names").exists():
        made = hw(flow_file("ui/long_names_flow.py"), "run", "--tag", LONG_TAG,
                  "--tag", "مرحبا tag with spaces & <b>markup</b>", cwd=home)
        assert made.returncode == 0, made.stdout + made.stderr
        (home / ".headwater-long-names").touch()
    flow, step = quote(LONG_FLOW), quote(LONG_STEP)
    run_id = ui.json(f"/api/runs?flow={flow}")["runs"][0]["run_id"]
    task = ui.json(f"/api/runs/{flow}/{run_id}/tasks?step={step}")["tasks"][0]
    context = new_context(browser, **window)
    page = watched_page(context)
    run = f"/runs/{LONG_FLOW}/{run_id}"
    for path, heading in (("/", "Runs"), (f"/flows/{LONG_FLOW}", f"Runs of {LONG_FLOW}"),
                          (run, f"{LONG_FLOW}/{run_id}"), (f"{run}?step={LONG_STEP}", None),
                          (f"{run}/{LONG_STEP}/{task['task_id']}",
                           f"{LONG_FLOW}/{run_id}/{LONG_STEP}/{task['task_id']}")):
        page.goto(ui.url + path)
        if heading:
            expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator("#runs-table, #tasks-table, #artifacts").first).to_be_visible()
        assert page.evaluate(SIDEWAYS) == {"extra": 0, "over": []}, path
    expect(page.get_by_role("link", name=re.compile("download مرحبا"))).to_have_count(1)
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


def test_a_task_page_in_a_browser_gone_offline_says_so_then_goes_on(ui, home, browser):
    """The browser goes offline (Playwright's ``set_offline``) while a running task's page is
    open: its next poll fails, and it says it lost the server (before: it retried in silence,
    looking live); back online, the notice goes and the page follows the task to its end."""
    context = new_context(browser)
    with held_ui_run(home, "offline-gate") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        page = context.new_page()
        page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
        expect(page.locator("#stdout")).to_contain_text("waiting for the gate")
        context.set_offline(True)
        expect(page.locator("#connection")).to_contain_text("Lost the connection")
        context.set_offline(False)
        expect(page.locator("#connection")).to_have_count(0)
        gate.touch()
        expect(page.locator("#task-status")).to_have_text("succeeded")
        expect(page.locator("#stdout")).to_have_text("waiting for the gate\nthe gate opened\n")
        assert run.wait(timeout=300) == 0
    context.close()

# -- many tabs -------------------------------------------------------------------------------------

def test_three_tabs_following_a_task_leave_room_for_more_tabs(home, browser):
    """A browser opens at most six connections to one server, shared by its tabs. A running
    task's page held two event streams (one a log): three such tabs held all six, and a fourth
    tab of the UI waited forever for its page. Now a task's page follows both logs through one."""
    context = new_context(browser)
    with ui_server(home) as ui, held_ui_run(home, "tabs-gate") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        tabs = []
        for _ in range(3):
            tab = watched_page(context)
            tab.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
            expect(tab.locator("#stdout")).to_contain_text("waiting for the gate")
            expect(tab.locator("#stderr-state")).to_have_text("following")
            tabs.append(tab)
        run_tab = watched_page(context)
        run_tab.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        expect(run_tab.locator("#run-status")).to_have_text("running")
        runs_tab = watched_page(context)
        runs_tab.goto(f"{ui.url}/")
        expect(runs_tab.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"]')
               ).to_have_count(1)
        gate.touch()
        for tab in tabs:  # each followed its logs to their end, once
            expect(tab.locator("#task-status")).to_have_text("succeeded")
            expect(tab.locator("#stdout")).to_have_text("waiting for the gate\nthe gate opened\n")
            expect(tab.locator("#stderr")).to_have_text("(no output)")
        expect(run_tab.locator("#run-status")).to_have_text("succeeded")
        assert run.wait(timeout=300) == 0
        # the stream a task's page follows: each log's text and end, named, then its own end
        url = f"{ui.url}/api/tasks/UIFlow/{run_id}/wait/{task_id}/logs/events"
        with urllib.request.urlopen(url, timeout=60) as stream:  # noqa: S310 - our own server
            assert list(sse_events(stream)) == [
                ("log", {"stream": "stdout", "attempt": 0,
                         "text": "waiting for the gate\nthe gate opened\n"}),
                ("done", {"stream": "stdout", "attempt": 0}),
                ("done", {"stream": "stderr", "attempt": 0}), ("end", {})]
        for tab in (*tabs, run_tab, runs_tab):
            problems = [p for p in tab.problems  # type: ignore[attr-defined]
                        if not p.endswith("/events net::ERR_ABORTED")]
            assert problems == [], problems
    context.close()
