"""The twelfth browser round, in a real browser (Debian's Chromium driven by Playwright) against
a real ``headwater ui`` over runs real flows made:

- An artifact's "copy code" names the metadata and datastore the UI reads, so the code pasted
  in a notebook in another folder (no ``.headwater`` there, no setting in its environment)
  reads the value: a local datastore, a database file kept apart from the blobs, PostgreSQL
  (its password left out of the page).
- On a phone, the runs list, a run's task list and a task's metadata are rows stacked one under
  another (and two runs compared fit side by side), each cell named, not six columns in a box scrolled sideways; still tables to a
  screen reader, and the task list's sort buttons still there.
- A retry runs before the tasks already waiting (as Metaflow's), and a task whose attempts ran
  for much less than its span says so.
- A step @cache reused says "reused from @cache", not resume's "cloned".
- A running run's page lists what @catch caught so far, live.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

import servers
from headwater.settings import Settings
from headwater.ui.notebook import client_setup

from .faultkit import hw
from .flowrun import flow_file, hermetic_env
from .uiserver import (
    DEADLINE_MS,
    gated_run,
    new_context,
    ui_server,
    wait_until,
    watched_page,
)

expect.set_options(timeout=DEADLINE_MS)
FLOW = flow_file("ui/compare_flow.py")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """CompareFlow/1 and 2 (another label), finished, in ``home/.headwater``."""
    folder = tmp_path_factory.mktemp("ui-round12")
    for args in ((), ("--label", "other")):
        done = hw(FLOW, "run", *args, cwd=folder)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _end_task(ui) -> str:  # type: ignore[no-untyped-def]
    return ui.json("/api/runs/CompareFlow/1/tasks?step=end&limit=1")["tasks"][0]["task_id"]


def _copied(browser, ui, name: str) -> str:  # type: ignore[no-untyped-def]
    """The code the page's "copy code" of ``name`` (on run 1's end task) copied, by keyboard."""
    context = new_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = watched_page(context)
    page.goto(f"{ui.url}/runs/CompareFlow/1/end/{_end_task(ui)}")
    page.get_by_role("button", name=f"copy Python code that reads {name}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#artifact-code-state")).to_have_text("Copied; paste it into Python:")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#artifact-code").text_content()
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()
    return copied


def _pasted_elsewhere(code: str, folder: Path) -> subprocess.CompletedProcess:
    """``code`` run as pasted in a notebook in ``folder``: a fresh process, another user, no
    datastore setting in its environment and no ``.headwater`` in or above its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-c", f"{code}\nprint(repr(value))"], cwd=folder,
                          env=hermetic_env({"HEADWATER_USER": "someone_else"}),
                          capture_output=True, text=True, timeout=120)


