"""The seventh browser round, in a real browser (Debian's Chromium driven by Playwright) against a
real ``headwater ui`` server over runs real flows made:

- A run deleted (``headwater delete``) while its page and one of its tasks' pages are open: both
  stop following it (no stream, no poll, nothing ticking) and say it is gone, with the way back.
- Every text colour reaches WCAG AA (4.5:1) on what it is drawn on, every status badge included,
  in the light scheme and the dark one.
- A big run: its task list, a join of its 250-task foreach, a task with a 2 MB log and one with
  250 artifacts each answer a bounded amount (a page, its first inputs, the log's last MiB, 100
  artifacts) and the page offers the rest ("next", "show the next 100 artifacts", a find box
  searching on the server). Bounds are asserted, never times (benchmarks/ui_browser.py measures).
- The keyboard alone reaches every control, each named for a screen reader and drawn with a
  visible focus outline; a reader asking for reduced motion gets none; at 375 px wide no page
  scrolls sideways.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from servers import stop_process

from .faultkit import hw
from .flowrun import flow_file, hermetic_env, start_cli
from .uiserver import (
    DEADLINE_MS,
    UIServer,
    _wait_ready,
    new_context,
    running_task,
    ui_command,
    ui_server,
    wait_until,
    watched_page,
)

expect.set_options(timeout=DEADLINE_MS)
SCALE_FLOW = Path(__file__).resolve().parents[2] / "benchmarks" / "flows" / "ui_scale.py"
UI_FLOW = flow_file("ui/ui_flow.py")
TASKS, ARTIFACTS = 250, 250


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-round7")
    proc = hw(SCALE_FLOW, "run", "--n", str(TASKS), "--log-mb", "2", "--artifacts",
              str(ARTIFACTS), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    failed = hw(flow_file("ui/fail_foreach_flow.py"), "run", cwd=folder, CURSE="1")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    return folder


def _task(ui, flow: str, run: str, step: str) -> str:  # type: ignore[no-untyped-def]
    return ui.json(f"/api/runs/{flow}/{run}/tasks?step={step}")["tasks"][0]["task_id"]


# -- a deleted run -------------------------------------------------------------------------------

# Counts the page's requests as it makes them (fetch and event streams), synchronously: a poll
# a fake clock's timer fires is counted before run_for returns.
COUNT_REQUESTS = """window.__asked = 0;
const realFetch = window.fetch;
window.fetch = (...args) => { window.__asked++; return realFetch(...args); };
const RealSource = window.EventSource;
window.EventSource = class extends RealSource { constructor(...a) { super(...a); window.__asked++; } };"""


def _serve(home: Path, port: int) -> tuple[subprocess.Popen, UIServer]:
    log = home / f"ui-{port}-again.log"
    with open(log, "ab") as handle:
        proc = subprocess.Popen(ui_command(home, "--port", str(port)), env=hermetic_env(),  # noqa: S603
                                stdout=handle, stderr=subprocess.STDOUT, cwd=home)
    server = UIServer(proc, port, log, None)
    _wait_ready(server)
    return proc, server


def test_a_deleted_runs_pages_stop_following_it_and_say_it_is_gone(home, browser):
    """The reader's laptop slept (the UI server restarted) while the run was killed and deleted:
    on coming back, the run's page and its task's page say the run is gone and stop asking. The
    task page, which polls, runs on a fake clock: ten minutes of its timers are run at once, and
    not one request may follow (it polled every 3 s forever before)."""
    gate = home / "gate-never"
    run = start_cli(UI_FLOW, "run", "--gate", str(gate), cwd=home, start_new_session=True,
                    env={**hermetic_env(), "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    context = new_context(browser)
    context.add_init_script(COUNT_REQUESTS)
    with ui_server(home) as ui, _closing(run, gate, context):
        run_id, task_id = wait_until(lambda: running_task(ui, "UIFlow", "wait"),
                                     "the wait step to start")
        task_page = context.new_page()
        task_page.clock.install()  # its polls fire only when the test runs its clock
        task_page.goto(f"{ui.url}/runs/UIFlow/{run_id}/wait/{task_id}")
        expect(task_page.locator("#stdout")).to_contain_text("waiting for the gate")
        run_page = context.new_page()
        run_page.goto(f"{ui.url}/runs/UIFlow/{run_id}")
        expect(run_page.locator("#run-status")).to_have_text("running")
        expect(run_page.locator("[data-since]")).not_to_have_count(0)  # its duration ticks

        stop_process(ui.proc)  # the server goes away ...
        os.killpg(run.pid, signal.SIGKILL)  # ... the run is killed and deleted meanwhile ...
        run.wait(timeout=120)
        deleted = subprocess.run(  # noqa: S603 - our own CLI
            [str(Path(sys.executable).parent / "headwater"), "delete", f"UIFlow/{run_id}"],
            cwd=home, env=hermetic_env(), capture_output=True, text=True, timeout=120)
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        again, _ = _serve(home, ui.port)  # ... and comes back on the same address
        try:
            _gone_pages(run_id, run_page, task_page)
        finally:
            stop_process(again)


def _gone_pages(run_id: str, run_page, task_page) -> None:  # type: ignore[no-untyped-def]
    """What the run's page and its task's page do once the run is gone."""
    # the run page's stream reconnects, is refused (404): the page says the run is gone
    gone = run_page.locator("#gone")
    expect(gone).to_contain_text(f"Run UIFlow/{run_id} is gone")
    expect(gone).to_contain_text("headwater delete")
    expect(run_page).to_have_title(f"Gone: UIFlow/{run_id} · headwater")
    expect(run_page.locator("[data-since]")).to_have_count(0)  # nothing ticks on
    expect(run_page.locator("#connection")).to_have_count(0)  # the server is back: no "lost"
    assert run_page.evaluate("streams.size") == 0
    expect(run_page.locator("h1")).to_have_text(f"UIFlow/{run_id}")  # what it showed is kept

    # the task page's next poll is answered 404: it says so and asks nothing more
    wait_until(lambda: task_page.clock.run_for(3000) or task_page.locator("#gone").count(),
               "the task page to say its run is gone")
    expect(task_page.locator("#gone")).to_contain_text(f"Run UIFlow/{run_id} is gone")
    expect(task_page.locator("#connection")).to_have_count(0)
    asked = task_page.evaluate("window.__asked")
    task_page.clock.run_for(10 * 60_000)  # ten minutes of the page's timers
    assert task_page.evaluate("window.__asked") == asked
    assert task_page.evaluate("streams.size") == 0
    expect(task_page.locator("[data-since]")).to_have_count(0)

    # the way back: the flow's runs, which no longer list the deleted one
    run_page.get_by_role("link", name="The runs of UIFlow").click()
    expect(run_page.locator("h1")).to_have_text("Runs of UIFlow")
    expect(run_page.locator(f'#runs-table tr[data-pathspec="UIFlow/{run_id}"]')
           ).to_have_count(0)


@contextmanager
def _closing(run: subprocess.Popen, gate: Path, context) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The held run killed and reaped, the browser context closed, whatever the test did."""
    try:
        yield
    finally:
        context.close()
        gate.touch()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=120)
        run.stdout.close()
        run.stderr.close()


