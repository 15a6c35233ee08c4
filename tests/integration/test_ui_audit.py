"""The web UI used as a person would, in a real browser (Debian's Chromium driven by Playwright):
every page clean of console errors and failed requests, names in any script, times with their
zone, clear pages for what does not exist, a failed run leading to its failed task, a resumed run
naming its origin, markup in every user-made text never running, an empty datastore saying so.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .faultkit import hw
from .flowrun import flow_file
from .uiserver import (
    DEADLINE_MS,
    gated_run,
    new_context,
    running_task,
    ui_server,
    wait_until,
    watched_page,
)

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
FLUSS = "Flu\u00dfFlow"
expect.set_options(timeout=DEADLINE_MS)  # a loaded machine: the page may take its time


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ui-audit")
    runs = ((flow_file("ui/odd_names_flow.py"), ("run",), {}, 0),
            (flow_file("ui/xss_flow.py"), ("run", "--tag", PAYLOAD), {}, 1),
            (flow_file("ui/fail_foreach_flow.py"), ("run",), {"CURSE": "1"}, 1),
            (flow_file("ui/fail_foreach_flow.py"), ("resume",), {}, 0))
    for flow, args, env, code in runs:
        proc = hw(flow, *args, cwd=folder, **env)
        assert proc.returncode == code, proc.stdout + proc.stderr
    return folder


@pytest.fixture
def page(context):
    return watched_page(context)


def _task_id(ui, flow: str, run: str, step: str) -> str:
    path = f"/api/runs/{quote(flow)}/{run}/tasks?step={quote(step)}"
    return ui.json(path)["tasks"][0]["task_id"]


def _loaded(page) -> None:
    """Wait until the page's script has drawn it (the shell says "Loading…" until then)."""
    expect(page.locator("#app > p.muted", has_text="Loading")).to_have_count(0)


def _no_script_ran(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("() => window.__xss") is None, frame.url


# -- names, downloads -------------------------------------------------------------------------

def test_names_in_any_script_reach_their_pages_and_downloads(ui):
    flow = quote(FLUSS)
    assert ui.json(f"/api/runs/{flow}/1")["flow"] == FLUSS
    step = quote("schritt_\u00e4")
    task_id = _task_id(ui, FLUSS, "1", "schritt_\u00e4")
    assert ui.json(f"/api/tasks/{flow}/1/{step}/{task_id}")["step"] == "schritt_\u00e4"
    start = f"/api/tasks/{flow}/1/start/{_task_id(ui, FLUSS, '1', 'start')}"
    status, _, body = ui.get(f"{start}/artifacts/" + quote("gr\u00f6\u00dfe"))
    assert (status, body) == (200, b"drei")
    # a name beyond Latin-1 downloads under its own name (headers are Latin-1: an ASCII
    # fallback, and the UTF-8 name as RFC 6266's filename*)
    status, headers, body = ui.get(f"{start}/artifacts/" + quote("\u6570\u636e"))
    assert status == 200 and pickle.loads(body) == [1, 2, 3], (status, body)
    assert headers["content-disposition"] == (
        "attachment; filename=\"__.pickle\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE.pickle")
    # a value of a class only the flow's process can import: the reason, the fix, and the
    # stored pickle to download (never a 500)
    listed = {a["name"]: a for a in ui.json(start)["artifacts"]}
    local = listed["local"]
    assert local["preview"] is None and local["download"] == "pickle", local
    assert "'local'" in local["error"] and "Local" in local["error"], local
    assert "__main__" in local["error"] and "defines Local" in local["fix"], local
    status, headers, body = ui.get(f"{start}/artifacts/local")
    assert status == 200, body
    assert headers["content-type"] == "application/x-python-pickle", headers
    assert 'filename="local.pickle"' in headers["content-disposition"], headers
    assert b"Local" in body and body[:2] == b"\x80\x05", body[:40]  # protocol 5 pickle
    # a class in a module the UI cannot import: named, with the fix, and the pickle loads
    # where that module imports
    shape = listed["shape"]
    assert "ui_shapes" in shape["error"] and "'shape'" in shape["error"], shape
    assert "headwater ui" in shape["fix"] and "ui_shapes imports" in shape["fix"], shape
    status, headers, body = ui.get(f"{start}/artifacts/shape")
    assert status == 200 and headers["content-type"] == "application/x-python-pickle"
    loaded = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "import pickle, sys; print(pickle.load(sys.stdin.buffer).sides)"],
        input=body, capture_output=True, check=True,
        env={**os.environ, "PYTHONPATH": str(Path(flow_file("ui/ui_shapes.py")).parent)})
    assert loaded.stdout.strip() == b"5", loaded
    # still no way to a storage key beyond a plain name: a line break, a dot, a slash
    for bad in ("gr%C3%B6%C3%9Fe%0A", "..", "a.b", "a%2Fb"):
        status, _, _ = ui.get(f"{start}/artifacts/{bad}")
        assert status == 404, bad


