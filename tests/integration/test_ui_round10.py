"""The tenth browser round, in a real browser (Debian's Chromium driven by Playwright) against a
real ``headwater ui`` over runs real flows made, as a data scientist uses it after a run went
wrong or slow:

- Two runs compared side by side from the run page, with the keyboard only: which parameters
  and which artifacts differ, each step's duration in each run; the comparison's address
  survives a reload and back/forward; a phone's width; a run that does not exist is a 404.
- From an artifact to the task that set it ("set by"): inherited values link to the earlier
  task, the task's own values say so, names in any script and emoji included.
- A run with forty tags in the runs list (six shown, the rest a button away) beside its
  name, which stays on one line; a run's timelines drawn to a phone's width, legible.
- A finished run's errors @catch caught, listed and filtered; a log's find text kept in the
  address; the new views at AA contrast in both schemes and walked with the Tab key.
- A card's Vega-Lite chart written for v5 (Metaflow's examples' `$schema`) drawn without a
  warning in the console.

Waits are on what the page shows (Playwright's expect, with a generous deadline), never on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .faultkit import hw
from .flowrun import flow_file
from .uiserver import DEADLINE_MS, new_context, ui_server, watched_page

expect.set_options(timeout=DEADLINE_MS)
FLOW = flow_file("ui/compare_flow.py")
TAGS = [f"experiment-{i:02d}" for i in range(40)]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """CompareFlow/1 (alpha 0.5, label base), CompareFlow/2 (alpha 0.7, label other, 40
    tags) and CompareFlow/3 (alpha 0.9; its join failed)."""
    folder = tmp_path_factory.mktemp("ui-round10")
    for args in ((), ("--alpha", "0.7", "--label", "other")):
        done = hw(FLOW, "run", *args, cwd=folder)
        assert done.returncode == 0, done.stdout + done.stderr
    failed = hw(FLOW, "run", "--alpha", "0.9", cwd=folder, FAIL_JOIN="1")
    assert failed.returncode != 0 and "the join lost its inputs" in failed.stdout + failed.stderr
    tagged = hw(FLOW, "tag", "add", "--run-id", "2", *TAGS, cwd=folder)
    assert tagged.returncode == 0, tagged.stdout + tagged.stderr
    return folder


def _task(ui, run: str, step: str) -> str:  # type: ignore[no-untyped-def]
    return ui.json(f"/api/runs/CompareFlow/{run}/tasks?step={step}&limit=1")["tasks"][0]["task_id"]


def _row(page, table: str, key: str, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("table", name=table).locator(f'tr[data-{key}="{name}"]')


def test_two_runs_compared_with_the_keyboard(home, browser):
    """Before, the UI could not put two runs side by side: finding what changed meant two tabs
    and reading every parameter and artifact by eye. Now the run page offers the flow's other
    runs (the one before chosen), and the comparison names what differs."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        page.goto(f"{ui.url}/runs/CompareFlow/2")
        chooser = page.get_by_label("compare with run")
        expect(chooser).to_have_value("1")  # the run before this one
        chooser.focus()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="compare")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{ui.url}/compare/CompareFlow/2/1")
        expect(page).to_have_title("CompareFlow/2 and 1 compared · headwater")
        expect(page.locator("#compare-parameters-count")).to_have_text(
            "2 parameters of 3 differ.")
        for name, mark in (("alpha", "differs"), ("label", "differs"), ("conf", "same")):
            expect(_row(page, "parameters compared", "parameter", name).locator("td").last
                   ).to_have_text(mark)
        expect(_row(page, "parameters compared", "parameter", "alpha")).to_contain_text("0.7")
        # every step's duration in both runs
        for step in ("start", "work", "join", "end"):
            expect(_row(page, "step durations compared", "step", step).locator("td")
                   ).to_have_count(4)
        # the end step's artifacts by default: which differ, by content
        table = "artifacts compared"
        for name, mark in (("final", "differs"), ("total", "differs"), ("data", "same"),
                           ("שלום", "same"), ("rocket_🚀", "same")):
            expect(_row(page, table, "artifact", name).locator("td").last).to_have_text(mark)
        expect(page.locator("#compare-artifacts-count")).to_have_text("4 artifacts of 8 differ.")
        # from a compared artifact to the task that set it, and back
        _row(page, table, "artifact", "data").get_by_role("link").first.click()
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/2/start/{_task(ui, '2', 'start')}")
        page.go_back()
        expect(page.locator("#compare-artifacts-count")).to_have_text("4 artifacts of 8 differ.")
        # another step's first task, kept in the address across a reload and back/forward
        page.get_by_role("link", name="start", exact=True).last.click()
        expect(page).to_have_url(f"{ui.url}/compare/CompareFlow/2/1?step=start#artifacts")
        expect(_row(page, table, "artifact", "items").locator("td").last).to_have_text("same")
        expect(_row(page, table, "artifact", "final")).to_have_count(0)
        page.reload()
        expect(_row(page, table, "artifact", "items")).to_have_count(1)
        page.go_back()
        expect(_row(page, table, "artifact", "final")).to_have_count(1)
        page.go_forward()
        expect(_row(page, table, "artifact", "items")).to_have_count(1)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]

        # a phone: nothing on the comparison scrolls the page sideways
        phone = watched_page(new_context(browser, viewport={"width": 375, "height": 800},
                                         color_scheme="dark"))
        phone.goto(f"{ui.url}/compare/CompareFlow/1/2")
        expect(phone.locator("#compare-artifacts-count")).to_have_text("4 artifacts of 8 differ.")
        assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert phone.problems == [], phone.problems  # type: ignore[attr-defined]

        # a run that failed at its join against one that finished: the work step's first tasks,
        # the last step both ran to success, not an end step one of them never reached
        page.goto(f"{ui.url}/compare/CompareFlow/3/1")
        expect(page.locator(".step-picker a.current")).to_have_text("work")
        expect(_row(page, table, "artifact", "alpha").locator("td").last).to_have_text("differs")
        expect(_row(page, table, "artifact", "out").locator("td").last).to_have_text("same")  # 0 * alpha
        expect(_row(page, table, "artifact", "data").locator("td").last).to_have_text("same")
        expect(_row(page, "step durations compared", "step", "end")).to_contain_text("not run")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]

        # a run that does not exist, and the form's address without the other run, are 404s
        status, _, body = ui.get("/compare/CompareFlow/1/9")
        assert status == 404 and b"no run CompareFlow/9" in body, (status, body)
        status, _, body = ui.get("/compare/CompareFlow/1")
        assert status == 404 and b"nothing to compare CompareFlow/1 with" in body
        status, headers, _ = ui.get("/compare/CompareFlow/1?b=2")
        assert status == 303 and headers["location"] == "/compare/CompareFlow/1/2"
    context.close()


