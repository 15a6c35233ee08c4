"""The web UI in a real browser (Debian's Chromium driven by Playwright, as the card tests do),
against a real ``headwater ui`` server reading runs real flows made.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .faultkit import hw
from .flowrun import flow_file
from .uiserver import (
    gated_run,
    held_ui_run,
    new_context,
    running_task,
    ui_server,
    wait_until,
    watched_page,
)

UI_FLOW = flow_file("ui/ui_flow.py")
STEPS = {"start", "work", "join", "wait", "end"}
TOKEN = "browser-token-0123456789"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-browser")
    for flow, args, code in ((UI_FLOW, ("run", "--tag", "demo"), 0),
                             (flow_file("fail_flow.py"), ("run",), 1),
                             (flow_file("cards/report_flow.py"), ("run",), 0)):
        proc = hw(flow, *args, cwd=folder)
        assert proc.returncode == code, proc.stdout + proc.stderr
    return folder


@pytest.fixture
def page(context):
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.requests, page.errors = requests, errors  # type: ignore[attr-defined]
    return page


def test_runs_list_then_a_run_with_every_step_then_back(ui, page):
    page.goto(ui.url + "/")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(3)
    assert rows.nth(0).get_attribute("data-pathspec") == "ReportFlow/1"
    expect(page.locator('#runs-table tr[data-pathspec="FailFlow/1"] .status')).to_have_text(
        "failed")

    page.click("text=UIFlow/1")
    page.wait_for_url(re.compile(r"/runs/UIFlow/1$"))
    steps = page.locator("#dag g.step")
    expect(steps).to_have_count(len(STEPS))
    assert {steps.nth(i).get_attribute("data-step") for i in range(len(STEPS))} == STEPS
    for name in STEPS:
        expect(page.locator(f'#dag g.step[data-step="{name}"]')).to_have_class(
            "step succeeded")
    expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text("3 tasks")
    expect(page.locator("#dag path.edge")).to_have_count(4)
    expect(page.locator("#timeline rect.bar")).to_have_count(len(STEPS))
    expect(page.locator("#task-timeline rect.bar.succeeded")).to_have_count(7)
    expect(page.locator("#parameters")).to_contain_text("gate")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(7)
    assert "demo" in page.locator("dl.facts").inner_text()

    page.click('#tasks-table a:text("work/3")')
    page.wait_for_url(re.compile(r"/runs/UIFlow/1/work/3$"))
    expect(page.locator("#artifacts")).to_contain_text("square")

    page.go_back()
    page.wait_for_url(re.compile(r"/runs/UIFlow/1$"))
    page.go_back()
    page.wait_for_url(ui.url + "/")
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    assert all(url.startswith(ui.url) for url in page.requests), page.requests
    assert page.errors == []


def test_filters_and_the_flow_page(ui, page):
    page.goto(ui.url + "/?status=failed")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table tbody")).to_contain_text("FailFlow/1")
    page.click("#flows >> text=UIFlow")
    page.wait_for_url(re.compile(r"/flows/UIFlow$"))
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("Runs of UIFlow")


def test_a_running_tasks_log_lines_appear_live(ui, home, page):
    with held_ui_run(home, "gate-browser") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"), "the wait step to start")
        page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        expect(page.locator('#dag g.step[data-step="wait"]')).to_have_class("step running")
        expect(page.locator("#run-status")).to_have_text("running")

        task_page = page.context.new_page()
        task_page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
        expect(task_page.locator("#stdout")).to_contain_text("waiting for the gate")
        assert "the gate opened" not in task_page.locator("#stdout").inner_text()
        assert run.poll() is None  # the step is still held by the gate: the line came live
        gate.touch()
        expect(task_page.locator("#stdout")).to_contain_text("the gate opened")
        expect(task_page.locator("#stdout-state")).to_have_text("complete")

        # the run page, left open, followed the run to its end
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator('#dag g.step[data-step="end"]')).to_have_class("step succeeded")
        assert run.wait(timeout=120) == 0


def test_a_running_tasks_duration_ticks_then_stops_at_the_recorded_value(ui, home, page):
    with held_ui_run(home, "gate-duration") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"), "the wait step to start")
        page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
        run_page = page.context.new_page()
        run_page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        ticking = {"the task page's duration": page.locator("#task-duration"),
                   "its attempt's": page.locator("#attempts .attempt-duration"),
                   "the run's": run_page.locator("#run-duration"),
                   "the task's row": run_page.locator(
                       f'#tasks-table tr[data-task="wait/{task_id}"] td:nth-child(5)')}
        for what, where in ticking.items():
            expect(where, what).to_have_count(1)
            before = where.inner_text()
            expect(where, f"{what} to move on its own").not_to_have_text(before)
        assert run.poll() is None  # the step is still held by the gate
        gate.touch()

        expect(page.locator("#task-status")).to_have_text("succeeded")
        task = ui.json(f"/api/tasks/UIFlow/{run_id}/wait/{task_id}")
        recorded = page.evaluate("([a, b]) => duration(a, b)", [task["created_at"], task["finished_at"]])
        expect(page.locator("#task-duration")).to_have_text(recorded)
        assert page.locator("#task-duration").get_attribute("data-since") is None

        expect(run_page.locator("#run-status")).to_have_text("succeeded")
        head = ui.json(f"/api/runs/UIFlow/{run_id}")
        recorded = run_page.evaluate("([a, b]) => duration(a, b)", [head["created_at"], head["finished_at"]])
        expect(run_page.locator("#run-duration")).to_have_text(recorded)
        assert run_page.locator("[data-since]").count() == 0  # nothing ticks on a finished run
        assert run.wait(timeout=120) == 0


def test_new_tasks_appear_live_on_a_later_page_and_are_counted_on_a_full_one(ui, home, page):
    with gated_run(flow_file("ui/growing_flow.py"), home, "growing-gates",
                   ("hold", "more")) as (run, gates):
        run_id, _ = wait_until(lambda: running_task(ui, "GrowingFlow", "hold"), "the hold step")
        # 108 tasks so far (start, 105 work, join, hold): page 2 lists 101-108, page 1 is full
        page.goto(f"{ui.url}/runs/GrowingFlow/{run_id}?offset=100")
        rows = page.locator("#tasks-table tbody tr")
        expect(rows).to_have_count(8)
        expect(page.locator("#tasks-range")).to_have_text("tasks 101–108 of 108")
        first = page.context.new_page()
        first.goto(f"{ui.url}/runs/GrowingFlow/{run_id}")
        expect(first.locator("#tasks-table tbody tr")).to_have_count(100)
        expect(first.locator("#new-tasks")).to_be_hidden()

        (gates / "hold").touch()  # three `late` tasks start, and wait for the second gate
        expect(rows).to_have_count(11)
        expect(page.locator("#tasks-range")).to_have_text("tasks 101–111 of 111")
        assert run.poll() is None and page.locator("#run-status").inner_text() == "running"
        listed = ui.json(f"/api/runs/GrowingFlow/{run_id}/tasks?offset=100")["tasks"]
        assert [rows.nth(i).get_attribute("data-task") for i in range(11)] == \
            [f"{t['step']}/{t['task_id']}" for t in listed]  # registration order
        expect(page.locator('#tasks-table tbody tr[data-task^="late/"] .status')).to_have_text(
            ["running"] * 3)
        # the full first page keeps its rows and says where the new ones are
        expect(first.locator("#new-tasks")).to_contain_text("3 new tasks since this page opened")
        expect(first.locator("#new-tasks a")).to_have_attribute(
            "href", re.compile(r"offset=100#tasks$"))
        expect(first.locator("#tasks-table tbody tr")).to_have_count(100)

        (gates / "more").touch()
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator("#tasks-range")).to_have_text("tasks 101–113 of 113")
        assert run.wait(timeout=120) == 0


def test_a_sorted_task_list_keeps_its_order_live_in_place(ui, home, browser):
    """A run's task list sorted by status, newest state first, while its tasks end one by one
    in an order the test picks: each task that ends moves to where the sort puts it, the rows
    that did not change stay the same elements (no redraw, no flicker), the window keeps its
    scroll position, and each read is one sorted page from the server."""
    context = new_context(browser, viewport={"width": 1000, "height": 420})
    page = watched_page(context)
    reads: list[str] = []
    # the task list's reads; not the finished run's one question for the tasks @catch caught
    page.on("request", lambda r: reads.append(r.url)
            if "/tasks?" in r.url and "status=caught" not in r.url else None)
    try:
        with gated_run(flow_file("ui/sorted_live_flow.py"), home, "sorted-gates",
                       tuple(f"done-{i}" for i in range(4))) as (run, gates):
            def four_running():
                runs = ui.json("/api/runs?flow=SortedLiveFlow&status=running")["runs"]
                if not runs:
                    return None
                listed = ui.json(f"/api/runs/SortedLiveFlow/{runs[0]['run_id']}/tasks"
                                 "?step=work&status=running")["tasks"]
                return (runs[0]["run_id"], listed) if len(listed) == 4 else None

            run_id, listed = wait_until(four_running, "the four work tasks to start")
            by_item = {t["foreach_index"]: f"work/{t['task_id']}" for t in listed}
            page.goto(f"{ui.url}/runs/SortedLiveFlow/{run_id}?step=work&sort=status"
                      "&order=desc#tasks")
            rows = page.locator("#tasks-table tbody tr")
            first_column = page.locator("#tasks-table tbody tr td:first-child")
            expect(first_column).to_have_text([by_item[i] for i in range(4)])
            expect(rows.locator(".status")).to_have_text(["running"] * 4)
            page.evaluate("() => { for (const r of document.querySelectorAll("
                          "'#tasks-table tbody tr')) r.dataset.kept = 'yes'; }")
            scrolled = page.evaluate("() => window.scrollY")
            assert scrolled > 0  # the page opened at its task list, below the graph

            (gates / "done-2").touch()  # item 2 ends: succeeded sorts first (descending)
            expect(first_column).to_have_text([by_item[i] for i in (2, 0, 1, 3)])
            expect(rows.locator(".status")).to_have_text(["succeeded"] + ["running"] * 3)
            # the rows whose task did not change are the very elements drawn before
            expect(page.locator("#tasks-table tbody tr[data-kept]")).to_have_count(3)
            assert page.evaluate("() => window.scrollY") == scrolled

            (gates / "done-0").touch()  # ties keep registration order: 0 before 2
            expect(first_column).to_have_text([by_item[i] for i in (0, 2, 1, 3)])
            expect(rows.locator(".status")).to_have_text(["succeeded"] * 2 + ["running"] * 2)
            expect(page.locator("#tasks-table tbody tr[data-kept]")).to_have_count(2)
            assert page.evaluate("() => window.scrollY") == scrolled
            assert page.locator("#run-status").inner_text() == "running"

            for i in (1, 3):
                (gates / f"done-{i}").touch()
            expect(page.locator("#run-status")).to_have_text("succeeded")
            expect(first_column).to_have_text([by_item[i] for i in range(4)])
            assert run.wait(timeout=120) == 0
        # every read was one page, sorted on the server, never the whole list
        assert len(reads) >= 3
        for url in reads:
            assert "sort=status" in url and "order=desc" in url and "limit=100" in url, url
        assert page.problems == []
    finally:
        context.close()


def test_a_live_card_changes_on_the_open_task_page_then_becomes_final(ui, home, page):
    with gated_run(flow_file("ui/live_card_ui_flow.py"), home, "live-card-gates",
                   ("one", "two")) as (run, gates):
        def live_task():
            found = running_task(ui, "LiveCardUIFlow", "start")
            where = found and f"/LiveCardUIFlow/{found[0]}/start/{found[1]}"
            return where if where and ui.json(f"/api/tasks{where}")["cards"] else None

        where = wait_until(live_task, "the live card's first render")
        page.goto(f"{ui.url}/runs{where}")
        card = page.frame_locator("iframe.card")
        expect(page.locator("#cards h3")).to_contain_text("live")
        expect(card.locator("body")).to_contain_text("phase one")
        (gates / "one").touch()
        # the same page, never reloaded by the test, shows the second render while the task runs
        expect(card.locator("body")).to_contain_text("phase two")
        assert run.poll() is None and page.locator("#task-status").inner_text() == "running"
        (gates / "two").touch()
        expect(page.locator("#task-status")).to_have_text("succeeded")
        expect(card.locator("body")).to_contain_text("phase three")
        expect(page.locator("#cards h3")).not_to_contain_text("live")
        assert run.wait(timeout=120) == 0


def test_a_cards_vega_chart_is_drawn_inside_its_sandbox(ui, page):
    page.goto(f"{ui.url}/runs/ReportFlow/1/start/1")
    frame_element = page.locator("iframe.card")
    expect(frame_element).to_have_count(1)
    sandbox = frame_element.get_attribute("sandbox")
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox
    card = page.frame_locator("iframe.card")
    expect(card.locator("h1", has_text="Training report")).to_be_visible()
    expect(card.locator('.hw-vega[data-drawn="true"]')).to_have_count(1)
    expect(card.locator(".hw-vega svg .mark-rect path")).to_have_count(3)
    # the card's own scripts ran, and none of them could read the UI's origin
    origin = card.locator("body").evaluate("() => { try { return parent.document.title } "
                                           "catch (e) { return 'blocked' } }")
    assert origin == "blocked"
    # the frame fits the card: all of it shows, with no scroll bar inside the frame
    expect(frame_element).to_have_attribute("data-fitted", "true")
    content = card.locator("html").evaluate("e => Math.ceil(e.getBoundingClientRect().height)")
    page.wait_for_function("h => Math.abs(document.querySelector('iframe.card')"
                           ".getBoundingClientRect().height - (h + 2)) <= 1", arg=content)
    assert card.locator("html").evaluate("e => e.scrollHeight <= window.innerHeight")
    card.locator("svg.hw-dag").scroll_into_view_if_needed()  # painted for the picture


def test_a_failed_tasks_error_and_traceback_are_shown(ui, page):
    task_id = ui.json("/api/runs/FailFlow/1/tasks?step=a")["tasks"][0]["task_id"]
    page.goto(f"{ui.url}/runs/FailFlow/1/a/{task_id}")
    expect(page.locator("#task-status")).to_have_text("failed")
    expect(page.locator(".failure")).to_contain_text("boom in a")
    expect(page.locator("pre.traceback")).to_contain_text('raise ValueError("boom in a")')
    expect(page.locator("#stdout")).to_contain_text("a is about to fail")


def test_with_a_token_the_browser_needs_the_link(home, browser):
    with ui_server(home, token=TOKEN) as server:
        context = new_context(browser)
        page = context.new_page()
        response = page.goto(server.url + "/")
        assert response.status == 401
        page.goto(f"{server.url}/runs/UIFlow/1?token={TOKEN}")
        page.wait_for_url(re.compile(r"/runs/UIFlow/1$"))  # the token left the address bar
        expect(page.locator("#dag g.step")).to_have_count(len(STEPS))
        context.close()