# -- every page clean --------------------------------------------------------------------------

def test_every_page_from_home_to_a_task_loads_clean_and_the_back_button_works(ui, page):
    start = _task_id(ui, FLUSS, "1", "start")
    page.goto(ui.url + "/")
    _loaded(page)
    page.click(f"#runs-table >> text={FLUSS}/1")
    page.wait_for_url(re.compile(r"/runs/Flu%C3%9FFlow/1$"))
    _loaded(page)
    expect(page.locator('#dag g.step[data-step="schritt_\u00e4"]')).to_have_class(
        "step succeeded")
    page.click(f'#tasks-table a:text("start/{start}")')
    page.wait_for_url(re.compile(rf"/runs/Flu%C3%9FFlow/1/start/{start}$"))
    _loaded(page)
    expect(page.locator('#artifacts tr[data-artifact="gr\u00f6\u00dfe"]')).to_contain_text("drei")
    for stream in ("stdout", "stderr"):
        expect(page.locator(f"#{stream}-state")).to_have_text("complete")
    expect(page.locator("#stdout")).to_have_text("(no output)")
    local = page.locator('#artifacts tr[data-artifact="local"]')
    expect(local.locator(".error")).to_contain_text("artifact 'local'")
    expect(local.locator(".fix")).to_contain_text("defines Local")
    shape = page.locator('#artifacts tr[data-artifact="shape"]')
    expect(shape.locator(".error")).to_contain_text("module ui_shapes")
    expect(shape.locator(".fix")).to_contain_text("run `headwater ui` where ui_shapes imports")
    with page.expect_download() as got:
        shape.locator("a", has_text="download pickle").click()
    assert got.value.suggested_filename == "shape.pickle"
    assert got.value.failure() is None
    expect(page.locator('#artifacts tr[data-artifact="big"]')).to_contain_text("too large")
    expect(page.locator('#artifacts tr[data-artifact="big"] a')).to_have_text("download")
    page.go_back()
    page.wait_for_url(re.compile(r"/runs/Flu%C3%9FFlow/1$"))
    _loaded(page)
    page.go_back()
    page.wait_for_url(ui.url + "/")
    _loaded(page)
    for path in (f"/flows/{quote(FLUSS)}", "/runs/XssFlow/1", "/runs/FailForeachFlow/1",
                 f"/runs/XssFlow/1/start/{_task_id(ui, 'XssFlow', '1', 'start')}"):
        page.goto(ui.url + path)
        _loaded(page)
        if "/start/" in path:
            expect(page.locator("#stderr-state")).to_have_text("complete")
            expect(page.locator("iframe.card")).to_have_count(2)
            # each frame sized to its card (not a fixed 640 px): the whole card shows
            for i in range(2):
                frame = page.locator("iframe.card").nth(i)
                expect(frame).to_have_attribute("data-fitted", "true")
                inside = page.frame_locator("iframe.card").nth(i).locator("html")
                wait_until(lambda frame=frame, inside=inside: abs(
                    frame.bounding_box()["height"]
                    - (inside.evaluate("e => Math.ceil(e.getBoundingClientRect().height)") + 2))
                    <= 1, f"card frame {i} fitted to its content")  # laid out in its own process
    assert page.problems == []  # type: ignore[attr-defined]


def test_times_name_their_zone(ui, browser):
    context = new_context(browser, timezone_id="Asia/Kolkata")  # +05:30, no summer time
    page = context.new_page()
    try:
        page.goto(ui.url + "/")
        _loaded(page)
        started = page.locator("#runs-table tbody tr").first.locator("td").nth(2)
        expect(started).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30$"))
        stamp = started.locator("time").get_attribute("datetime")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp), stamp
    finally:
        context.close()


