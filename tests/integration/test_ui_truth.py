"""The web UI on the runs a new user makes (in a real browser, Debian's Chromium driven by
Playwright): many failed tasks, a task with hundreds of artifacts, a run killed with SIGKILL
half-way, a browser whose clock is wrong. Each page must stay quick and say what is true.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .faultkit import client, hw
from .flowrun import flow_file, hermetic_env, start_cli
from .uiserver import (
    DEADLINE_MS,
    assert_caught_end_reads_failed,
    gated_run,
    held_ui_run,
    make_caught_end_runs,
    new_context,
    running_task,
    ui_server,
    wait_until,
)

expect.set_options(timeout=DEADLINE_MS)
UI_FLOW = flow_file("ui/ui_flow.py")
UNDER_AN_HOUR = re.compile(r"^(\d+\.\ds|\d+m\d\ds)$")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-truth")
    proc = hw(flow_file("ui/many_artifacts_flow.py"), "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_more_failed_tasks_than_the_run_page_names_are_one_link_away(ui, home, context):
    with gated_run(flow_file("ui/many_failures_flow.py"), home, "many-failures", ("fail",),
                   "--max-workers", "12") as (run, gates):
        run_id, _ = wait_until(lambda: running_task(ui, "ManyFailuresFlow", "work"),
                               "the work tasks to start")
        wait_until(lambda: len(ui.json(f"/api/runs/ManyFailuresFlow/{run_id}/tasks?step=work"
                                       "&status=running")["tasks"]) == 12,
                   "all twelve work tasks to run")
        (gates / "fail").touch()
        assert run.wait(timeout=180) == 1
    page = context.new_page()
    page.goto(f"{ui.url}/runs/ManyFailuresFlow/{run_id}")
    expect(page.locator("#failures li")).to_have_count(10)
    link = page.locator("#all-failed")
    expect(link).to_have_text("list all 12 failed tasks")
    expect(page.locator("#failures")).to_contain_text("2 more failed")
    link.click()
    page.wait_for_url(re.compile(rf"/runs/ManyFailuresFlow/{run_id}\?status=failed#tasks$"))
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(12)
    expect(rows.locator(".status")).to_have_text(["failed"] * 12)
    expect(page.locator("#tasks-range")).to_have_text("tasks 1\u201312 of 12")
    expect(page.locator(".status-picker a.current")).to_have_text("failed")


def test_a_2000_task_foreach_is_paged_and_followed_while_it_runs(ui, home, context):
    with gated_run(flow_file("ui/big_foreach_flow.py"), home, "big-foreach", ("join",),
                   "--max-workers", "8") as (run, gates):
        run_id, _ = wait_until(lambda: running_task(ui, "BigForeachFlow", "join"),
                               "the 2,000 work tasks to end and the join to start", timeout=600)
        base = f"/api/runs/BigForeachFlow/{run_id}"
        # what the page reads is bounded, whatever the run's size
        status, _, body = ui.get(base)
        assert status == 200 and len(body) < 64 * 1024, len(body)
        listed = ui.json(f"{base}/tasks?limit=100000")
        assert len(listed["tasks"]) == 500 and listed["more"] is True
        page = context.new_page()
        page.goto(f"{ui.url}/runs/BigForeachFlow/{run_id}")
        expect(page.locator("#run-status")).to_have_text("running")
        expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text(
            "2000 tasks")
        expect(page.locator("#tasks-table tbody tr")).to_have_count(100)
        expect(page.locator("#task-timeline rect.bar")).to_have_count(100)
        expect(page.locator("#tasks-range")).to_have_text("tasks 1\u2013100 of 2002")
        last = context.new_page()
        last.goto(f"{ui.url}/runs/BigForeachFlow/{run_id}?offset=2000#tasks")
        expect(last.locator("#tasks-range")).to_have_text("tasks 2001\u20132002 of 2002")
        expect(last.locator('#tasks-table tbody tr[data-task^="join/"] .status')).to_have_text(
            "running")
        (gates / "join").touch()
        # the pages left open follow the big run to its end
        expect(last.locator("#run-status")).to_have_text("succeeded")
        expect(last.locator("#tasks-range")).to_have_text("tasks 2001\u20132003 of 2003")
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator("#tasks-range")).to_have_text("tasks 1\u2013100 of 2003")
        assert run.wait(timeout=300) == 0


def test_a_task_with_hundreds_of_artifacts_lists_them_a_page_at_a_time(ui, context):
    task_id = ui.json("/api/runs/ManyArtifactsFlow/1/tasks?step=start")["tasks"][0]["task_id"]
    base = f"/api/tasks/ManyArtifactsFlow/1/start/{task_id}"
    task = ui.json(base)
    listed = task["artifacts"]
    assert len(listed) == 100 and task["artifacts_total"] == 300  # one page, each previewed
    assert all(a["previewed"] and a["preview"] is not None for a in listed)
    rest = ui.json(f"{base}/artifacts?offset=100&limit=200")
    assert [a["name"] for a in rest["artifacts"]][-1] == "value_299" and not rest["more"]
    assert len([a for a in rest["artifacts"] if a["preview"] is not None]) == 100
    page = context.new_page()
    page.goto(f"{ui.url}/runs/ManyArtifactsFlow/1/start/{task_id}")
    rows = page.locator("#artifacts tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator('#artifacts tr[data-artifact="value_000"] .preview')).to_contain_text(
        "'index': 0")
    for shown in (200, 300):
        page.locator("#artifacts-more").click()
        expect(rows).to_have_count(shown)
    expect(page.locator("#artifacts-more")).to_be_hidden()
    last = page.locator('#artifacts tr[data-artifact="value_299"]')
    expect(last.locator(".preview")).to_contain_text("'index': 299")
    with page.expect_download() as got:
        last.locator("a", has_text="download").click()
    assert got.value.suggested_filename == "value_299.pickle"


_SKEWED_CLOCK = """(() => {
  const Real = Date, skew = %d;
  class Skewed extends Real {
    constructor(...args) { if (args.length) super(...args); else super(Real.now() + skew); }
    static now() { return Real.now() + skew; }
  }
  window.Date = Skewed;
})();"""


@pytest.mark.parametrize("skew_s", [2 * 86_400, -3 * 3600], ids=["ahead", "behind"])
def test_durations_count_from_the_servers_clock_not_the_browsers(ui, home, browser, skew_s):
    """A browser whose clock is two days ahead (or three hours behind) still shows a task that
    started seconds ago as running for seconds, ticking: never hours, never a frozen 0."""
    with held_ui_run(home, f"gate-clock-{skew_s}") as (run, _):
        context = new_context(browser)
        context.add_init_script(_SKEWED_CLOCK % (skew_s * 1000))
        try:
            run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                         "the wait step to start")
            page = context.new_page()
            page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
            # the page has its first answer (which carries the server's clock) once it shows it
            expect(page.locator("#task-status")).to_have_text("running")
            assert abs(page.evaluate("Date.now() / 1000 - serverNow()") - skew_s) < 60
            run_page = context.new_page()
            run_page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
            for where in (page.locator("#task-duration"), run_page.locator("#run-duration"),
                          run_page.locator(f'#tasks-table tr[data-task="wait/{task_id}"] td:nth-child(5)')):
                expect(where).to_have_text(UNDER_AN_HOUR)
                before = where.inner_text()
                expect(where).not_to_have_text(before)  # it ticks
                expect(where).to_have_text(UNDER_AN_HOUR)
            assert run.poll() is None  # still held by the gate
        finally:
            context.close()


def test_a_run_killed_with_sigkill_half_way_reads_as_stopped_not_running(ui, home, context):
    gate = home / "gate-never"  # never opened: the run is killed while it waits
    run = start_cli(UI_FLOW, "run", "--gate", str(gate), cwd=home, start_new_session=True,
                    env={**hermetic_env(), "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    try:
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        task = f"/runs/UIFlow/{run_id}/wait/{task_id}"
        page = context.new_page()
        page.goto(ui.url + task)
        expect(page.locator("#stdout")).to_contain_text("waiting for the gate")
        run_page = context.new_page()
        run_page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        expect(run_page.locator("#run-status")).to_have_text("running")
        os.killpg(run.pid, signal.SIGKILL)  # the scheduler and its task, with no goodbye
        run.wait(timeout=120)

        # both pages, left open, say what happened
        expect(run_page.locator("#run-status")).to_have_text("failed")
        expect(run_page.locator("#interrupted")).to_contain_text("stopped without finishing")
        row = run_page.locator(f'#tasks-table tr[data-task="wait/{task_id}"]')
        expect(row.locator(".status")).to_have_text("failed")
        expect(row.locator(".interrupted")).to_have_text("interrupted")
        expect(run_page.locator('#dag g.step[data-step="wait"]')).to_have_class("step failed")
        expect(run_page.locator('#dag g.step[data-step="end"] text.count')).to_have_text("not run")
        expect(page.locator("#task-status")).to_have_text("failed")
        expect(page.locator("#stdout-state")).to_have_text("complete")
        expect(page.locator("#stdout")).to_contain_text("waiting for the gate")
        expect(page.locator(".attempt .status")).to_have_text("failed")
        for opened in (page, run_page):
            expect(opened.locator("[data-since]")).to_have_count(0)  # nothing ticks on
        listed = context.new_page()  # the runs list says why it failed too
        listed.goto(f"{ui.url}/?flow=UIFlow&status=failed")
        killed = listed.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"]')
        expect(killed.locator(".status")).to_have_text("failed")
        expect(killed.locator(".interrupted")).to_have_text("interrupted")

        # the lists agree: nothing running, the interrupted task among the failed
        assert ui.json("/api/runs?flow=UIFlow&status=running")["runs"] == []
        base = f"/api/runs/UIFlow/{run_id}/tasks"
        assert ui.json(f"{base}?status=running")["tasks"] == []
        failed = ui.json(f"{base}?status=failed")["tasks"]
        assert [t["task_id"] for t in failed] == [task_id] and failed[0]["interrupted"]
        head = ui.json(f"/api/runs/UIFlow/{run_id}")
        assert head["interrupted"] and head["stopped_at"] >= head["created_at"]
        assert head["steps"]["wait"]["failed"] == 1 and head["steps"]["wait"]["running"] == 0
    finally:
        gate.touch()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=120)
        run.stdout.close()
        run.stderr.close()


def test_a_run_whose_end_step_catch_caught_reads_failed_as_the_client_says(tmp_path, context):
    """Metaflow's client calls such a run unsuccessful (it finished; its end did not succeed):
    the UI says 'failed' wherever it shows the run, as headwater's client does, and says why.
    (test_ui_remote.py asks the same of PostgreSQL.)"""
    make_caught_end_runs(tmp_path)
    client(tmp_path)
    from headwater import Flow, Run

    assert [Run(f"FirstTryFailsFlow/{n}").status for n in (1, 2)] == ["succeeded", "failed"]
    assert Flow("FirstTryFailsFlow").latest_successful_run.id == "1"
    with ui_server(tmp_path) as ui:
        assert_caught_end_reads_failed(ui)  # the statuses the client just gave
        page = context.new_page()
        page.goto(f"{ui.url}/")
        row = page.locator('#runs-table tr[data-pathspec="FirstTryFailsFlow/2"] .status')
        expect(row).to_have_text("failed")
        expect(page.locator("#flows li .status")).to_have_text("failed")
        page.goto(f"{ui.url}/?status=succeeded")
        expect(page.locator("#runs-table tbody tr")).to_have_count(1)
        expect(page.locator("#runs-table tbody")).to_contain_text("FirstTryFailsFlow/1")
        page.goto(f"{ui.url}/flows/FirstTryFailsFlow")
        expect(page.locator('#runs-table tr[data-pathspec="FirstTryFailsFlow/2"] .status')
               ).to_have_text("failed")
        page.goto(f"{ui.url}/runs/FirstTryFailsFlow/2")
        expect(page.locator("#run-status")).to_have_text("failed")
        expect(page.locator("#caught-end")).to_contain_text(
            "RuntimeError: end fails on attempt 0")
        expect(page.locator("#caught-end a")).to_have_attribute(
            "href", re.compile(r"/runs/FirstTryFailsFlow/2/end/\d+$"))