def test_copied_code_reads_the_artifact_when_pasted_in_another_folder(home, browser,
                                                                       tmp_path):
    """Before, the copied code let the client find its datastore as it does anywhere: pasted in
    a notebook in another folder it read that folder's (none) and failed with "no flow"."""
    with ui_server(home) as ui:
        copied = _copied(browser, ui, "final")
    root = str(home / ".headwater")
    assert f'metadata("local@{root}")' in copied
    done = _pasted_elsewhere(copied, tmp_path / "notebooks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "'base:5.5'"


def test_copied_code_names_a_database_kept_apart_from_the_blobs(browser, tmp_path):
    """A run whose database is a file of its own (``--metadata``), away from its datastore: the
    code sets both, and reads the value from a third folder."""
    blobs, database = tmp_path / "blobs", tmp_path / "db" / "runs.sqlite"
    made = subprocess.run(
        [sys.executable, str(FLOW), "--datastore-root", str(blobs), "--metadata", str(database),
         "run"], cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    with ui_server(tmp_path, env={"HEADWATER_DATASTORE_ROOT": str(blobs)},
                   args=("--metadata", str(database))) as ui:
        copied = _copied(browser, ui, "שלום")
    assert str(database) in copied and str(blobs) in copied
    done = _pasted_elsewhere(copied, tmp_path / "notebooks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "'שלום עולם'"


def test_copied_code_names_postgresql_without_its_password(browser, pg_server, tmp_path):
    """Metadata on PostgreSQL: the code names the database but never the password the UI was
    given (the page is shown to whoever holds its token); the client gets it from PGPASSWORD
    or ~/.pgpass (this test server trusts loopback, so none is needed)."""
    url = servers.fresh_database(pg_server, "ui12")
    secret = url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-Pw@", 1)
    assert secret != url
    try:
        made = subprocess.run(
            [sys.executable, str(FLOW), "--datastore-root", str(tmp_path / "blobs"),
             "--metadata", secret, "run"], cwd=tmp_path, env=hermetic_env(),
            capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stdout + made.stderr
        with ui_server(tmp_path, env={"HEADWATER_DATASTORE_ROOT": str(tmp_path / "blobs")},
                       args=("--metadata", secret)) as ui:
            copied = _copied(browser, ui, "rocket_🚀")
            status, _, body = ui.get(f"/api/tasks/CompareFlow/1/end/{_end_task(ui)}")
        assert status == 200 and b"s3cret" not in body
        assert "s3cret" not in copied and "PGPASSWORD" in copied
        done = _pasted_elsewhere(copied, tmp_path / "notebooks")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == "'🚀🚀'"
    finally:
        servers.drop_database(pg_server, url)


def test_client_setup_leaves_every_form_of_password_out():
    """The lines themselves, for the URL forms libpq reads a password from."""
    for url in ("postgresql://hw:pw-one@db.example:5432/runs",
                "postgresql://hw@db.example/runs?password=pw-one&sslmode=require"):
        lines = client_setup(Settings(datastore_root="s3://bucket/runs", metadata_url=url))
        assert "pw-one" not in lines
        assert 'metadata("postgresql://hw@db.example' in lines
        assert 'os.environ["HEADWATER_DATASTORE_ROOT"] = "s3://bucket/runs"' in lines


def _fits(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether the element is no wider than the box it is in (nothing to scroll sideways)."""
    return page.evaluate(f"(() => {{ const t = document.querySelector({selector!r});"
                         " return t.scrollWidth <= t.parentElement.clientWidth; })()")


def test_a_phone_stacks_the_task_list_and_a_tasks_metadata(home, browser):
    """Before, at 360 px the task list (six columns) and a task's metadata (four) were tables in
    a box scrolled sideways: a task's duration and attempts, a fact's time, off screen."""
    page = watched_page(new_context(browser, viewport={"width": 360, "height": 800}))
    with ui_server(home) as ui:
        page.goto(f"{ui.url}/runs/CompareFlow/1")
        tasks = page.get_by_role("table", name="tasks")
        expect(tasks.get_by_role("row")).to_have_count(1 + 1 + 6 + 1 + 1)  # header, 9 tasks
        expect(tasks.get_by_role("columnheader")).to_have_count(6)
        assert _fits(page, "#tasks-table")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        # every cell on the screen; each number drawn with its name, read by its column's
        work = tasks.locator('tr[data-task^="work/"]').first
        for cell in work.get_by_role("cell").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        index = work.get_by_role("cell").nth(2)
        expect(index).to_have_text("0")
        expect(index).to_have_accessible_name("0")
        assert index.evaluate("(c) => getComputedStyle(c, '::before').content") == \
            '"index " / ""'  # drawn, with no text for a screen reader (the header names it)
        # the sort buttons are still there, on the screen, and sort
        button = tasks.get_by_role("button", name="duration")
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 360
        button.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/1?sort=duration&order=asc#tasks")

        # the runs list the same way: when, how long, by whom, on the screen
        page.goto(f"{ui.url}/")
        runs = page.get_by_role("table", name="runs")
        expect(runs.get_by_role("columnheader")).to_have_count(6)
        assert _fits(page, "#runs-table")
        for cell in runs.locator('tr[data-pathspec="CompareFlow/1"]').get_by_role("cell").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        expect(runs.get_by_role("cell", name="tester")).to_have_count(2)  # no "by" read out

        # two runs compared: both columns of their summary on the screen (start times wrap)
        page.goto(f"{ui.url}/compare/CompareFlow/2/1")
        compared = page.get_by_role("table", name="runs compared")
        expect(compared.get_by_role("link", name="CompareFlow/1")).to_be_visible()
        assert _fits(page, "#compare-runs")
        box = compared.get_by_role("link", name="CompareFlow/1").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 360, box

        page.goto(f"{ui.url}/runs/CompareFlow/1/end/{_end_task(ui)}")
        metadata = page.get_by_role("table", name="metadata")
        expect(metadata.get_by_role("row").nth(3)).to_be_visible()
        expect(metadata.get_by_role("columnheader")).to_have_count(4)
        assert _fits(page, "#metadata")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        for cell in metadata.locator("tbody td").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 360, box
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_retry_runs_before_the_waiting_tasks_and_its_page_says_what_waited(browser, tmp_path):
    """Before, a retry joined the back of the queue: in a foreach of 2,000 its 0.1 s task was
    tried again only once every other item had run, and its page (and the duration column)
    said it took 30 s. Now it runs next, as Metaflow's does, and a task whose attempts ran for
    much less than its span says so."""
    made = hw(flow_file("ui/retry_order_flow.py"), "run", "--max-workers", "1", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    page = watched_page(new_context(browser))
    with ui_server(tmp_path) as ui:
        work = ui.json("/api/runs/RetryOrderFlow/1/tasks?step=work&limit=100")["tasks"]
        first, last = work[0], work[-1]
        assert (first["foreach_index"], first["attempts"], last["foreach_index"]) == (0, 2, 39)
        retried = ui.json(f"/api/tasks/RetryOrderFlow/1/work/{first['task_id']}")["attempts"][1]
        latest = ui.json(f"/api/tasks/RetryOrderFlow/1/work/{last['task_id']}")["attempts"][0]
        assert retried["started_at"] < latest["started_at"]

        patient = ui.json("/api/runs/RetryOrderFlow/1/tasks?step=patient")["tasks"][0]
        page.goto(f"{ui.url}/runs/RetryOrderFlow/1/patient/{patient['task_id']}")
        expect(page.locator("#task-waited")).to_have_text(re.compile(
            r"^ · its 2 attempts ran [0-9.]+s; the rest was waiting before and between them$"))
        # a task tried once, or whose attempts fill its span, says nothing more
        page.goto(f"{ui.url}/runs/RetryOrderFlow/1/work/{last['task_id']}")
        expect(page.locator("#task-duration")).to_be_visible()
        expect(page.locator("#task-waited")).to_have_count(0)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_step_reused_from_cache_says_so_not_cloned(browser, tmp_path):
    """Before, a @cache-reused step read "cloned" in the graph, the timeline and the task list,
    and its task page said it "did not run again when the run was resumed", of a run never
    resumed: resume's word for @cache's work. A resume's clones still read "cloned". And a
    step's @concurrency limit, which nothing on the page named, is said under the graph."""
    flow = flow_file("ui/cached_flow.py")
    for env in ({}, {"FAIL_END": "1"}):  # run 1 computes, run 2 reuses (and fails at end)
        made = hw(flow, "run", cwd=tmp_path, **env)
        assert made.returncode == (0 if not env else 1), made.stdout + made.stderr
    resumed = hw(flow, "resume", cwd=tmp_path)  # run 3: clones run 2's tasks
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    page = watched_page(new_context(browser))
    with ui_server(tmp_path) as ui:
        reused = ui.json("/api/runs/CachedFlow/2")["steps"]["features"]
        assert (reused["tasks"], reused["cached"], reused["cloned"]) == (3, 3, 0)
        cloned = ui.json("/api/runs/CachedFlow/3")["steps"]["features"]
        assert (cloned["tasks"], cloned["cached"], cloned["cloned"]) == (3, 0, 3)

        # the run's kept graph names the step's @concurrency limit, and the page says it
        assert [s.get("concurrency") for s in ui.json("/api/runs/CachedFlow/1")["graph"]["steps"]
                ] == [None, 2, None, None]
        page.goto(f"{ui.url}/runs/CachedFlow/1")
        expect(page.locator("#concurrency-limits")).to_have_text(
            "@concurrency: features runs at most 2 tasks at once (and no run more than "
            "--max-workers)")
        page.goto(f"{ui.url}/runs/CachedFlow/2")
        expect(page.locator('#dag g.step[data-step="features"] text.count')).to_have_text(
            "3 tasks · reused from @cache")
        expect(page.get_by_role("img", name=re.compile(
            r", features succeeded [0-9.]+s, reused from @cache, join "))).to_have_count(1)
        row = page.locator('#tasks-table tr[data-task^="features/"]').first
        expect(row.locator("a.cloned")).to_have_text("reused")
        row.locator("a").first.click()
        expect(page.locator("#cloned-from")).to_have_text(re.compile(r"^CachedFlow/1/features/"))
        expect(page.locator("dl.facts")).to_contain_text("reused from")
        expect(page.locator("dl.facts")).to_contain_text("@cache found this result")
        expect(page.locator("dl.facts")).not_to_contain_text("resumed")

        page.goto(f"{ui.url}/runs/CachedFlow/3")
        expect(page.locator('#dag g.step[data-step="features"] text.count')).to_have_text(
            "3 tasks · cloned")
        expect(page.locator('#tasks-table tr[data-task^="features/"] a.cloned').first
               ).to_have_text("cloned")

        page.goto(f"{ui.url}/compare/CachedFlow/2/1")
        cells = page.get_by_role("table", name="step durations compared").locator(
            'tr[data-step="features"] td')
        expect(cells.nth(1)).to_contain_text("(reused from @cache)")
        expect(cells.nth(3)).to_have_text("not compared: reused from @cache in 2")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_running_runs_page_lists_what_catch_caught_as_it_happens(browser, tmp_path):
    """Before, a running run's page did not list the tasks @catch caught until the run ended
    (asking meant reading the run's whole task list); with the indexed query it asks at once
    and again when the live tasks show a newly caught one."""
    page = watched_page(new_context(browser))
    with ui_server(tmp_path) as ui, gated_run(flow_file("ui/caught_live_flow.py"), tmp_path,
                                               "gates", ("raise", "rest")) as (run, gates):
        wait_until(lambda: len(ui.json("/api/runs/CaughtLiveFlow/1/tasks?step=work")["tasks"])
                   == 4 if ui.get("/api/runs/CaughtLiveFlow/1")[0] == 200 else False,
                   "the four work tasks to start")
        page.goto(f"{ui.url}/runs/CaughtLiveFlow/1")
        expect(page.locator("#run-status")).to_have_text("running")
        expect(page.locator('#dag g.step[data-step="work"] text.count')).to_contain_text(
            "4 running")
        section = page.locator("#caught")
        expect(section).to_have_count(0)
        (gates / "raise").touch()
        expect(section.get_by_role("heading")).to_have_text("Errors @catch caught so far")
        expect(section.locator("li")).to_have_count(1)
        expect(section.locator("li")).to_contain_text("ValueError: item 1 has no labels")
        (gates / "rest").touch()
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(section.get_by_role("heading")).to_have_text("Errors @catch caught")
        expect(section.locator("li")).to_have_count(1)
        assert run.wait(timeout=300) == 0
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_catchs_stand_in_attempt_says_it_ran_nothing(home, browser):
    """Before, a task @catch caught listed its last attempt as "attempt 2 succeeded", read as
    the step passing on its third try; it is @catch's stand-in, which ran nothing."""
    page = watched_page(new_context(browser))
    with ui_server(home) as ui:
        caught = ui.json("/api/runs/CompareFlow/1/tasks?status=caught")["tasks"][0]
        page.goto(f"{ui.url}/runs/CompareFlow/1/work/{caught['task_id']}")
        attempts = page.locator("#attempts section.attempt")
        expect(attempts).to_have_count(caught["attempts"])
        expect(attempts.last.locator("p.stand-in")).to_contain_text(
            "@catch's stand-in: the step did not run again")
        expect(page.locator("#attempts p.stand-in")).to_have_count(1)
        # a task retried into success has no such line
        work = ui.json("/api/runs/CompareFlow/1/tasks?step=work")["tasks"]
        retried = next(t for t in work if t["attempts"] == 2 and not t.get("caught"))
        page.goto(f"{ui.url}/runs/CompareFlow/1/work/{retried['task_id']}")
        expect(page.locator("#attempts section.attempt")).to_have_count(2)
        expect(page.locator("#attempts p.stand-in")).to_have_count(0)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
