"""Cards opened in a real browser: Debian's Chromium, driven by Playwright.

The card file is opened from disk with the network cut off, so a chart that draws proves the
card is self-contained (no CDN). Chromium comes from ``apt-get install chromium`` (see .ci/run);
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import Flow
from headwater.cards import get_cards

from .faultkit import client, hw
from .flowrun import flow_file

DEADLINE_MS = 60_000


@pytest.fixture
def page(browser):
    context = browser.new_context(offline=True)  # anything fetched from the network fails
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.requests, page.errors = requests, errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(scope="module")
def report_cards(tmp_path_factory) -> dict[str, Path]:
    """The cards of one ReportFlow run, saved as files: step -> file."""
    folder = tmp_path_factory.mktemp("browser")
    proc = hw(flow_file("cards/report_flow.py"), "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(folder)
    run = Flow("ReportFlow").latest_run
    saved = {}
    for step, card_id in (("start", None), ("end", "summary")):
        found = get_cards(run[step].task, id=card_id)[0]
        saved[step] = Path(found.save(str(folder / f"{step}.html")))
    return saved


def test_the_default_card_draws_its_vega_chart_offline(page, report_cards):
    page.goto(report_cards["start"].as_uri())
    page.wait_for_selector(".hw-vega[data-drawn]", timeout=DEADLINE_MS)
    assert page.get_attribute(".hw-vega", "data-drawn") == "true"
    bars = page.locator(".hw-vega svg .mark-rect path")
    assert bars.count() == 3  # one bar per data row
    axis_labels = page.locator(".hw-vega svg .role-axis-label text").all_text_contents()
    assert {"a", "b", "c"} <= set(axis_labels)
    assert all(url.startswith(("file://", "data:")) for url in page.requests), page.requests
    assert page.errors == []


def test_the_default_card_shows_its_content_and_never_runs_artifact_text(page, report_cards):
    page.goto(report_cards["start"].as_uri())
    assert page.locator("h1", has_text="Training report").is_visible()
    assert page.locator("strong", has_text="down").count() == 1
    facts = page.locator(".hw-facts").inner_text()
    assert "ReportFlow/1/start/1" in facts and "succeeded" in facts
    assert page.locator(".hw-progress progress").get_attribute("value") == "3"
    assert page.locator(".hw-valuebox .hw-vb-value").inner_text() == "0.91"
    assert page.locator(".hw-dag .hw-dag-current").get_attribute("data-step") == "start"
    assert page.locator(".hw-dag .hw-dag-step").count() == 3
    # The artifact holding a script shows it as text; the page title is the card's own.
    page.locator(".hw-artifacts summary", has_text="note").click()
    assert "document.title='pwned'" in page.locator(".hw-artifacts").inner_text()
    assert page.title() == "ReportFlow/1/start/1 card"


def test_a_blank_card_without_charts_carries_no_script(page, report_cards):
    page.goto(report_cards["end"].as_uri())
    assert page.locator("h1").inner_text() == "Summary"
    assert "alpha was 0.25" in page.locator("main").inner_text()
    assert page.locator("script").count() == 0
    assert page.errors == []