def test_an_artifact_links_to_the_task_that_set_it(home, browser):
    """Before, the end task listed `data` like its own value, with nothing saying start set it;
    finding the code, logs and inputs behind a value meant walking the graph by hand."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        start, join, end = (_task(ui, "1", s) for s in ("start", "join", "end"))
        listed = ui.json(f"/api/tasks/CompareFlow/1/end/{end}/artifacts")["artifacts"]
        made = {a["name"]: a["made_by"] for a in listed}
        assert made == {"alpha": f"CompareFlow/1/start/{start}",
                        "conf": f"CompareFlow/1/start/{start}",
                        "data": f"CompareFlow/1/start/{start}",
                        "final": f"CompareFlow/1/end/{end}",
                        "label": f"CompareFlow/1/start/{start}",
                        "rocket_🚀": f"CompareFlow/1/start/{start}",
                        "total": f"CompareFlow/1/join/{join}",
                        "שלום": f"CompareFlow/1/start/{start}"}
        assert all(len(a["sha"]) == 32 for a in listed)

        page.goto(f"{ui.url}/runs/CompareFlow/1/end/{end}")
        rows = page.get_by_role("table", name="artifacts")
        expect(rows.locator('tr[data-artifact="final"]')).to_contain_text("this task")
        page.get_by_role("link", name=f"total set by join/{join}").click()
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/1/join/{join}")
        expect(rows.locator('tr[data-artifact="total"]')).to_contain_text("this task")
        page.get_by_role("link", name=f"שלום set by start/{start}").click()
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/1/start/{start}")
        expect(rows.locator('tr[data-artifact="rocket_🚀"]')).to_contain_text("this task")
        page.go_back()
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/1/join/{join}")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


def test_a_vega_lite_v5_chart_leaves_the_console_quiet(home, browser):
    """The bundled Vega-Lite is v6; a chart whose `$schema` says v5 (Metaflow's examples, most
    users' charts) is drawn unchanged, yet vega-embed printed a warning in the console for it on
    every task page with such a card."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        start = _task(ui, "1", "start")
        page.goto(f"{ui.url}/runs/CompareFlow/1/start/{start}")
        frame = page.frame_locator("iframe").first
        expect(frame.locator(".hw-vega[data-drawn=true]")).to_have_count(1)
        expect(frame.locator(".hw-vega svg")).to_have_count(1)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


def test_forty_tags_and_a_phone_timeline(home, browser):
    """Before, a run's forty tags made its row forty lines tall and squeezed its name into a
    column a few letters wide ("CompareF / low/2"); and a run's timelines, drawn 820 px wide,
    were scaled to a phone's width, their 12 px labels shrunk to specks."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        page.goto(f"{ui.url}/")
        row = page.locator('#runs-table tr[data-pathspec="CompareFlow/2"]')
        name = row.get_by_role("link", name="CompareFlow/2")
        expect(name).to_be_visible()
        assert name.evaluate("(a) => a.getClientRects().length") == 1  # one line
        expect(row.locator("a.tag")).to_have_count(40)  # every tag a link in the page
        expect(row.locator("a.tag:visible")).to_have_count(6)
        more = row.get_by_role("button", name="34 more tags")
        expect(more).to_have_attribute("aria-expanded", "false")
        more.focus()
        page.keyboard.press("Enter")
        expect(row.get_by_role("link", name="experiment-39")).to_be_visible()
        expect(row.get_by_role("button", name="fewer tags")).to_have_attribute(
            "aria-expanded", "true")
        page.get_by_role("link", name="experiment-39").click()
        expect(page).to_have_url(f"{ui.url}/?tag=experiment-39")
        expect(page.locator("#runs-table tbody tr")).to_have_count(1)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]

        phone = watched_page(new_context(browser, viewport={"width": 375, "height": 800}))
        phone.goto(f"{ui.url}/runs/CompareFlow/1")
        for box in ("#timeline", "#task-timeline"):
            picture = phone.locator(f"{box} svg")
            expect(picture).to_have_count(1)
            drawn, shown = picture.evaluate(
                "(s) => [s.viewBox.baseVal.width, s.getBoundingClientRect().width]")
            assert shown >= drawn * 0.99, (box, drawn, shown)  # not scaled down
            label = phone.locator(f"{box} text").first.evaluate(
                "(t) => t.getBoundingClientRect().height")
            assert label >= 10, (box, label)
        assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert phone.problems == [], phone.problems  # type: ignore[attr-defined]
    context.close()


def test_errors_catch_caught_are_found_from_the_run_page(home, browser):
    """Before, a run whose foreach had a task fail and `@catch` catch it read succeeded with no
    failure listed: the caught error could be found only by paging through every task for its
    mark. Now a finished run's page lists the tasks @catch caught, and `status=caught` lists
    them all (in the task list's filters and the API)."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        caught = ui.json("/api/runs/CompareFlow/1/tasks?status=caught")["tasks"]
        assert [(t["step"], t["foreach_index"], t["status"], t["caught"]) for t in caught] == [
            ("work", 4, "succeeded", True)]
        sorted_caught = ui.json("/api/runs/CompareFlow/1/tasks?status=caught&sort=attempts"
                                "&order=desc&step=work")["tasks"]
        assert [t["task_id"] for t in sorted_caught] == [caught[0]["task_id"]]
        assert ui.json("/api/runs/CompareFlow/1/tasks?status=caught&step=start")["tasks"] == []

        page.goto(f"{ui.url}/runs/CompareFlow/1")
        section = page.locator("#caught")
        expect(section).to_contain_text("Errors @catch caught")
        expect(section.get_by_role("link", name=f"work/{caught[0]['task_id']}")).to_be_visible()
        section.get_by_role("link", name="list them below").click()
        expect(page).to_have_url(f"{ui.url}/runs/CompareFlow/1?status=caught#tasks")
        rows = page.get_by_role("table", name="tasks").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("caught")
        expect(page.locator("#tasks-range")).to_have_text("tasks 1–1 of 1")
        page.get_by_role("link", name=f"work/{caught[0]['task_id']}").last.click()
        expect(page.locator("#attempts")).to_contain_text("four has no labels")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_new_views_read_at_aa_contrast_and_walk_with_the_tab_key(home, browser, scheme):
    """What this round added (the comparison, "set by", the caught list, the compare menu, the
    folded tags) measured as round 7 measures every page: each text colour at 4.5:1 on what it
    is drawn on in both schemes, and every control reached by the Tab key, named, its focus
    shown."""
    from .test_ui_round7 import LOW_CONTRAST, NAMED, REACHABLE, _tab_through

    context = new_context(browser, color_scheme=scheme)
    page = watched_page(context)
    with ui_server(home) as ui:
        end = _task(ui, "2", "end")
        for path, ready in [
                ("/", "button.more-tags"),
                ("/runs/CompareFlow/2", "#caught li"),
                ("/compare/CompareFlow/2/1", "#compare-artifacts tbody tr"),
                (f"/runs/CompareFlow/2/end/{end}", "a.made-by")]:
            page.goto(ui.url + path)
            page.locator(ready).first.wait_for()
            if path == "/":  # the folded tags shown too
                page.evaluate("document.querySelector('button.more-tags').click()")
            assert page.evaluate(LOW_CONTRAST) == [], (scheme, path)
            stops = _tab_through(page)
            reached = {s["key"] for s in stops}
            missed = [key for key in page.evaluate(REACHABLE) if key not in reached]
            assert missed == [], (path, missed)
            for stop in stops:
                assert NAMED.match(stop["aria"]), (path, stop)
                assert stop["visible"] and stop["outline"], (path, stop)
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()


def test_what_a_log_was_searched_for_is_kept_in_the_address(home, browser):
    """Before, a reload (or a link sent to a colleague) opened the log unsearched: the find
    box's text lived in the page only. Now it is in the address, `?find-stdout=TEXT`."""
    context = new_context(browser)
    page = watched_page(context)
    with ui_server(home) as ui:
        start = _task(ui, "1", "start")
        here = f"{ui.url}/runs/CompareFlow/1/start/{start}"
        page.goto(here)
        expect(page.locator("#stdout-state")).to_have_text("complete")
        page.get_by_role("searchbox", name="find in stdout").fill("CHECKSUM")
        expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
        expect(page).to_have_url(f"{here}?find-stdout=CHECKSUM")
        page.reload()
        expect(page.get_by_role("searchbox", name="find in stdout")).to_have_value("CHECKSUM")
        expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
        expect(page.locator("#stdout-hits")).to_contain_text("loading shard 3: bad checksum")
        # a link to another page and back: found again; Escape empties it and the address
        page.get_by_role("link", name="CompareFlow").first.click()
        page.go_back()
        expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
        page.get_by_role("searchbox", name="find in stdout").press("Escape")
        expect(page).to_have_url(here)
        # the attempt shown stays in the address beside it
        page.goto(f"{here}?attempt=0&find-stdout=shard#logs")
        expect(page.locator("#stdout-matches")).to_have_text("5 matching lines")
        assert page.problems == [], page.problems  # type: ignore[attr-defined]
    context.close()
