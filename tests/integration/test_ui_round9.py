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
- A run page and a task page left without a stream slot (other tabs hold them all) polling a
  live 1,000-task foreach to its end, then streaming once a slot is free.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .faultkit import hw
from .flowrun import flow_file
from .uiserver import (
    DEADLINE_MS,
    gated_run,
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


# -- a data scientist's runs ----------------------------------------------------------------------

SCIENCE = flow_file("ui/scientist_flow.py")
ZONES = {"Asia/Kolkata": ("+05:30", r"Asia/(Kolkata|Calcutta)"),  # Chromium may say Calcutta
         "America/New_York": (None, r"America/New_York")}


@pytest.fixture(scope="module")
def science(home) -> dict[str, str]:
    """ScienceFlow/1 (1,000 tasks, retries, one caught failure, a card; succeeded) and
    ScienceFlow/2 (its join failed); a few addresses in them."""
    ok = hw(SCIENCE, "run", "--max-workers", "16", cwd=home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = hw(SCIENCE, "run", "--max-workers", "16", cwd=home, HARD_FAIL="1")
    assert bad.returncode != 0
    assert "the join lost its inputs" in bad.stdout + bad.stderr
    return {"run": "/runs/ScienceFlow/1", "failed_run": "/runs/ScienceFlow/2"}


def _task(ui, run: str, step: str, index: int | None = None) -> str:  # type: ignore[no-untyped-def]
    """The page of ``step``'s task (the one of foreach ``index``) in ScienceFlow/``run``."""
    listed = ui.json(f"/api/runs/ScienceFlow/{run}/tasks?step={step}&limit=1000")["tasks"]
    task = next(t for t in listed if index is None or t["foreach_index"] == index)
    return f"/runs/ScienceFlow/{run}/{step}/{task['task_id']}"


def _views(ui, science) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every view of the UI, by name: address (a deep link, as bookmarked or shared)."""
    return {
        "runs": "/", "failed runs": "/?status=failed", "flow": "/flows/ScienceFlow",
        "run": science["run"], "failed run": science["failed_run"],
        "a step's tasks, sorted, page 2":
            f"{science['run']}?step=train&status=succeeded&sort=duration&order=desc&offset=100#tasks",
        "task with a coloured log": _task(ui, "1", "start"),
        "caught task": _task(ui, "1", "train", 7),
        "an earlier attempt's logs": _task(ui, "1", "train", 7) + "?attempt=0#logs",
        "retried task": _task(ui, "1", "train", 3),
        "card": _task(ui, "1", "join"),
        "failed task": _task(ui, "2", "join"),
    }


# Every element a screen reader stops at, and those of them without a name (a link, a button, a
# field, a table, a column's header, a region, a frame); links with the same name leading to
# different places (a list of links reads "stdout, stdout, stdout")
UNNAMED = """() => {
  const named = (n) => {
    const labelledBy = n.getAttribute('aria-labelledby');
    const text = n.getAttribute('aria-label') || (labelledBy && document.getElementById(labelledBy)?.textContent)
      || n.getAttribute('title') || n.textContent || n.getAttribute('placeholder') || n.getAttribute('alt');
    const label = (n.id && document.querySelector(`label[for="${CSS.escape(n.id)}"]`)) || n.closest('label');
    return Boolean((text || '').trim() || label);
  };
  const stops = [...document.querySelectorAll('a[href], button, input, select, textarea, table, th, iframe, [role=region], [role=group], [tabindex]')]
    .filter((n) => !n.closest('[hidden]'));
  const unnamed = stops.filter((n) => !named(n)).map((n) => n.outerHTML.slice(0, 100));
  const byName = new Map();
  for (const a of document.querySelectorAll('main a[href]')) {
    const name = (a.getAttribute('aria-label') || a.textContent).trim();
    byName.set(name, (byName.get(name) || new Set()).add(a.getAttribute('href')));
  }
  const ambiguous = [...byName].filter(([, hrefs]) => hrefs.size > 1).map(([name]) => name);
  return { unnamed, ambiguous };
}"""

SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const over = [...document.querySelectorAll("body *")].filter((n) =>
    n.getBoundingClientRect().right > width + 1 && !n.closest(".scroll, #dag, #timeline, #task-timeline, pre, svg"));
  return { extra: document.documentElement.scrollWidth - width,
           over: over.slice(0, 5).map((n) => `${n.tagName}#${n.id}: ${n.textContent.slice(0, 40)}`) };
}"""


def _drawn(page) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator("#app h1")).to_be_visible()
    expect(page.locator("#app > p.muted", has_text="Loading")).to_have_count(0)
    expect(page.locator("#stdout-state, #stderr-state").filter(has_text="loading")).to_have_count(0)


def test_every_view_names_its_links_buttons_and_tables(ui, science, context):
    """Before, the artifacts table's download column had a header without a name, and an
    earlier attempt's log links were all "stdout"/"stderr", alike for every attempt and for the
    latest one's (a screen reader's list of links could not tell them apart)."""
    page = watched_page(context)
    for name, path in _views(ui, science).items():
        page.goto(ui.url + path)
        _drawn(page)
        assert page.evaluate(UNNAMED) == {"unnamed": [], "ambiguous": []}, name
    page.goto(ui.url + _views(ui, science)["caught task"])
    for attempt in (0, 1):
        expect(page.get_by_role("link", name=f"stdout of attempt {attempt}")).to_have_count(1)
    expect(page.get_by_role("columnheader", name="download")).to_have_count(1)
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


@pytest.mark.parametrize("zone", sorted(ZONES), ids=["kolkata", "new-york"])
def test_times_are_in_the_readers_zone_with_the_zone_named(ui, science, browser, zone):
    """Every time is the reader's, its offset written, and the zone is named (before: an
    offset only, "-05:00", which does not say which zone, nor that it is the reader's)."""
    context = new_context(browser, timezone_id=zone)
    page = watched_page(context)
    offset, named = ZONES[zone]
    page.goto(ui.url + science["run"])
    _drawn(page)
    created = ui.json("/api/runs/ScienceFlow/1")["created_at"]
    local = datetime.fromtimestamp(created, ZoneInfo(zone))
    shown = local.strftime("%Y-%m-%d %H:%M:%S ") + (offset or local.strftime("%z")[:3] + ":" +
                                                     local.strftime("%z")[3:])
    started = page.locator("dl.facts time").first
    expect(started).to_have_text(shown)
    expect(started).to_have_attribute("title", re.compile(named))
    expect(page.locator("header #zone")).to_have_text(re.compile(f"^times in {named} \\(now "))
    context.close()


@pytest.mark.parametrize("window", [{"width": 360, "height": 740}, {"width": 320, "height": 640}],
                         ids=["phone", "small-phone"])
def test_no_view_scrolls_sideways_on_a_phone(ui, science, browser, window):
    """A 2,000-feature line in a log, a caught error, a card, 1,000 tasks: at a phone's width,
    only tables, logs and pictures scroll sideways inside their own boxes, never the page."""
    context = new_context(browser, viewport=window)
    page = watched_page(context)
    for name, path in _views(ui, science).items():
        page.goto(ui.url + path)
        _drawn(page)
        assert page.evaluate(SIDEWAYS) == {"extra": 0, "over": []}, name
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


def test_deep_links_and_back_and_forward_reach_every_view(ui, science, context):
    """Each view opened from its address, then walked back and forward again: each shows what
    its address names (the sorted, filtered second page of a step's tasks included)."""
    page = watched_page(context)
    views = _views(ui, science)
    headings = {}
    for name, path in views.items():
        page.goto(ui.url + path)
        _drawn(page)
        headings[name] = page.locator("#app h1").inner_text()
        if name.startswith("a step's tasks"):
            expect(page.locator("#tasks-range")).to_have_text("tasks 101–200 of 1000")
            expect(page.locator('th[aria-sort="descending"] button')).to_have_text(
                re.compile("^duration"))
    names = list(views)
    for name in reversed(names[:-1]):
        page.go_back()
        expect(page).to_have_url(ui.url + views[name])
        expect(page.locator("#app h1")).to_have_text(headings[name])
    for name in names[1:]:
        page.go_forward()
        expect(page).to_have_url(ui.url + views[name])
        expect(page.locator("#app h1")).to_have_text(headings[name])
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def _tab_to(page, wanted, limit: int = 300):  # type: ignore[no-untyped-def]
    """Press Tab until the focused element matches ``wanted`` (a JS predicate on it), each stop
    on the way shown (an outline) and named; the stops passed, for the test to read."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(f"""() => {{ const n = document.activeElement;
          const s = getComputedStyle(n);
          const label = n.labels && n.labels.length ? n.labels[0].textContent : '';
          return {{ name: (n.getAttribute('aria-label') || label || n.textContent || '').trim().slice(0, 60),
                   tag: n.tagName, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
                   hit: ({wanted})(n) }}; }}""")
        if stop["tag"] != "BODY":
            assert stop["outline"], f"no visible focus on {stop}"
            assert stop["name"], f"a stop without a name after {passed[-3:]}"
        passed.append(stop["name"])
        if stop["hit"]:
            return passed
    raise AssertionError(f"Tab never reached {wanted}: {passed[:40]}")


def test_a_data_scientist_finds_the_caught_task_with_the_keyboard_only(ui, science, context):
    """From the runs list to the run, its train step, the tasks sorted by attempts (before,
    a task list could not be sorted so: the retried tasks were found by paging), the task
    @catch caught, its first attempt's error and logs (before, a link to plain text with its
    terminal colours raw); a find in that log, emptied with Escape: Tab, Enter and Escape only,
    each stop named and shown."""
    page = watched_page(context)
    page.goto(ui.url + "/")
    _drawn(page)
    _tab_to(page, "(n) => n.textContent === 'ScienceFlow/1'")
    page.keyboard.press("Enter")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    passed = _tab_to(page, "(n) => (n.getAttribute('aria-label') || '').startsWith('step train')")
    assert passed[:2] == ["headwater", "ScienceFlow"]  # the page's order: header first
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?step=train#tasks$"))
    _tab_to(page, "(n) => n.dataset.sort === 'attempts'")
    page.keyboard.press("Enter")  # ascending
    expect(page.locator('th[aria-sort="ascending"]')).to_have_count(1)
    _tab_to(page, "(n) => n.dataset.sort === 'attempts'")
    page.keyboard.press("Enter")  # descending: the task with the most attempts first
    expect(page.locator('th[aria-sort="descending"]')).to_have_count(1)
    caught = _views(ui, science)["caught task"]
    expect(page.locator("#tasks-table tbody tr").first.locator("a")).to_have_attribute(
        "href", caught)
    _tab_to(page, f"(n) => n.getAttribute('href') === {caught!r}")
    page.keyboard.press("Enter")
    expect(page.locator("#task-status")).to_have_text("succeeded")
    expect(page.locator(".caught")).to_be_visible()
    expect(page.locator("section.attempt").first).to_contain_text("item 7 has no labels")
    # the first attempt's output, in the page (before: only as plain text, its colours raw)
    _tab_to(page, "(n) => n.getAttribute('aria-label') === "
                  "'show the logs of attempt 0 on this page'")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?attempt=0#logs$"))
    expect(page.locator("#older-attempt")).to_contain_text("not of the latest attempt (2)")
    expect(page.locator("#stdout")).to_have_text("item 7 is broken\n")
    _tab_to(page, "(n) => n.id === 'stdout-find'")
    page.keyboard.type("broken")
    expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
    page.keyboard.press("Escape")
    expect(page.locator("#stdout-find")).to_have_value("")
    expect(page.locator("#stdout")).to_be_visible()
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_coloured_log_with_a_very_long_line_reads_as_text(ui, science, context):
    page = watched_page(context)
    page.goto(ui.url + _views(ui, science)["task with a coloured log"])
    log = page.locator("#stdout")
    expect(log).to_contain_text("loading the data set\nfeatures: feature_0,")
    assert "\x1b" not in log.inner_text() and "[32m" not in log.inner_text()
    box = page.evaluate("() => { const p = document.getElementById('stdout');"
                        " return [p.scrollWidth, p.clientWidth]; }")
    assert box[0] <= box[1]  # the long line wraps inside the log
    page.goto(ui.url + _views(ui, science)["card"])
    frame = page.frame_locator("iframe.card").first
    expect(frame.locator("body")).to_contain_text("best score 99.9 of 999")


# -- an empty datastore ----------------------------------------------------------------------------

def test_an_empty_datastore_says_which_and_shows_the_first_run_when_it_comes(tmp_path, browser):
    """A UI pointed at a folder without runs (the wrong one?) says so, naming the datastore it
    reads (before: "No runs yet." only), and shows the first run once it is made, unreloaded."""
    context = new_context(browser)
    with ui_server(tmp_path) as ui:
        assert ui.json("/api/flows") == [] and ui.json("/api/runs")["runs"] == []
        page = watched_page(context)
        page.goto(ui.url + "/")
        expect(page.locator("#no-runs")).to_have_text(
            f"No runs yet in {tmp_path / '.headwater'}.")
        expect(page.locator("header #zone")).to_contain_text("times in ")
        assert page.evaluate(UNNAMED) == {"unnamed": [], "ambiguous": []}
        missing = page.goto(ui.url + "/flows/ScienceFlow")
        assert missing.status == 404
        expect(page.locator("main")).to_contain_text(f"no flow ScienceFlow in {tmp_path}")
        page.goto(ui.url + "/")
        expect(page.locator("#no-runs")).to_be_visible()
        made = hw(flow_file("ui/ui_flow.py"), "run", cwd=tmp_path)
        assert made.returncode == 0, made.stdout + made.stderr
        expect(page.locator('#runs-table tr[data-pathspec="UIFlow/1"] .status')).to_have_text(
            "succeeded")
        # the 404 asked for above, in the console too
        problems = [p for p in page.problems  # type: ignore[attr-defined]
                    if "/flows/ScienceFlow" not in p and "status of 404" not in p]
        assert problems == [], problems
    context.close()


# -- a page that polls, on a live foreach of 1,000 tasks ----------------------------------------

HOLD_SLOTS = """(slots) => { for (let i = 0; i < slots; i++)
  navigator.locks.request(`headwater-stream-${i}`, () => new Promise(() => {})); }"""


def test_a_run_page_without_a_stream_follows_a_live_foreach_of_1000_tasks(home, browser,
                                                                          monkeypatch):
    """Every stream slot held by other tabs: a run page and a running task's page poll instead,
    and still follow a 1,000-task foreach to its end (each task succeeded, counted once), then
    take a slot as soon as one is free."""
    monkeypatch.setenv("WIDTH", "1000")
    context = new_context(browser)
    with ui_server(home) as ui, gated_run(flow_file("ui/wide_live_foreach_flow.py"), home,
                                          "poll-wide", ("work", "join"),
                                          "--max-workers", "8") as (run, gates):
        run_id = wait_until(lambda: (ui.json("/api/runs?flow=WideForeachFlow&status=running")
                                     ["runs"] or [{}])[0].get("run_id"), "the run to start")
        holder = watched_page(context)
        holder.goto(f"{ui.url}/flows/WideForeachFlow")
        holder.evaluate(HOLD_SLOTS, STREAM_SLOTS)
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/WideForeachFlow/{run_id}?offset=900#tasks")
        expect(page.locator("#run-status")).to_have_text("running")
        wait_until(lambda: page.evaluate(MODES) == ["polling"], "the run page to poll")
        (gates / "work").touch()
        expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text(
            "1000 tasks")
        expect(page.locator("#tasks-table tbody tr .status")).to_have_text(["succeeded"] * 100)
        join = wait_until(lambda: ui.json(f"/api/runs/WideForeachFlow/{run_id}/tasks?step=join")
                          ["tasks"], "the join to start")[0]["task_id"]
        task = watched_page(context)
        task.goto(f"{ui.url}/runs/WideForeachFlow/{run_id}/join/{join}")
        expect(task.locator("#task-status")).to_have_text("running")
        wait_until(lambda: task.evaluate(MODES) == ["polling"], "the task page to poll")
        expect(task.locator("#stdout-state")).to_have_text("following (every few seconds)")
        holder.close()  # its slots let go: the pages stream
        wait_until(lambda: page.evaluate(MODES) == ["streaming"]
                   and task.evaluate(MODES) == ["streaming"], "the pages to take the free slots")
        expect(task.locator("#stdout-state")).to_have_text("following")
        (gates / "join").touch()
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator("#tasks-range")).to_have_text("tasks 901–1000 of 1003")
        rows = page.locator("#tasks-table tbody tr").evaluate_all(
            "rows => rows.map((r) => r.dataset.task)")
        listed = ui.json(f"/api/runs/WideForeachFlow/{run_id}/tasks?offset=900")["tasks"]
        assert rows == [f"{t['step']}/{t['task_id']}" for t in listed]
        expect(task.locator("#task-status")).to_have_text("succeeded")
        assert run.wait(timeout=300) == 0
        for tab in (page, task):
            assert _problems(tab) == [], _problems(tab)
    context.close()