def test_the_task_timeline_is_coloured_by_status(ui, page):
    page.goto(ui.url + "/runs/FailForeachFlow/1")
    _loaded(page)
    bar = page.locator("#task-timeline rect.bar.succeeded").first
    step_bar = page.locator("#timeline rect.bar.succeeded").first
    fill = bar.evaluate("e => getComputedStyle(e).fill")
    assert fill == step_bar.evaluate("e => getComputedStyle(e).fill")
    assert fill != "rgb(0, 0, 0)"


def test_headings_and_keyboard_lead_to_a_task(ui, page):
    """Each page opens with its h1; the Tab key reaches the runs before the flows; the graph's
    step links say what they are; Enter follows a focused link."""
    page.goto(ui.url + "/")
    _loaded(page)
    headings = page.evaluate("() => [...document.querySelectorAll('h1, h2')].map(h => h.tagName)")
    assert headings[0] == "H1", headings
    for _ in range(12):
        page.keyboard.press("Tab")
        href = page.evaluate("() => document.activeElement.getAttribute('href') || ''")
        if href.startswith(("/runs/", "/flows/")):
            break
    assert href.startswith("/runs/"), href  # the table's runs come before the flows aside
    page.goto(ui.url + "/runs/FailForeachFlow/1")
    _loaded(page)
    work = ui.json("/api/runs/FailForeachFlow/1")["steps"]["work"]  # the failure stops the run
    # how many of the 150 items were registered before the failure stopped the run depends on
    # the machine's load: fewer than all reads "144 of 150 tasks"
    width = "" if work["tasks"] == 150 else " of 150"
    name = f"step work: failed, {work['tasks']}{width} tasks \u00b7 {work['failed']} failed"
    step = page.get_by_role("link", name=name)
    expect(step).to_have_count(1)
    step.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/1\?step=work#tasks$"))
    _loaded(page)
    expect(page.locator("#tasks-range")).to_have_text(f"tasks 1\u2013100 of {work['tasks']}")


# -- what is not there -------------------------------------------------------------------------

@pytest.mark.parametrize("path, said", [
    ("/runs/FailForeachFlow/99", "no run FailForeachFlow/99"),
    ("/flows/NoSuchFlow", "no flow NoSuchFlow"),
    ("/runs/FailForeachFlow/1/start/99999", "no task FailForeachFlow/1/start/99999"),
    ("/runs/Bad%3Cname/1", "no flow named"),
    ("/no/such/page", "no page"),
])
def test_what_does_not_exist_gets_a_404_page_saying_so(ui, context, path, said):
    page = context.new_page()
    response = page.goto(ui.url + path)
    assert response.status == 404
    expect(page).to_have_title(re.compile("^Not found"))
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text(said)
    page.click("main a[href='/']")
    page.wait_for_url(ui.url + "/")


def test_an_unknown_api_address_still_answers_json(ui):
    status, headers, body = ui.get("/api/nothing/here")
    assert status == 404 and headers["content-type"].startswith("application/json"), body


# -- run shapes --------------------------------------------------------------------------------

def test_a_failed_run_leads_to_its_failed_task(ui, page):
    page.goto(ui.url + "/runs/FailForeachFlow/1")
    _loaded(page)
    failures = page.locator("#failures")
    expect(failures).to_contain_text("RuntimeError: item 137 is cursed")
    # the failed task is far beyond the first page of tasks, yet one click away
    expect(page.locator("#tasks-table tbody")).not_to_contain_text("failed")
    # the foreach says how much of it ran, out of its 150 items
    ran = ui.json("/api/runs/FailForeachFlow/1")["steps"]["work"]["tasks"]
    expect(page.locator('#dag g.step[data-step="work"] text.count')).to_have_text(
        f"{ran} of 150 tasks \u00b7 1 failed" if ran != 150 else "150 tasks \u00b7 1 failed")
    assert ui.json("/api/runs/FailForeachFlow/1")["foreach_widths"] == {"work": 150}
    # the steps the failure kept from running say so (not "pending": the run is over)
    for name in ("join", "end"):
        expect(page.locator(f'#dag g.step[data-step="{name}"] text.count')).to_have_text("not run")
    failures.locator("a").first.click()
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/1/work/\d+$"))
    expect(page.locator("pre.traceback")).to_contain_text("item 137 is cursed")
    failed_task = page.url.rpartition("/")[2]
    # the task list filtered by status: only the failed task, counted; the step kept with it
    page.goto(ui.url + "/runs/FailForeachFlow/1?status=failed#tasks")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    expect(page.locator("#tasks-table tbody .status")).to_have_text("failed")
    expect(page.locator("#tasks-range")).to_have_text("tasks 1\u20131 of 1")
    expect(page.locator(".status-picker a.current")).to_have_text("failed")
    page.click(".step-picker >> text=join")
    page.wait_for_url(re.compile(r"\?step=join&status=failed#tasks$"))
    expect(page.locator("#tasks-none")).to_have_text("step join has no failed tasks.")
    assert ui.get("/api/runs/FailForeachFlow/1/tasks?status=bogus")[0] == 404
    page.goto(ui.url + "/runs/FailForeachFlow/1/work/" + failed_task)
    # the breadcrumbs lead back to the step's tasks
    page.click("#crumbs >> text=work")
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/1\?step=work#tasks$"))
    expect(page.locator(".step-picker a.current")).to_have_text("work")


