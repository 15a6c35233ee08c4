"""The ninth browser round, in a real browser (Debian's Chromium driven by Playwright) against a
real ``headwater ui`` server over runs real flows made, as a data scientist uses it:

- Eight tabs following one live run (four on its page, four on a running task's), and a ninth
  opening pages, a log and a card meanwhile: live pages share the browser's six connections to
  the server (at most STREAM_SLOTS streams, the other tabs poll), so nothing waits forever; a
  hidden tab gives its stream up and catches up when shown again.
- A run of a 1,000-task foreach with failures, retries, @catch, a card and logs in colour with
  very long lines: keyboard-only use, accessible names, a phone's width, back/forward and deep
  links to every view, times in the reader's zone with the zone named.
- An empty datastore.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .uiserver import (
    DEADLINE_MS,
    held_ui_run,
    new_context,
    running_task,
    ui_server,
    wait_until,
    watched_page,
)

expect.set_options(timeout=DEADLINE_MS)
STREAM_SLOTS = 4  # ui.js's: the event streams a browser keeps open to one server at most

# What each live page's feed does: "streaming", "polling", "hidden" or "ended"
MODES = "() => [...feeds].map((f) => f.mode)"
HIDE = """(hidden) => {
  Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ui-round9")


def _modes(tabs) -> list[str]:  # type: ignore[no-untyped-def]
    return [mode for tab in tabs for mode in tab.evaluate(MODES)]


def _problems(tab) -> list[str]:  # type: ignore[no-untyped-def]
    # leaving a page, or a tab giving its stream up, aborts that stream: nothing else may fail
    return [p for p in tab.problems if not p.endswith("/events net::ERR_ABORTED")]  # type: ignore[attr-defined]


def test_eight_tabs_following_a_live_run_leave_room_for_a_ninth(home, browser):
    """Before, six tabs following live runs held all six connections a browser opens to one
    server, and a seventh tab's page (a log, a card) waited forever. Now at most STREAM_SLOTS
    tabs stream, the others poll, a hidden tab gives its stream to one in view, and every tab
    follows the run to its end."""
    context = new_context(browser)
    with ui_server(home) as ui, held_ui_run(home, "tabs-gate") as (run, gate):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        task_url = f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}"
        task_tabs, run_tabs = [], []
        for i in range(8):
            tab = watched_page(context)
            if i % 2:
                tab.goto(f"{ui.url}/runs/UIFlow/{run_id}")
                expect(tab.locator("#run-status")).to_have_text("running")
                run_tabs.append(tab)
            else:
                tab.goto(task_url)
                expect(tab.locator("#stdout")).to_contain_text("waiting for the gate")
                task_tabs.append(tab)
        tabs = task_tabs + run_tabs
        wait_until(lambda: sorted(_modes(tabs)) == ["polling"] * 4 + ["streaming"] * 4,
                   "four tabs streaming and four polling")
        # a ninth tab: pages, a finished task's logs, a raw log, all answered
        ninth = watched_page(context)
        ninth.goto(f"{ui.url}/")
        expect(ninth.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"]')).to_have_count(1)
        start = ui.json(f"/api/runs/UIFlow/{run_id}/tasks?step=start")["tasks"][0]["task_id"]
        ninth.goto(f"{ui.url}/runs/UIFlow/{run_id}/start/{start}")
        expect(ninth.locator("#stdout-state")).to_have_text("complete")
        answer = ninth.goto(f"{ui.url}/api/tasks/UIFlow/{run_id}/{task_id}/logs/stdout"
                            .replace(f"/{task_id}/", f"/wait/{task_id}/"))
        assert answer.status == 200
        expect(ninth.locator("body")).to_contain_text("waiting for the gate")

        # the streaming tabs hidden: they give their streams up, the polling ones take them
        streaming = [t for t in tabs if t.evaluate(MODES) == ["streaming"]]
        for tab in streaming:
            tab.evaluate(HIDE, True)
        wait_until(lambda: sorted(_modes(tabs)) == ["hidden"] * 4 + ["streaming"] * 4,
                   "the tabs in view to take the hidden tabs' streams")
        gate.touch()
        for tab in task_tabs:
            if tab not in streaming:
                expect(tab.locator("#task-status")).to_have_text("succeeded")
        for tab in run_tabs:
            if tab not in streaming:
                expect(tab.locator("#run-status")).to_have_text("succeeded")
        assert run.wait(timeout=300) == 0
        # shown again, the hidden tabs catch up on what happened meanwhile
        for tab in streaming:
            tab.evaluate(HIDE, False)
        for tab in task_tabs:
            expect(tab.locator("#task-status")).to_have_text("succeeded")
            expect(tab.locator("#stdout")).to_have_text("waiting for the gate\nthe gate opened\n")
            expect(tab.locator("#stdout-state")).to_have_text("complete")
        for tab in run_tabs:
            expect(tab.locator("#run-status")).to_have_text("succeeded")
        wait_until(lambda: set(_modes(tabs)) <= {"ended"}, "every tab to stop following")
        for tab in (*tabs, ninth):
            assert _problems(tab) == [], _problems(tab)
    context.close()