# -- contrast ------------------------------------------------------------------------------------

# Every text on the page whose colour is below 4.5:1 on the background it is drawn on (the
# nearest opaque background up its ancestors; an SVG text on the box drawn behind it).
LOW_CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (node) => {
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const low = [], seen = new Set();
  const note = (node, text, fg, bg) => { const r = ratio(fg, bg);
    if (r < 4.5) low.push(`${text.trim().slice(0, 30)} (${node.tagName}.${node.getAttribute("class")}): ${r.toFixed(2)}`); };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const node = t.parentElement;
    if (!t.data.trim() || !node || seen.has(node) || node.closest("svg") || !node.getClientRects().length) continue;
    seen.add(node);
    note(node, t.data, parse(getComputedStyle(node).color), background(node));
  }
  for (const text of document.querySelectorAll("svg text")) {
    const rect = text.closest("g.step")?.querySelector("rect");
    note(text, text.textContent, parse(getComputedStyle(text).fill),
         rect ? parse(getComputedStyle(rect).fill) : background(text.closest("svg")));
  }
  return low;
}"""

# One badge of every status the UI draws (and "pending", what any other status falls back to)
EVERY_BADGE = """() => { for (const s of ["pending", "running", "succeeded", "failed", "not run"]) app.append(badge(s)); }"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_reaches_aa_contrast_in_both_schemes(ui, home, browser, scheme):
    context = new_context(browser, color_scheme=scheme)
    page = watched_page(context)
    chatty = _task(ui, "ScaleFlow", "1", "chatty")
    failed = ui.json("/api/runs/FailForeachFlow/1")["failures"][0]["task_id"]
    for path, ready in [
            ("/", "#runs-table tbody tr"),
            ("/runs/FailForeachFlow/1", "#failures li"),  # failures, a failed step, "not run"
            (f"/runs/FailForeachFlow/1/work/{failed}", ".traceback"),
            (f"/runs/ScaleFlow/1/chatty/{chatty}", '#stdout-state:text-is("complete")'),
            (f"/runs/ScaleFlow/1/many/{_task(ui, 'ScaleFlow', '1', 'many')}", "#artifacts-more"),
            ("/runs/ScaleFlow/1/nope/1", "h1")]:  # the 404 page
        page.goto(ui.url + path)
        page.locator(ready).first.wait_for()
        if path == "/":
            page.evaluate(EVERY_BADGE)
            expect(page.locator("#app > .status")).to_have_count(5)
        if path == "/runs/FailForeachFlow/1":  # the notice a deleted run's page shows
            page.evaluate("gone('FailForeachFlow', '1')")
            expect(page.locator("#gone")).to_be_visible()
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark")
        assert page.evaluate(LOW_CONTRAST) == [], (scheme, path)
    context.close()