def test_a_big_foreach_is_paged_with_a_count(ui, page):
    page.goto(ui.url + "/runs/FailForeachFlow/2")
    _loaded(page)
    total = sum(s["tasks"] for s in ui.json("/api/runs/FailForeachFlow/2")["steps"].values())
    expect(page.locator("#tasks-range")).to_have_text(f"tasks 1\u2013100 of {total}")
    page.click("text=next \u2192")
    page.wait_for_url(re.compile(r"offset=100"))
    expect(page.locator("#tasks-range")).to_have_text(f"tasks 101\u2013{total} of {total}")
    page.click(".step-picker >> text=join")  # the step picker: only that step's tasks, counted
    expect(page.locator("#tasks-range")).to_have_text("tasks 1\u20131 of 1")
    # an empty page says why, and leads back
    page.goto(ui.url + "/runs/FailForeachFlow/2?offset=5000")
    expect(page.locator("#tasks-none")).to_have_text(
        f"No tasks on this page: this run has {total} tasks.")
    page.click(".pager >> text=first page")
    expect(page.locator("#tasks-range")).to_have_text(f"tasks 1\u2013100 of {total}")
    page.goto(ui.url + "/runs/FailForeachFlow/1?step=end")  # the failure kept it from running
    expect(page.locator("#tasks-none")).to_have_text("step end has no tasks.")


def test_a_pathspec_cut_at_its_step_lists_that_steps_tasks(ui, page):
    page.goto(ui.url + "/runs/FailForeachFlow/1/join")
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/1\?step=join#tasks$"))
    _loaded(page)
    expect(page.locator(".step-picker a.current")).to_have_text("join")
    assert page.goto(ui.url + "/runs/FailForeachFlow/1/no.step").status == 404
    page.goto(ui.url + "/runs/FailForeachFlow")  # cut further: the flow, then every run
    page.wait_for_url(re.compile(r"/flows/FailForeachFlow$"))
    for path in ("/runs", "/flows"):
        page.goto(ui.url + path)
        page.wait_for_url(ui.url + "/")


def test_a_resumed_run_names_its_origin_and_its_cloned_tasks_link_theirs(ui, page):
    page.goto(ui.url + "/flows/FailForeachFlow")  # the runs list says which run is a resume
    expect(page.locator('#runs-table tr[data-pathspec="FailForeachFlow/2"] .resumed')).to_have_text(
        " resumed from 1")
    expect(page.locator('#runs-table tr[data-pathspec="FailForeachFlow/1"] .resumed')).to_have_count(0)
    page.goto(ui.url + "/runs/FailForeachFlow/2")
    _loaded(page)
    origin = page.locator("#origin")
    expect(origin).to_have_text("FailForeachFlow/1")
    # nothing but the page's parts (a run without failures once showed a stray "null")
    assert page.evaluate("() => [...document.getElementById('app').childNodes]"
                         ".every((n) => n.nodeType === 1)")
    # the tasks that did not run again are marked, each linking to its origin
    listed = ui.json("/api/runs/FailForeachFlow/2/tasks")["tasks"]
    clones = [t for t in listed if t["origin_pathspec"]]
    assert clones, listed
    expect(page.locator("#tasks-table a.cloned")).to_have_count(len(clones))
    first = clones[0]
    row = page.locator(f'#tasks-table tr[data-task="{first["step"]}/{first["task_id"]}"]')
    expect(row.locator("a.cloned")).to_have_attribute(
        "href", "/runs/" + first["origin_pathspec"])
    start = _task_id(ui, "FailForeachFlow", "2", "start")
    page.goto(f"{ui.url}/runs/FailForeachFlow/2/start/{start}")
    _loaded(page)
    page.click("#cloned-from")
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/1/start/\d+$"))
    _loaded(page)
    page.go_back()
    page.wait_for_url(re.compile(r"/runs/FailForeachFlow/2/start/\d+$"))


