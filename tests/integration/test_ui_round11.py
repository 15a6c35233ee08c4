"""The eleventh browser round, in a real browser (Debian's Chromium driven by Playwright) against
a real ``headwater ui`` over runs real flows made:

- On a phone, a task's artifacts are stacked one under another, their previews and buttons on
  the screen, not seven columns scrolled sideways; still a table to a screen reader.
- An empty runs list says what it was filtered by, leads back to every run (or the first page),
  and gives way to a matching run that starts while it is open.
- The run page's "Errors @catch caught" says what each caught, in a resumed run too.
- A resumed run's cloned steps say so in its graph and timeline, and a comparison with its
  origin does not pass the copying's time for a speed-up.
- From an artifact in the UI to a notebook: each artifact's "copy code" button copies the
  client-API code that reads it, and that code, run in another process as another user, gives
  the value (names in Hebrew and with an emoji included); where the browser has no clipboard,
  the code is shown selected to be copied by hand.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .faultkit import env_for, hw
from .flowrun import flow_file
from .uiserver import DEADLINE_MS, gated_run, new_context, ui_server, watched_page

expect.set_options(timeout=DEADLINE_MS)
FLOW = flow_file("ui/compare_flow.py")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """CompareFlow/1, finished; CompareFlow/2, failed at its join; CompareFlow/3, 2 resumed
    (start and the six work tasks cloned, the join and end run again)."""
    folder = tmp_path_factory.mktemp("ui-round11")
    done = hw(FLOW, "run", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    failed = hw(FLOW, "run", cwd=folder, FAIL_JOIN="1")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    resumed = hw(FLOW, "resume", cwd=folder)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return folder


def _task(ui, run: str, step: str) -> str:  # type: ignore[no-untyped-def]
    return ui.json(f"/api/runs/CompareFlow/{run}/tasks?step={step}&limit=1")["tasks"][0]["task_id"]


def _value_of(code: str, folder: Path) -> str:
    """``repr`` of what ``code`` (copied from the page) sets as ``value``, run as a user who
    did not make the run, in a process of its own."""
    env = env_for(folder, HEADWATER_USER="someone_else")
    done = subprocess.run([sys.executable, "-c", f"{code}\nprint(repr(value))"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_copied_artifact_code_reads_the_artifact_in_python(home, browser):
    """Before, reading an artifact seen in the UI meant writing the client's code by hand from
    the breadcrumbs. Each artifact now has a "copy code" button, reached by keyboard."""
    context = new_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = watched_page(context)
    with ui_server(home) as ui:
        end = _task(ui, "1", "end")
        page.goto(f"{ui.url}/runs/CompareFlow/1/end/{end}")
        for name, value in (("final", "'base:5.5'"), ("שלום", "'שלום עולם'"),
                            ("rocket_🚀", "'🚀🚀'")):
            button = page.get_by_role("button", name=f"copy Python code that reads {name}")
            button.focus()
            page.keyboard.press("Enter")
            expect(page.locator("#artifact-code-state")).to_have_text(
                "Copied; paste it into Python:")
            expect(page.locator("#artifact-code")).to_contain_text(f'["{name}"].data')
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == page.locator("#artifact-code").text_content()
            assert f'Task("CompareFlow/1/end/{end}")' in copied
            assert _value_of(copied, home) == value
        assert page.problems == [], page.problems  # type: ignore[attr-defined]

        # a browser without the clipboard (a page over plain http from another host): the
        # code is shown and selected, to be copied by hand
        bare = new_context(browser)
        bare.add_init_script("delete Navigator.prototype.clipboard")
        other = watched_page(bare)
        other.goto(f"{ui.url}/runs/CompareFlow/1/end/{end}")
        other.get_by_role("button", name="copy Python code that reads final").click()
        expect(other.locator("#artifact-code-state")).to_contain_text(
            "the code is selected below")
        expect(other.locator("#artifact-code")).to_be_focused()
        selected = other.evaluate("getSelection().toString()")
        assert _value_of(selected, home) == "'base:5.5'"
        assert other.problems == [], other.problems  # type: ignore[attr-defined]


def test_the_run_page_says_what_catch_caught(home, browser):
    """Before, the run page's "Errors @catch caught" named the tasks only ("raised"): why each
    failed was a click away per task. Now each carries its error, as failed tasks do."""
    page = watched_page(new_context(browser))
    with ui_server(home) as ui:
        caught = ui.json("/api/runs/CompareFlow/1/tasks?status=caught")["tasks"]
        assert [(t["step"], t["failure"]["type"], t["failure"]["message"]) for t in caught] == \
            [("work", "ValueError", "four has no labels")]
        # sorted, too: the page's tasks carry it
        ordered = ui.json("/api/runs/CompareFlow/1/tasks?status=caught&sort=duration&order=desc")
        assert [t["failure"]["message"] for t in ordered["tasks"]] == ["four has no labels"]
        page.goto(f"{ui.url}/runs/CompareFlow/1")
        item = page.locator("#caught li")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("ValueError: four has no labels")
        expect(item).to_contain_text("@catch caught it and the run went on")
        item.get_by_role("link").click()
        expect(page.locator("#logs")).to_be_visible()
        expect(page.locator("#attempts")).to_contain_text("four has no labels")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_an_empty_runs_list_says_why_and_gives_way_to_a_run_that_starts(home, browser):
    """Before, every empty list said "No runs match." (even past the last page), and a run that
    started while the list was open was drawn above that line, which stayed."""
    page = watched_page(new_context(browser))
    with ui_server(home) as ui:
        page.goto(f"{ui.url}/?user=nobody&status=failed")
        said = page.locator("#no-runs-match")
        expect(said).to_have_text("No runs match status “failed”, user “nobody”. show every run")
        page.get_by_role("link", name="show every run").click()
        expect(page).to_have_url(f"{ui.url}/")
        expect(page.locator("#runs-table tbody tr")).to_have_count(3)
        expect(said).to_be_hidden()
        page.go_back()
        expect(said).to_be_visible()
        page.goto(f"{ui.url}/flows/CompareFlow?offset=50")
        expect(said).to_have_text("No runs past the first 50. the first page")
        page.get_by_role("link", name="the first page").click()
        expect(page.locator("#runs-table tbody tr")).to_have_count(3)

        # a list of running runs, empty, then a run starts: the run shows, the line goes
        page.goto(f"{ui.url}/?status=running")
        expect(said).to_have_text("No runs match status “running”. show every run")
        with gated_run(flow_file("ui/gated_fail_flow.py"), home, "gated", ("one", "two")):
            expect(page.locator('#runs-table tr[data-pathspec="GatedFailFlow/1"]')).to_have_count(1)
            expect(said).to_be_hidden()
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_resumed_runs_cloned_steps_are_not_passed_off_as_fast(home, browser):
    """Before, a resumed run compared with its origin showed its cloned foreach as "0.4s
    against 22.8s (×52)", and its timeline a 0.4 s step: the copying's time read as a run's."""
    page = watched_page(new_context(browser))
    with ui_server(home) as ui:
        steps = ui.json("/api/runs/CompareFlow/3")["steps"]
        assert (steps["start"]["cloned"], steps["work"]["cloned"], steps["join"]["cloned"]) == \
            (1, 6, 0)
        assert ui.json("/api/runs/CompareFlow/1")["steps"]["work"]["cloned"] == 0
        page.goto(f"{ui.url}/runs/CompareFlow/3")
        expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text(
            "6 tasks · cloned")
        expect(page.locator('#dag g.step[data-step="join"] text.count')).to_have_text("1 task")
        expect(page.get_by_role("img", name=re.compile(r"^start succeeded .*, cloned, "))
               ).to_have_count(1)
        # the caught error of a cloned task is its origin's
        expect(page.locator("#caught li")).to_contain_text("ValueError: four has no labels")

        page.get_by_role("button", name="compare").click()
        expect(page).to_have_url(f"{ui.url}/compare/CompareFlow/3/2")
        rows = page.get_by_role("table", name="step durations compared")
        for step in ("start", "work"):
            cells = rows.locator(f'tr[data-step="{step}"] td')
            expect(cells.nth(1)).to_contain_text("(cloned)")
            expect(cells.nth(3)).to_have_text("not compared: cloned in 3")
        expect(rows.locator('tr[data-step="join"] td').nth(3)).not_to_contain_text("cloned")
        # two runs that both ran every step compare as before
        page.goto(f"{ui.url}/compare/CompareFlow/1/3")
        expect(rows.locator('tr[data-step="work"] td').nth(3)).to_have_text(
            "not compared: cloned in 3")
        expect(rows.locator('tr[data-step="end"] td').nth(3)).to_have_text(
            re.compile(r"^[+−][0-9.]+(ms|s)"))
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_phone_stacks_a_tasks_artifacts(home, browser):
    """Before, a phone showed the artifacts as a 570 px table in a 340 px box: the previews and
    download links were off to the right, a sideways scroll away."""
    page = watched_page(new_context(browser, viewport={"width": 360, "height": 800},
                                    color_scheme="dark"))
    with ui_server(home) as ui:
        start = _task(ui, "1", "start")
        page.goto(f"{ui.url}/runs/CompareFlow/1/start/{start}")
        table = page.get_by_role("table", name="artifacts")
        names = [a["name"] for a in
                 ui.json(f"/api/tasks/CompareFlow/1/start/{start}/artifacts")["artifacts"]]
        expect(table.get_by_role("row")).to_have_count(len(names) + 1)  # and its header row
        expect(table.get_by_role("columnheader")).to_have_count(6)
        assert page.evaluate("(() => { const t = document.getElementById('artifacts');"
                             " return t.scrollWidth <= t.parentElement.clientWidth; })()")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        for name in names:
            box = page.get_by_role("button", name=f"copy Python code that reads {name}"
                                   ).bounding_box()
            assert box is not None and box["x"] + box["width"] <= 360, (name, box)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