# -- a big run: bounded answers, the rest a control away -----------------------------------------

def _api_sizes(page) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    sizes: list[tuple[str, int]] = []
    page.on("requestfinished", lambda r: sizes.append((r.url, r.sizes()["responseBodySize"]))
            if "/api/" in r.url and not r.url.endswith("/events") else None)
    return sizes


def test_a_big_runs_pages_read_a_bounded_amount_and_offer_the_rest(ui, home, context):
    # the API cuts every list, whatever it is asked for
    tasks = ui.json("/api/runs/ScaleFlow/1/tasks?step=work&limit=100000")
    assert len(tasks["tasks"]) == TASKS and not tasks["more"]  # 250: under the 500 cap
    capped = ui.json("/api/runs/ScaleFlow/1/tasks?limit=100000")
    assert capped["limit"] == 500 and len(capped["tasks"]) == TASKS + 5
    join = _task(ui, "ScaleFlow", "1", "join")
    listed = ui.json("/api/runs/ScaleFlow/1/tasks?step=join")["tasks"][0]
    assert len(listed["parents"]) == 10 and listed["parent_count"] == TASKS
    assert listed["parent_steps"] == {"work": TASKS}

    page = watched_page(context)
    sizes = _api_sizes(page)
    page.goto(f"{ui.url}/runs/ScaleFlow/1")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(100)
    expect(page.locator("#tasks-range")).to_have_text(f"tasks 1–100 of {TASKS + 5}")
    expect(page.get_by_role("link", name="next →")).to_be_visible()
    assert max(size for _, size in sizes) < 64 * 1024, sizes

    # a join of the whole foreach: its first ten inputs, the rest one link away
    sizes.clear()
    page.goto(f"{ui.url}/runs/ScaleFlow/1/join/{join}")
    expect(page.locator("#inputs > a")).to_have_count(11)  # ten tasks and the step's list
    expect(page.locator("#inputs")).to_contain_text(f"and {TASKS - 10} more of step work")
    expect(page.locator("#inputs a.more-inputs")).to_have_attribute(
        "href", "/runs/ScaleFlow/1?step=work#tasks")
    for stream in ("stdout", "stderr"):
        expect(page.locator(f"#{stream}-state")).to_have_text("complete")
    assert max(size for _, size in sizes) < 16 * 1024, sizes

    # a 2 MB log: the page reads its last MiB, and finds in the whole of it on the server
    sizes.clear()
    chatty = _task(ui, "ScaleFlow", "1", "chatty")
    page.goto(f"{ui.url}/runs/ScaleFlow/1/chatty/{chatty}")
    expect(page.locator("#stdout-state")).to_have_text("complete")
    expect(page.locator("#stdout-cut")).to_contain_text(
        re.compile(r"Showing the last (1023\.\d KiB|1\.0 MiB) of 1\.9 MiB"))
    assert max(size for _, size in sizes) <= (1 << 20) + 16 * 1024, sizes
    page.locator("#stdout-find").fill("line        1 of")
    expect(page.locator("#stdout-matches")).to_have_text("1 matching line in the whole log")
    page.get_by_role("button", name="show line 1 in its place").click()
    expect(page.locator("#stdout-around .target")).to_contain_text("line        1 of the chatty")

    # 250 artifacts (and the flow's 4 others): 100 at a time, each previewed; the rest on
    # asking; found by name
    sizes.clear()
    many = _task(ui, "ScaleFlow", "1", "many")
    base = f"/api/tasks/ScaleFlow/1/many/{many}"
    total = ui.json(base)["artifacts_total"]
    assert total == ARTIFACTS + 4  # items, n, log_mb, total ... carried to the task
    page.goto(f"{ui.url}/runs/ScaleFlow/1/many/{many}")
    rows = page.locator("#artifacts tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#artifacts-range")).to_have_text(f"artifacts 1–100 of {total}")
    expect(page.locator('#artifacts tr[data-artifact="value_0000"] .preview')).to_contain_text(
        "'square': 0")
    more = page.get_by_role("button", name="show the next 100 artifacts")
    more.click()
    expect(rows).to_have_count(200)
    # the keyboard goes on from the first row read
    expect(rows.nth(100).get_by_role("link")).to_be_focused()
    expect(page.locator('#artifacts tr[data-artifact="value_0150"] .preview')).to_contain_text(
        "'square': 22500")
    page.get_by_role("button", name=f"show the next {total - 200} artifacts").click()
    expect(rows).to_have_count(total)
    expect(more).to_be_hidden()
    expect(page.locator('#artifacts tr[data-artifact="value_0249"] .preview')).to_contain_text(
        "'square': 62001")
    page.get_by_role("searchbox", name="find artifacts by name").fill("VALUE_02")
    expect(page.locator("#artifacts-range")).to_have_text("50 artifacts named with “VALUE_02”")
    expect(rows).to_have_count(50)
    assert max(size for _, size in sizes) < 64 * 1024, sizes
    whole = ui.json(f"{base}/artifacts?limit=100000")
    assert whole["limit"] == 500 and len(whole["artifacts"]) == total
    page_3 = ui.json(f"{base}/artifacts?offset=200")
    assert len(page_3["artifacts"]) == total - 200 and not page_3["more"]
    assert page_3["total"] == total and len(ui.json(base)["artifacts"]) == 100
    status, _, body = ui.get(f"{base}/artifacts?q={'x' * 201}")
    assert status == 404 and b"at most 200 characters" in body
    assert page.problems == []