def test_pages_left_open_follow_a_run_to_its_failure(ui, home, context):
    with gated_run(flow_file("ui/gated_fail_flow.py"), home, "gated-fail", ("one", "two"),
                   "--max-workers", "3") as (run, gates):
        run_id, _ = wait_until(lambda: running_task(ui, "GatedFailFlow", "start"),
                               "the start step to run")
        runs = watched_page(context)
        runs.goto(ui.url + "/")
        row = runs.locator(f'#runs-table tr[data-pathspec="GatedFailFlow/{run_id}"]')
        expect(row.locator(".status")).to_have_text("running")
        page = watched_page(context)
        page.goto(f"{ui.url}/runs/GatedFailFlow/{run_id}")
        expect(page.locator("#tasks-range")).to_have_text("tasks 1\u20131 of 1")
        (gates / "one").touch()
        # the three work tasks wait for the second gate: the run is still running
        expect(page.locator("#tasks-range")).to_have_text("tasks 1\u20134 of 4")
        assert run.poll() is None
        expect(page.locator("#run-status")).to_have_text("running")
        (gates / "two").touch()
        expect(page.locator("#run-status")).to_have_text("failed")
        expect(page.locator("#failures")).to_contain_text("RuntimeError: item 1 gave up")
        expect(row.locator(".status")).to_have_text("failed")  # the list, never reloaded
        assert run.wait(timeout=120) == 1
        assert runs.problems == [] and page.problems == []  # type: ignore[attr-defined]


# -- markup never runs -------------------------------------------------------------------------

def test_markup_in_tags_parameters_artifacts_logs_errors_and_cards_never_runs(ui, page):
    page.goto(ui.url + "/")
    _loaded(page)
    expect(page.locator('#runs-table tr[data-pathspec="XssFlow/1"]')).to_contain_text(PAYLOAD)
    page.click('#runs-table tr[data-pathspec="XssFlow/1"] a.tag')  # a tag lists its runs
    page.wait_for_url(re.compile(r"/\?tag=%3Cimg"))
    _loaded(page)
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#filters input[name=tag]")).to_have_value(PAYLOAD)
    page.goto(ui.url + "/runs/XssFlow/1")
    _loaded(page)
    expect(page.locator("#parameters")).to_contain_text(PAYLOAD)
    expect(page.locator("#failures")).to_contain_text(PAYLOAD)
    start = _task_id(ui, "XssFlow", "1", "start")
    page.goto(f"{ui.url}/runs/XssFlow/1/start/{start}")
    _loaded(page)
    expect(page.locator("#stdout")).to_contain_text(PAYLOAD)
    expect(page.locator("#stderr")).to_contain_text(PAYLOAD)
    expect(page.locator('#artifacts tr[data-artifact="evil"]')).to_contain_text(PAYLOAD)
    for index in (0, 1):
        card = page.frame_locator(f'iframe.card[title^="card {index}"]')
        expect(card.locator("body")).to_contain_text("onerror")
    _no_script_ran(page)
    end = _task_id(ui, "XssFlow", "1", "end")
    page.goto(f"{ui.url}/runs/XssFlow/1/end/{end}")
    _loaded(page)
    expect(page.locator(".failure")).to_contain_text(PAYLOAD)
    expect(page.locator("pre.traceback")).to_contain_text(PAYLOAD)
    expect(page.frame_locator("iframe.card").locator("body")).to_contain_text("ValueError")
    _no_script_ran(page)
    assert page.locator("img").count() == 0


# -- empty ---------------------------------------------------------------------------------------

def test_an_empty_datastore_says_there_are_no_runs_yet(tmp_path, context):
    with ui_server(tmp_path) as server:
        page = watched_page(context)
        page.goto(server.url + "/")
        _loaded(page)
        expect(page.locator("#app")).to_contain_text("No runs yet")
        expect(page.locator("#app")).to_contain_text("python flow.py run")
        expect(page.locator("#flows")).to_have_count(0)
        assert page.problems == []  # type: ignore[attr-defined]


