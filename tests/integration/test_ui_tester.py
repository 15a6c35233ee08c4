"""The web UI as an outside tester's suite drives it (Debian's Chromium through Playwright),
knowing only README.md and docs/ui.md: ``get_by_role`` selectors on named tables, a mistyped
step in any address a 404 naming it, a task's metadata as the client gives it, a task whose
step ``@catch`` caught marked as the client sees it, filters with clean addresses, and a phone's
width never scrolling sideways.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .faultkit import client, fault_flow, hw
from .flowrun import flow_file, hermetic_env, start_cli
from .uiserver import (
    DEADLINE_MS,
    gated_run,
    new_context,
    running_task,
    wait_until,
    watched_page,
)

expect.set_options(timeout=DEADLINE_MS)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """UIFlow/1 (a parameter, a foreach, tags), FirstTryFailsFlow/1, whose middle step
    raises and ``@catch`` (given with ``--with``) catches: the run goes on and succeeds, and
    WideJoinFlow/1, whose join has 25 inputs."""
    folder = tmp_path_factory.mktemp("ui-tester")
    made = (hw(flow_file("ui/ui_flow.py"), "run", "--tag", "nightly", cwd=folder),
            hw(fault_flow("first_try_fails_flow.py"), "--with", "catch:var=oops", "run",
               cwd=folder, FIRST_TRY_FAILS="middle"),
            hw(flow_file("ui/wide_join_flow.py"), "run", cwd=folder))
    for proc in made:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def _task_id(ui, flow: str, step: str) -> str:
    return ui.json(f"/api/runs/{flow}/1/tasks?step={step}")["tasks"][0]["task_id"]


def test_tables_are_named_so_get_by_role_finds_them(ui, context):
    page = watched_page(context)
    page.goto(f"{ui.url}/")
    runs = page.get_by_role("table", name="runs")
    expect(runs.get_by_role("row")).to_have_count(4)  # its header and three runs
    expect(runs.get_by_role("columnheader", name="status")).to_be_visible()
    runs.get_by_role("link", name="UIFlow/1").click()
    expect(page).to_have_title("UIFlow/1 · headwater")
    expect(page.get_by_role("heading", level=1)).to_have_text("UIFlow/1")
    parameters = page.get_by_role("table", name="parameters")
    expect(parameters.get_by_role("row", name=re.compile("gate"))).to_have_count(1)
    tasks = page.get_by_role("table", name="tasks")
    expect(tasks.get_by_role("row")).to_have_count(1 + 7)  # start, 3 work, join, wait, end
    tasks.get_by_role("link", name="start/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^UIFlow/1/start/"))
    artifacts = page.get_by_role("table", name="artifacts")
    expect(artifacts.get_by_role("row", name=re.compile("greeting"))).to_contain_text(
        "hello from start")
    expect(page.get_by_role("table", name="metadata")).to_be_visible()
    expect(artifacts.get_by_role("link", name="download greeting")).to_have_attribute(
        "href", re.compile(r"/artifact\?name=greeting$"))
    expect(page.get_by_label("stdout", exact=True)).to_be_visible()  # the logs, by name
    expect(page.get_by_label("stderr", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="stdout as plain text")).to_have_attribute(
        "href", re.compile(r"/logs/stdout\?attempt=0$"))
    expect(page.get_by_role("navigation", name="breadcrumbs").locator("[aria-current=page]")
           ).to_have_text(re.compile(r"^\d+$"))  # the task's id: where the page is
    assert page.problems == []


def test_a_task_shows_its_metadata_as_the_client_gives_it(ui, home, context):
    task_id = _task_id(ui, "UIFlow", "work")
    client(home)
    from headwater import Task

    facts = Task(f"UIFlow/1/work/{task_id}").metadata_dict
    assert facts["attempt_ok"] == "True" and "foreach-stack" in facts, facts
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/UIFlow/1/work/{task_id}")
    table = page.get_by_role("table", name="metadata")
    for name in ("attempt", "attempt_ok", "script-name", "foreach-execution-path"):
        row = table.locator(f'tr[data-name="{name}"]')
        expect(row.locator("td").nth(1)).to_have_text(str(facts[name]))
    answer = ui.json(f"/api/tasks/UIFlow/1/work/{task_id}")
    assert answer["metadata_error"] is None
    listed = {m["name"]: m["value"] for m in answer["metadata"]}
    assert json.loads(listed["foreach-stack"]) == facts["foreach-stack"]  # a list, as JSON
    assert page.problems == []


def test_a_step_catch_caught_is_marked_as_the_client_reads_it(ui, home, context):
    task_id = _task_id(ui, "FirstTryFailsFlow", "middle")
    client(home)
    from headwater import Run, Task

    task = Task(f"FirstTryFailsFlow/1/middle/{task_id}")
    assert task.finished and not task.successful  # the client: it ran, it did not succeed
    assert Run("FirstTryFailsFlow/1").successful  # the flow went on past it
    assert ui.json(f"/api/tasks/FirstTryFailsFlow/1/middle/{task_id}")["caught"] is True
    assert "caught" not in ui.json("/api/runs/FirstTryFailsFlow/1/tasks?step=end")["tasks"][0]
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/FirstTryFailsFlow/1")
    expect(page.locator(f'#tasks-table tr[data-task="middle/{task_id}"] .caught')
           ).to_have_text("caught")
    expect(page.locator("#tasks-table .caught")).to_have_count(1)
    page.locator(f'#tasks-table tr[data-task="middle/{task_id}"] a').first.click()
    expect(page.locator("#task-status + .caught")).to_have_text("caught")
    expect(page.locator('.attempt[data-attempt="0"] .failure')).to_contain_text(
        "RuntimeError: middle fails on attempt 0")
    assert page.problems == []


def test_a_mistyped_step_in_any_address_is_a_404_naming_it(ui, context):
    wrong = ("/runs/UIFlow/1/wrok", "/runs/UIFlow/1?step=wrok", "/runs/UIFlow/1/wrok/1")
    for path in wrong:
        status, _, body = ui.get(path)
        assert status == 404, (path, status)
        assert b"no step wrok in run UIFlow/1" in body, body
        assert b"start, work, join, wait, end" in body, body  # the steps it has
    status, _, body = ui.get("/api/runs/UIFlow/1/tasks?step=wrok")  # the API says so too
    assert status == 404 and json.loads(body) == {
        "error": "no step wrok in run UIFlow/1",
        "fix": "pick one of its steps: start, work, join, wait, end"}, body
    page = context.new_page()
    answer = page.goto(f"{ui.url}/runs/UIFlow/1/wrok")
    assert answer is not None and answer.status == 404
    expect(page).to_have_title("Not found · headwater")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main .error")).to_have_text("no step wrok in run UIFlow/1")
    page.get_by_role("link", name="All runs").click()
    expect(page.get_by_role("table", name="runs")).to_be_visible()
    # the real step still leads to its tasks, on a page titled by the step's pathspec
    assert ui.get("/runs/UIFlow/1/work")[0] == 303
    page.goto(f"{ui.url}/runs/UIFlow/1/work")
    expect(page).to_have_url(f"{ui.url}/runs/UIFlow/1?step=work#tasks")
    expect(page).to_have_title("UIFlow/1/work · headwater")
    expect(page.get_by_role("table", name="tasks").locator("tbody tr")).to_have_count(3)


def test_filters_keep_empty_fields_out_of_the_address(ui, context):
    page = watched_page(context)
    page.goto(f"{ui.url}/")
    page.get_by_label("status").select_option("succeeded")
    page.get_by_label("tag").fill("nightly")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{ui.url}/?status=succeeded&tag=nightly")
    expect(page.get_by_role("table", name="runs").locator("tbody tr")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(f"{ui.url}/")
    expect(page.get_by_role("table", name="runs").locator("tbody tr")).to_have_count(3)
    page.get_by_label("user").fill("nobody-here")  # the form works again after going back
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{ui.url}/?user=nobody-here")
    expect(page.locator("#no-runs-match")).to_have_text(
        "No runs match user “nobody-here”. show every run")
    assert page.problems == []


def test_a_phones_width_never_scrolls_the_page_sideways(ui, browser):
    context = new_context(browser, viewport={"width": 360, "height": 740})
    try:
        page = watched_page(context)
        task_id = _task_id(ui, "UIFlow", "start")
        for path, ready in (("/", "#flows li"), ("/runs/UIFlow/1", "#timeline svg"),
                            (f"/runs/UIFlow/1/start/{task_id}", "#stderr-state")):
            page.goto(ui.url + path)
            expect(page.locator(ready).first).to_be_visible()
            if ready.endswith("-state"):  # the logs are read after the page is drawn
                expect(page.locator("#stdout-state")).to_have_text("complete")
                expect(page.locator(ready)).to_have_text("complete")
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= 360, (path, wide)
        assert page.problems == []
    finally:
        context.close()


def test_a_join_of_many_lists_a_few_inputs_and_links_to_the_rest(ui, context):
    """25 inputs are not 25 stops for the Tab key: ten links, then the step's task list."""
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/WideJoinFlow/1/join/{_task_id(ui, 'WideJoinFlow', 'join')}")
    inputs = page.locator("#inputs")
    expect(inputs.get_by_role("link", name="work/")).to_have_count(10)
    expect(inputs).to_contain_text("and 15 more of step work")
    inputs.get_by_role("link", name="the tasks of work").click()
    expect(page).to_have_url(f"{ui.url}/runs/WideJoinFlow/1?step=work#tasks")
    expect(page.get_by_role("table", name="tasks").locator("tbody tr")).to_have_count(25)
    assert page.problems == []