# -- keyboard, screen readers, motion, a phone --------------------------------------------------

FOCUSED = """() => {
  const n = document.activeElement;
  if (!n || n === document.body || n === document.documentElement) return null;
  const style = getComputedStyle(n);
  const rect = n instanceof SVGElement ? n.querySelector("rect") : null;
  return { key: n.outerHTML.slice(0, 120), outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
           visible: n.matches(":focus-visible"), stroke: rect ? getComputedStyle(rect).strokeWidth : null };
}"""
# What the Tab key must reach: every link, button and field shown, and every box that scrolls
# (Chromium puts it in the Tab order); timeline bars are left out on purpose (the task list
# below repeats their links).
REACHABLE = """() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex="0"]')]
  .filter((n) => n.getClientRects().length && !n.closest("[hidden]") && n.getAttribute("tabindex") !== "-1"
                 && !n.disabled && getComputedStyle(n).visibility !== "hidden")
  .map((n) => n.outerHTML.slice(0, 120))"""


def _tab_through(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Each stop of the Tab key from the top of the page to its end: what it is, its role and
    name as a screen reader gets them (the accessibility tree's snapshot), its focus outline."""
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.keyboard.press("Tab")
    stops = []
    for _ in range(600):
        focused = page.evaluate(FOCUSED)
        if focused is None or (stops and focused["key"] == stops[0]["key"]):
            break
        focused["aria"] = page.locator(":focus").aria_snapshot().splitlines()[0]
        stops.append(focused)
        page.keyboard.press("Tab")
    return stops


NAMED = re.compile(r"""^- '?(link|button|searchbox|textbox|combobox|region|group) "[^"]+""")


def test_every_control_is_reached_by_the_keyboard_named_and_shows_its_focus(ui, home, context):
    failed = ui.json("/api/runs/FailForeachFlow/1")["failures"][0]["task_id"]
    many = _task(ui, "ScaleFlow", "1", "many")
    page = watched_page(context)
    for path, ready in [
            ("/", "#runs-table tbody tr"),
            ("/runs/FailForeachFlow/1?step=work&status=failed", "#tasks-table tbody tr"),
            (f"/runs/FailForeachFlow/1/work/{failed}", '#stdout-state:text-is("complete")'),
            (f"/runs/ScaleFlow/1/many/{many}", "#artifacts-more")]:
        page.goto(ui.url + path)
        page.locator(ready).first.wait_for()
        stops = _tab_through(page)
        reached = {s["key"] for s in stops}
        missed = [key for key in page.evaluate(REACHABLE) if key not in reached]
        assert missed == [], (path, missed)
        for stop in stops:
            assert NAMED.match(stop["aria"]), (path, stop)  # a role and a name
            assert stop["visible"], (path, stop)  # the keyboard's focus is shown ...
            assert stop["outline"] or stop["stroke"] == "3px", (path, stop)  # ... as an outline
    assert page.problems == []


def test_reduced_motion_and_a_375_px_phone(ui, home, browser):
    context = new_context(browser, viewport={"width": 375, "height": 800},
                          reduced_motion="reduce", has_touch=True, is_mobile=True)
    page = watched_page(context)
    failed = ui.json("/api/runs/FailForeachFlow/1")["failures"][0]["task_id"]
    for path, ready in [
            ("/", "#runs-table tbody tr"),
            ("/runs/ScaleFlow/1", "#tasks-table tbody tr"),
            ("/runs/FailForeachFlow/1#tasks", "#tasks-table tbody tr"),
            (f"/runs/FailForeachFlow/1/work/{failed}", ".traceback"),
            (f"/runs/ScaleFlow/1/many/{_task(ui, 'ScaleFlow', '1', 'many')}", "#artifacts-more"),
            (f"/runs/ScaleFlow/1/chatty/{_task(ui, 'ScaleFlow', '1', 'chatty')}",
             '#stdout-state:text-is("complete")')]:
        page.goto(ui.url + path)
        page.locator(ready).first.wait_for()
        laid = page.evaluate("""() => ({ page: document.documentElement.scrollWidth,
            body: document.body.scrollWidth, window: innerWidth,
            moving: document.getAnimations().length,
            smooth: getComputedStyle(document.documentElement).scrollBehavior })""")
        assert laid["page"] <= laid["window"] and laid["body"] <= laid["window"], (path, laid)
        assert laid["moving"] == 0 and laid["smooth"] == "auto", (path, laid)
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
    assert page.problems == []
    context.close()