def test_a_card_cannot_size_its_frame_beyond_the_limit_nor_with_anything_but_a_number(
        tmp_path, context):
    proc = hw(flow_file("ui/card_size_flow.py"), "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as server:
        page = watched_page(context)
        task_id = _task_id(server, "CardSizeFlow", "1", "start")
        page.goto(f"{server.url}/runs/CardSizeFlow/1/start/{task_id}")
        frames = page.locator("iframe.card")
        expect(frames).to_have_count(3)
        kinds = [page.locator("#cards h3").nth(i).inner_text() for i in range(3)]
        tall = frames.nth(next(i for i, k in enumerate(kinds) if "tall_claim" in k))
        garbage_index = next(i for i, k in enumerate(kinds) if "garbage_size" in k)
        garbage = frames.nth(garbage_index)
        expect(tall).to_have_attribute("style", "height: 16000px;")  # the page's limit
        # the other frame took only its real height; strings and NaN changed nothing
        expect(garbage).to_have_attribute("data-fitted", "true")
        inside = page.frame_locator("iframe.card").nth(garbage_index)
        expect(inside.locator("#garbage")).to_be_visible()

        # Its content's height, measured over the body's contents: the card has no doctype
        # (quirks mode), where the root stretches to the frame, and a frame far down the page
        # (below the 16,000 px one) may not see its new height at once (Chromium throttles an
        # offscreen frame's rendering), while its content's height does not depend on it.
        garbage.scroll_into_view_if_needed()
        content = inside.locator("body").evaluate(
            "b => { const r = document.createRange(); r.selectNodeContents(b); return Math.ceil("
            "r.getBoundingClientRect().bottom + (parseFloat(getComputedStyle(b).marginBottom) "
            "|| 0)); }")
        wanted = min(16000, max(60, content + 2))  # the page's clamp (ui.js CARD_MIN/MAX_PX)
        wait_until(lambda: abs(garbage.bounding_box()["height"] - wanted) <= 1,
                   f"the garbage_size card's frame fitted to its content ({wanted} px)")
        assert garbage.bounding_box()["height"] < 640  # shrunk from the stylesheet's height
        # a card whose own CSP forbids inline scripts is fitted all the same (not left at the
        # stylesheet's 640 px), and its own inline script still never ran
        strict_index = next(i for i, k in enumerate(kinds) if "strict_csp" in k)
        strict = frames.nth(strict_index)
        expect(strict).to_have_attribute("data-fitted", "true")
        inside = page.frame_locator("iframe.card").nth(strict_index)
        expect(inside.locator("#strict")).to_be_visible()
        height = inside.locator("html").evaluate("e => Math.ceil(e.getBoundingClientRect().height)")
        assert height >= 1500, height
        page.wait_for_function("([i, h]) => Math.abs(document.querySelectorAll('iframe.card')[i]"
                               ".getBoundingClientRect().height - (h + 2)) <= 1",
                               arg=[strict_index, height])
        assert inside.locator("#strict").get_attribute("data-ran") is None
        # the only complaint allowed: the browser refusing the card's own inline script
        assert all("Content Security Policy" in p for p in page.problems), \
            page.problems  # type: ignore[attr-defined]


def test_a_retried_tasks_earlier_attempts_keep_their_output_a_click_away(tmp_path, context):
    proc = hw(flow_file("faults/retry_flow.py"), "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as server:
        page = watched_page(context)
        task_id = _task_id(server, "RetryFlow", "1", "flaky")
        page.goto(f"{server.url}/runs/RetryFlow/1/flaky/{task_id}")
        expect(page.locator("#attempts section.attempt")).to_have_count(3)
        # the Logs section says whose output it shows
        expect(page.locator("#stdout")).to_contain_text("attempt 2 says hello")
        expect(page.locator(".logs h3").first).to_contain_text("of attempt 2")
        # the latest attempt's output is below; each earlier one links to its own
        expect(page.locator('section[data-attempt="2"] .attempt-logs')).to_have_count(0)
        page.locator('section[data-attempt="0"] .attempt-logs a', has_text="stdout").click()
        page.wait_for_url(re.compile(r"/logs/stdout\?attempt=0$"))
        expect(page.locator("body")).to_have_text("attempt 0 says hello")
        assert page.problems == []  # type: ignore[attr-defined]