AT_END = "e => e.scrollHeight - e.scrollTop - e.clientHeight < 24"


def test_a_log_longer_than_its_box_is_followed_at_its_end(ui, home, context):
    gate = home / "chatty-gate"
    run = start_cli(flow_file("ui/chatty_flow.py"), "run", "--gate", str(gate), cwd=home,
                    env={**hermetic_env(), "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    try:
        run_id, task_id = wait_until(lambda: running_task(ui, "ChattyFlow", "talk"),
                                     "the talk step to start")
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/ChattyFlow/{run_id}/talk/{task_id}")
        log = page.get_by_label("stdout", exact=True)
        expect(page.locator("#stdout-state")).to_have_text("following")
        expect(log).to_contain_text("line 199 of the chatter")
        assert log.evaluate("e => e.scrollHeight > e.clientHeight")  # longer than its box
        wait_until(lambda: log.evaluate(AT_END), "the live log to show its end")
        gate.touch()
        # the task ends: the page is drawn afresh, its final log opened at its end
        expect(page.locator("#task-status")).to_have_text("succeeded")
        expect(page.locator("#stdout-state")).to_have_text("complete")
        expect(log).to_contain_text("the last line")
        wait_until(lambda: log.evaluate(AT_END), "the finished log to open at its end")
        assert run.wait(timeout=120) == 0
        assert page.problems == []
    finally:
        gate.touch()
        run.wait(timeout=120)
        run.stdout.close()
        run.stderr.close()


def _order(ui, query: str) -> list[str]:
    return [t["task_id"] for t in ui.json(f"/api/runs/WideJoinFlow/1/tasks?step=work&{query}")["tasks"]]


def _took(task: dict) -> float:
    return task["finished_at"] - task["created_at"]


def test_the_tasks_api_sorts_across_pages(ui):
    listed = ui.json("/api/runs/WideJoinFlow/1/tasks?step=work")["tasks"]
    assert len(listed) == 25
    by_id = sorted(listed, key=lambda t: int(t["task_id"]))
    slowest = sorted(listed, key=_took, reverse=True)  # ties keep registration order
    for sort, order, want in (("task", "desc", [t["task_id"] for t in reversed(by_id)]),
                              ("task", "asc", [t["task_id"] for t in by_id]),
                              ("duration", "desc", [t["task_id"] for t in slowest])):
        pages, offset = [], 0
        while True:  # pages of 10: the order holds across them, not only inside one
            page = ui.json(f"/api/runs/WideJoinFlow/1/tasks?step=work&sort={sort}"
                           f"&order={order}&limit=10&offset={offset}")
            assert (page["sort"], page["order"]) == (sort, order)
            pages += [t["task_id"] for t in page["tasks"]]
            if not page["more"]:
                break
            offset += 10
        assert pages == want, (sort, order)
    for bad, named in (("sort=colour", "colour"), ("sort=task&order=up", "up")):
        status, _, body = ui.get(f"/api/runs/WideJoinFlow/1/tasks?{bad}")
        assert status == 404
        assert named in json.loads(body)["error"] and json.loads(body)["fix"]


def test_the_task_list_sorts_by_its_headers_and_the_address_keeps_it(ui, context):
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/WideJoinFlow/1?step=work")
    tasks = page.get_by_role("table", name="tasks")
    expect(tasks.locator("tbody tr")).to_have_count(25)
    listed = ui.json("/api/runs/WideJoinFlow/1/tasks?step=work")["tasks"]
    quickest = [f"work/{t['task_id']}" for t in sorted(listed, key=_took)]
    slowest = [f"work/{t['task_id']}" for t in sorted(listed, key=_took, reverse=True)]
    first_column = tasks.locator("tbody tr td:first-child")

    duration = tasks.get_by_role("columnheader", name="duration")
    duration.get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=duration&order=asc"))
    expect(duration).to_have_attribute("aria-sort", "ascending")
    expect(first_column).to_have_text(quickest)
    duration.get_by_role("button").click()  # again: the other way round
    expect(page).to_have_url(re.compile(r"[?&]sort=duration&order=desc"))
    expect(duration).to_have_attribute("aria-sort", "descending")
    expect(first_column).to_have_text(slowest)
    page.reload()  # the address keeps the order
    expect(duration).to_have_attribute("aria-sort", "descending")
    expect(first_column).to_have_text(slowest)
    expect(tasks.get_by_role("columnheader", name="status")).not_to_have_attribute(
        "aria-sort", re.compile("."))

    # by keyboard: the task column's button, reached and pressed without a mouse
    task = tasks.get_by_role("columnheader", name="task")
    task.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]sort=task&order=asc"))
    expect(task).to_have_attribute("aria-sort", "ascending")
    ids = sorted(int(t["task_id"]) for t in listed)
    expect(first_column).to_have_text([f"work/{i}" for i in ids])
    # a step picked keeps the order; so does a deep link
    page.goto(f"{ui.url}/runs/WideJoinFlow/1?step=work&sort=task&order=desc")
    expect(first_column).to_have_text([f"work/{i}" for i in reversed(ids)])
    expect(page.get_by_role("link", name="start", exact=True)).to_have_attribute(
        "href", re.compile(r"sort=task&order=desc"))
    assert page.problems == []


def test_a_find_box_over_each_log_lists_the_lines_that_match(ui, context):
    task_id = _task_id(ui, "UIFlow", "wait")
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/UIFlow/1/wait/{task_id}")
    log = page.get_by_label("stdout", exact=True)
    expect(log).to_contain_text("the gate opened")
    find = page.get_by_role("searchbox", name="find in stdout")
    expect(page.get_by_role("searchbox", name="find in stderr")).to_be_visible()
    find.focus()
    page.keyboard.type("GATE")  # any case
    hits = page.locator("#stdout-hits")
    expect(page.locator("#stdout-matches")).to_have_text("2 matching lines")
    expect(hits.locator(".line")).to_have_text(["waiting for the gate", "the gate opened"])
    expect(hits.locator("mark")).to_have_text(["gate", "gate"])
    expect(log).to_be_hidden()
    find.fill("Opened")
    expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
    expect(hits.locator(".line")).to_have_text(["the gate opened"])
    find.fill("no such words")
    expect(page.locator("#stdout-matches")).to_have_text("0 matching lines")
    page.keyboard.press("Escape")  # empties the box: the whole log again
    expect(find).to_have_value("")
    expect(log).to_be_visible()
    expect(hits).to_be_hidden()
    expect(page.locator("#stdout-matches")).to_have_text("")
    assert page.problems == []


def test_finding_covers_a_whole_log_larger_than_the_page_loads(ui, home, context):
    made = hw(flow_file("ui/big_log_flow.py"), "run", cwd=home)
    assert made.returncode == 0, made.stdout + made.stderr
    task_id = _task_id(ui, "BigLogFlow", "start")
    logs = f"/api/tasks/BigLogFlow/1/start/{task_id}/logs/stdout"
    # the API: plain text in any case, over the whole stored log, with line numbers
    found = ui.json(f"{logs}/find?q=needle")
    assert found["count"] == 2 and found["counted_all"] and not found["more"]
    early, late = found["matches"]
    assert early["text"] == "an early NEEDLE, far above what the page loads"
    assert late["text"] == "a late needle, in what the page loads"
    assert late["line"] - early["line"] == 30002 and found["lines"] >= late["line"]
    pattern = ui.json(f"{logs}/find?q=" + quote("(a+)+$ .* [X]"))  # text, not a pattern
    assert [m["line"] for m in pattern["matches"]] == [late["line"] - 1]
    assert ui.json(f"{logs}/find?q=" + quote("needle.*page"))["count"] == 0
    window = ui.json(f"{logs}/lines?from={early['line']}&count=2")
    assert window["lines"] == [early["text"], "filler line 00000 of the big log, nothing to see here"]
    assert [m["line"] for m in ui.json(f"{logs}/find?q=filler&limit=3")["matches"]] == [
        early["line"] + 1, early["line"] + 2, early["line"] + 3]
    for bad, named in (("q=" + "x" * 201, "201 characters"), ("q=", "empty"),
                       ("q=a%0Ab", "line break")):
        status, _, body = ui.get(f"{logs}/find?{bad}")
        assert status == 404, bad
        assert named in json.loads(body)["error"] and json.loads(body)["fix"]

    # the page: it loads the log's last MiB, yet the find box finds a line above it
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/BigLogFlow/1/start/{task_id}")
    log = page.get_by_label("stdout", exact=True)
    expect(log).to_contain_text("a late needle")
    expect(page.locator("#stdout-cut")).to_contain_text("Showing the last")
    assert "an early NEEDLE" not in log.inner_text()
    find = page.get_by_role("searchbox", name="find in stdout")
    find.fill("needle")
    expect(page.locator("#stdout-matches")).to_have_text("2 matching lines in the whole log")
    hits = page.locator("#stdout-hits")
    expect(hits.locator(".line")).to_have_text([f"line {early['line']} {early['text']}",
                                                f"line {late['line']} {late['text']}"])
    expect(hits.locator("mark")).to_have_text(["NEEDLE", "needle"])
    expect(log).to_be_hidden()
    # jump to the match the page had not loaded: the lines around it, read from the server
    page.get_by_role("button", name=f"show line {early['line']} in its place").click()
    around = page.locator("#stdout-around")
    expect(around).to_be_visible()
    expect(around).to_contain_text(f"around line {early['line']}")
    expect(around.locator(".target")).to_have_text(early["text"])
    expect(around.locator(".target mark")).to_have_text("NEEDLE")
    expect(around.locator(".line").nth(early["line"])).to_contain_text("filler line 00000")
    expect(hits).to_be_hidden()
    page.get_by_role("button", name="back to the matches").click()
    expect(hits).to_be_visible()
    expect(around).to_be_hidden()
    find.fill("(a+)+$")  # what looks like a pattern is looked for as it is
    expect(page.locator("#stdout-matches")).to_have_text("1 matching line in the whole log")
    find.focus()
    page.keyboard.press("Escape")
    expect(log).to_be_visible()
    expect(hits).to_be_hidden()
    expect(page.locator("#stdout-matches")).to_have_text("")
    assert page.problems == []


def test_finding_in_a_live_log_larger_than_the_page_keeps_up_as_it_grows(ui, home, context):
    with gated_run(flow_file("ui/big_live_log_flow.py"), home, "big-live-gates",
                   ("more", "end")) as (run, gates):
        run_id, task_id = wait_until(lambda: running_task(ui, "BigLiveLogFlow", "start"),
                                     "the start step to start")
        logs = f"/api/tasks/BigLiveLogFlow/{run_id}/start/{task_id}/logs/stdout"
        wait_until(lambda: ui.json(f"{logs}/find?q=filler+done")["count"],
                   "the live log to hold its filler")
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/BigLiveLogFlow/{run_id}/start/{task_id}")
        expect(page.locator("#stdout-state")).to_have_text("following")
        expect(page.locator("#stdout-cut")).to_contain_text("Showing the last")
        page.get_by_role("searchbox", name="find in stdout").fill("NEEDLE")
        matches = page.locator("#stdout-matches")
        expect(matches).to_have_text("1 matching line in the whole log")
        expect(page.locator("#stdout-hits .line")).to_have_text(
            ["line 1 the first needle, far above what the page loads"])
        (gates / "more").touch()  # the log grows: the list follows it
        expect(matches).to_have_text("2 matching lines in the whole log")
        expect(page.locator("#stdout-hits .line").nth(1)).to_contain_text(
            "the second needle, written while the page is open")
        page.get_by_role("button", name="show line 1 in its place").click()
        expect(page.locator("#stdout-around .target")).to_have_text(
            "the first needle, far above what the page loads")
        assert page.locator("#task-status").inner_text() == "running"
        (gates / "end").touch()
        expect(page.locator("#task-status")).to_have_text("succeeded")
        assert run.wait(timeout=120) == 0
        assert page.problems == []
