"""The sixth browser round: the UI used as readers coming from the Metaflow UI, Prefect and
Dagster use it, in a real browser (Debian's Chromium driven by Playwright) against a real
``headwater ui`` server over runs real flows made.

- A task page left open on a @retry step through all its attempts keeps following it (each
  redraw closes the log streams of the drawing before: left open they took the browser's six
  connections to the server and the page stopped following at the third attempt), and the
  reader keeps the keyboard focus and what was typed in a find box.
- A run page left open keeps the focused link focused as its row changes and as the page is
  drawn afresh at the run's end, and does not jump back to ``#tasks``.
- A log or a card whose blob was deleted from the datastore says so where it would be shown,
  naming the blob and the fix (not "cannot read: 500", not the browser's blank frame).
- A nested foreach's ``foreach-stack`` shows its values in their own script.

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
    DEADLINE_MS,
    gated_run,
    running_task,
    ui_server,
    wait_until,
    watched_page,
)

RETRY_FLOW = flow_file("ui/retry_gate_flow.py")
GATES = ("a0", "a1", "a2", "a3")
expect.set_options(timeout=DEADLINE_MS)  # a loaded machine: the page may take its time


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-round6")
    for flow in ("ui/nested_foreach_flow.py", "ui/wide_split_flow.py", "ui/long_name_flow.py"):
        proc = hw(flow_file(flow), "run", cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def _attempts(page) -> int:  # type: ignore[no-untyped-def]
    return page.locator("#attempts section.attempt").count()


def test_a_task_page_follows_every_attempt_of_a_retried_step(ui, home, context):
    with gated_run(RETRY_FLOW, home, "gates-retry", GATES) as (run, gates):
        run_id, task_id = wait_until(lambda: running_task(ui, "RetryGateFlow", "hold"),
                                     "the hold step to start")
        run_page = watched_page(context)
        run_page.goto(f"{ui.url}/runs/RetryGateFlow/{run_id}")
        row_link = run_page.locator(f'#tasks-table a:text-is("hold/{task_id}")')
        row_link.focus()

        page = watched_page(context)
        page.goto(f"{ui.url}/runs/RetryGateFlow/{run_id}/hold/{task_id}")
        expect(page.locator("#stdout")).to_contain_text("attempt 0 waiting for its gate")
        page.locator("#stdout-find").fill("waiting")
        expect(page.locator("#stdout-matches")).to_have_text("1 matching line")

        for attempt in (1, 2, 3):
            (gates / f"a{attempt - 1}").touch()
            # the page is drawn afresh for the new attempt, and goes on following it
            expect(page.locator("#attempts section.attempt")).to_have_count(attempt + 1)
            expect(page.locator(f'#attempts section[data-attempt="{attempt - 1}"] .failure')
                   ).to_contain_text(f"attempt {attempt - 1} fails on purpose")
            expect(page.locator("#stdout-hits")).to_contain_text(f"attempt {attempt} waiting")
            # the find box kept its text and its focus through the redraw
            expect(page.locator("#stdout-find")).to_have_value("waiting")
            expect(page.locator("#stdout-find")).to_be_focused()
            # the old attempt's log streams were closed: two streams at most, whatever the count
            assert page.evaluate("streams.size") <= 2
            # the run page's row of the task changed (its attempts), its link still focused
            expect(run_page.locator(f'#tasks-table tr[data-task="hold/{task_id}"] td:nth-child(6)'
                                    )).to_have_text(str(attempt + 1))
            expect(row_link).to_be_focused()
        assert run.poll() is None  # the last attempt is still held: all of it came live

        (gates / "a3").touch()
        expect(page.locator("#task-status")).to_have_text("succeeded")
        expect(page.locator("#stdout")).to_contain_text("the last attempt passes")
        assert _attempts(page) == 4
        expect(run_page.locator("#run-status")).to_have_text("succeeded")
        # the run page was drawn afresh at the run's end: the reader's link is focused again
        expect(row_link).to_be_focused()
        assert run.wait(timeout=300) == 0
        # aborting a stream on purpose is no problem; anything else is
        for which in (page, run_page):
            assert [p for p in which.problems if "ERR_ABORTED" not in p] == [], which.problems


def test_a_run_page_opened_at_its_tasks_stays_where_the_reader_scrolled_when_the_run_ends(
        ui, home, context):
    with gated_run(RETRY_FLOW, home, "gates-scroll", GATES) as (run, gates):
        run_id, _ = wait_until(lambda: running_task(ui, "RetryGateFlow", "hold"),
                               "the hold step to start")
        page = watched_page(context)
        page.set_viewport_size({"width": 1280, "height": 400})
        page.goto(f"{ui.url}/runs/RetryGateFlow/{run_id}#tasks")
        expect(page.locator("#tasks-table tbody tr")).to_have_count(2)
        wait_until(lambda: page.evaluate("window.scrollY") > 0, "the page to open at its tasks")
        page.evaluate("window.scrollTo(0, 0)")  # the reader goes up to the graph
        for gate in GATES:
            (gates / gate).touch()
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator('#dag g.step[data-step="end"]')).to_have_class("step succeeded")
        assert page.evaluate("window.scrollY") == 0  # not taken back down to the tasks
        assert run.wait(timeout=300) == 0
        assert page.problems == []


def test_a_log_and_a_card_whose_blobs_were_deleted_say_so_where_they_would_be(tmp_path, context):
    proc = hw(flow_file("ui/nested_foreach_flow.py"), "--with", "card", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as ui:
        task = ui.json("/api/runs/NestedFlow/1/tasks?step=start")["tasks"][0]["task_id"]
        for blob in (tmp_path / ".headwater" / "blobs").rglob("*"):
            if blob.is_file():
                blob.unlink()  # the datastore's folder emptied under a running UI
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/NestedFlow/1/start/{task}")
        error = page.locator("#stdout-error")
        expect(error).to_contain_text(f"stdout of NestedFlow/1/start/{task}")
        expect(error).to_contain_text("is missing from")
        expect(error).to_contain_text("Fix: check the datastore root")
        expect(page.locator("#stdout-state")).to_have_text("cannot read")
        frame = page.frame_locator("iframe.card").first
        expect(frame.locator(".card-error")).to_contain_text(
            f"card 0 (default) of task NestedFlow/1/start/{task}")
        expect(frame.locator("body")).to_contain_text("Fix: check the datastore root")
        expect(page.locator("iframe.card").first).to_have_attribute("data-fitted", "true")
        # the only problems are the two answers that say the blobs are gone
        assert all(re.match(r"(500: |console error: Failed to load resource)", p)
                   for p in page.problems), page.problems
        assert any("/cards/0" in p for p in page.problems), page.problems
        # a script asking for the card still gets the JSON error, not a page
        status, headers, _ = ui.get(f"/api/tasks/NestedFlow/1/start/{task}/cards/0")
        assert status == 500 and headers["content-type"].startswith("application/json")


def test_a_nested_foreachs_stack_shows_its_values_as_written(ui, context):
    tasks = ui.json("/api/runs/NestedFlow/1/tasks?step=inner_step")["tasks"]
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/NestedFlow/1/inner_step/{tasks[0]['task_id']}")
    stack = page.locator('#metadata tr[data-name="foreach-stack"] code').first
    expect(stack).to_have_text(re.compile(r'^\["outer=(α|β)", "inner=(日本|ü)"\]$'))
    assert page.problems == []


def test_the_tab_key_goes_from_the_graph_to_the_task_list_past_the_timelines_bars(ui, context):
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/NestedFlow/1")
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(11)
    expect(page.locator("#task-timeline a")).to_have_count(11)
    page.locator("#dag a").last.focus()  # the graph's last step
    page.keyboard.press("Tab")
    # straight to the task list's filters: not through eleven bars that repeat its links
    expect(page.locator(".step-picker a").first).to_be_focused()
    # a bar is still a link for the mouse
    page.locator('#task-timeline rect[data-task^="start/"]').click()
    page.wait_for_url(re.compile(r"/runs/NestedFlow/1/start/\d+$"))
    expect(page.locator("h1")).to_have_text(re.compile(r"^NestedFlow/1/start/\d+$"))
    for stream in ("stdout", "stderr"):  # its logs read before leaving (else aborted, a problem)
        expect(page.locator(f"#{stream}-state")).to_have_text("complete")
    page.go_back()
    expect(rows).to_have_count(11)
    assert page.problems == []


def _text(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    return (page.locator(selector).text_content() or "").strip()


def test_a_progress_bar_shows_its_last_state_live_and_once_finished(ui, home, context):
    flow = flow_file("ui/progress_bar_flow.py")
    with gated_run(flow, home, "gates-progress", ("g1", "g2", "g3")) as (run, gates):
        run_id, task_id = wait_until(lambda: running_task(ui, "ProgressBarFlow", "start"),
                                     "the start step to start")
        runs_page = watched_page(context)  # the runs list, a finished run's link focused
        runs_page.goto(ui.url + "/")
        nested = runs_page.locator('#runs-table a:text-is("NestedFlow/1")')
        nested.focus()
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/ProgressBarFlow/{run_id}/start/{task_id}")
        for n in (1, 2):
            # live: each bar as a terminal leaves it, not its fifty states run together
            wait_until(lambda n=n: _text(page, "#stderr") == f"warming up 50/50\ntraining {n}/3",
                       f"the live bar at {n}/3, alone on its line")
            assert run.poll() is None
            (gates / f"g{n}").touch()
        (gates / "g3").touch()
        expect(page.locator("#task-status")).to_have_text("succeeded")
        wait_until(lambda: _text(page, "#stderr") == "warming up 50/50\ntraining 3/3",
                   "the finished bar, alone on its line")
        wait_until(lambda: _text(page, "#stdout") == "before the bar\nwindows line\nafter the bar",
                   "stdout's lines, the Windows line break one")
        page.locator("#stderr-find").fill("training")
        expect(page.locator("#stderr-matches")).to_have_text("1 matching line")
        expect(page.locator("#stderr-hits")).to_have_text("training 3/3")
        assert run.wait(timeout=300) == 0
        # the runs list followed the run to its end, drawn again, the reader's link still focused
        expect(runs_page.locator(f'#runs-table tr[data-pathspec="ProgressBarFlow/{run_id}"] '
                                 ".status")).to_have_text("succeeded")
        expect(nested).to_be_focused()
        assert runs_page.problems == []
        # the server finds in a whole log (one over 1 MiB) as the page shows it, line for line
        base = f"/api/tasks/ProgressBarFlow/{run_id}/start/{task_id}/logs/stderr"
        found = ui.json(f"{base}/find?q=training")
        assert found["count"] == 1 and found["matches"][0]["text"] == "training 3/3"
        assert found["matches"][0]["line"] == 2
        assert ui.json(f"{base}/lines?from=1&count=5")["lines"][:2] == [
            "warming up 50/50", "training 3/3"]
        assert page.problems == []


def test_a_page_whose_server_does_not_answer_says_what_to_do(ui, context):
    page = context.new_page()
    page.route(re.compile(r".*/api/runs/NestedFlow/1(\?.*)?$"), lambda route: route.abort())
    page.goto(f"{ui.url}/runs/NestedFlow/1")
    expect(page.locator("h1")).to_have_text("Cannot show this page")
    said = page.locator("#app p.error")
    expect(said).to_contain_text(f"no answer from the headwater UI server at {ui.url}")
    expect(said).to_contain_text("/api/runs/NestedFlow/1")
    expect(said).to_contain_text("is `headwater ui` still running?")
    # a log the server does not answer for says so where the log would be
    page.unroute(re.compile(r".*/api/runs/NestedFlow/1(\?.*)?$"))
    task = ui.json("/api/runs/NestedFlow/1/tasks?step=start")["tasks"][0]["task_id"]
    page.route(re.compile(r".*/logs/stdout\?tail=.*"), lambda route: route.abort())
    page.goto(f"{ui.url}/runs/NestedFlow/1/start/{task}")
    expect(page.locator("#stdout-error")).to_contain_text("no answer from the headwater UI server")
    expect(page.locator("#stdout-state")).to_have_text("cannot read")
    expect(page.locator("#stderr-state")).to_have_text("complete")


def test_a_graph_of_many_branches_stays_legible_and_scrolls_in_its_box(ui, context):
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/WideSplitFlow/1")
    steps = page.locator("#dag g.step")
    expect(steps).to_have_count(27)
    drawn = page.evaluate("""() => {
        const rect = document.querySelector('#dag g.step rect');
        const dag = document.getElementById('dag');
        const start = document.querySelector('#dag g.step[data-step="start"] rect').getBoundingClientRect();
        const box = dag.getBoundingClientRect();
        return { scale: rect.getBoundingClientRect().width / rect.width.baseVal.value,
                 page: document.documentElement.scrollWidth, window: innerWidth,
                 scrolls: dag.scrollWidth > dag.clientWidth,
                 startInView: start.left >= box.left && start.right <= box.right };
    }""")
    # its names are drawn at three quarters of their size at least, not shrunk to specks
    assert drawn["scale"] >= 0.74, drawn
    # the graph scrolls in its own box, the page does not, and it opens on its start step
    assert drawn["scrolls"] and drawn["page"] <= drawn["window"], drawn
    assert drawn["startInView"], drawn
    # a step far off to the side is reached with the Tab key and scrolled into view
    last = page.locator('#dag a:has(g[data-step="branch_23"])')
    last.focus()
    expect(last).to_be_focused()
    expect(last).to_be_in_viewport()
    assert page.problems == []


def test_a_step_name_longer_than_its_box_is_cut_to_fit_and_named_whole(ui, context):
    name = "join_every_branch_and_compare_their_results_side_by_side"
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/WideSplitFlow/1")
    group = page.locator(f'#dag g.step[data-step="{name}"]')
    expect(group.locator("text.name")).to_have_text(re.compile(r"^join_every_.*…$"))
    fits = page.evaluate("""(name) => {
        const g = document.querySelector(`#dag g.step[data-step="${name}"]`);
        return g.querySelector('text.name').getBBox().width <= g.querySelector('rect').width.baseVal.value;
    }""", name)
    assert fits
    expect(group.locator("title")).to_have_text(name)  # its tooltip: the whole name
    expect(page.get_by_role("link", name=f"step {name}: succeeded, 1 task")).to_have_count(1)
    label = page.locator(f'#timeline text.tl-label[data-label="{name}"]')
    expect(label).to_have_text(re.compile(r"^join_every_.*…$"))
    expect(page.locator("#timeline g > title").first).to_have_text(name)
    assert page.problems == []


def test_a_long_flow_name_wraps_in_the_runs_list_instead_of_covering_the_runs(ui, context):
    page = watched_page(context)
    page.goto(ui.url + "/")
    link = page.locator('#flows a:text-is("NightlyFeatureEngineeringAndModelRetrainingPipelineFlow")')
    expect(link).to_have_count(1)
    laid = page.evaluate("""() => {
        const aside = document.querySelector('aside').getBoundingClientRect();
        const runs = document.querySelector('.columns > section').getBoundingClientRect();
        const rights = [...document.querySelectorAll('#flows a')].map(a => a.getBoundingClientRect().right);
        const box = document.querySelector('#runs-table').parentElement;
        return { aside: aside.right, runs: runs.left, widest: Math.max(...rights),
                 tableFits: box.scrollWidth <= box.clientWidth };
    }""")
    assert laid["widest"] <= laid["aside"] + 1 and laid["aside"] <= laid["runs"], laid
    assert laid["tableFits"], laid  # the run's column wraps: every column is in view
    assert page.problems == []


def test_a_custom_card_without_a_doctype_gets_a_frame_its_own_height(tmp_path, context):
    """A custom card returning ``<html><body><p>...`` (no doctype: quirks mode, where the page
    stretches to its frame) had a frame of the first height it was given, whatever its content."""
    proc = hw(flow_file("cards/custom_card_flow.py"), "run", cwd=tmp_path, SLOW_CARD_S="2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as ui:
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/CustomCardFlow/1/start/1")
        frame = page.locator("iframe.card").first
        expect(page.frame_locator("iframe.card").first.locator("#count")).to_have_text(
            "CustomCardFlow/1/start/1 has 4 words")
        expect(frame).to_have_attribute("data-fitted", "true")
        wait_until(lambda: frame.bounding_box()["height"] < 120,
                   "the one-line card's frame to fit its line")
        assert page.problems == []
