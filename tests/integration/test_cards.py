"""@card through real runs: cards rendered by the task, recorded by the scheduler, read back by
``get_cards`` and the ``card`` commands; user card types, failures, live cards and resume."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from headwater import Flow
from headwater.cards import CardNotPresentException, get_cards

from .faultkit import client, env_for, hw
from .flowrun import background, example, flow_file, wait_for_file

REPORT = flow_file("cards/report_flow.py")
CUSTOM = flow_file("cards/custom_card_flow.py")
FAILING = flow_file("cards/failing_card_flow.py")
LIVE = flow_file("cards/live_card_flow.py")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory) -> Path:
    """One run of ReportFlow, shared by the read-only tests below; its folder."""
    folder = tmp_path_factory.mktemp("report")
    proc = hw(REPORT, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_a_default_card_shows_the_task_its_data_the_graph_and_the_components(report_run):
    client(report_run)
    task = Flow("ReportFlow").latest_run["start"].task
    cards = get_cards(task)
    assert len(cards) == 1
    found = cards[0]
    assert (found.type, found.id) == ("default", None)
    html = found.html
    assert html.startswith("<!DOCTYPE html>")
    assert task.pathspec in html and "succeeded" in html
    assert "<h1>Training report</h1>" in html and "<strong>down</strong>" in html
    assert "0.91" in html and "epochs" in html
    assert "alpha" in html and "0.25" in html  # the parameter
    assert "weights" in html and "shape=(3, 4)" in html  # an artifact, previewed
    # The artifact's text is shown, never run.
    assert "&lt;script&gt;document.title" in html and "<script>document.title" not in html
    assert 'data-step="start"' in html and 'class="hw-dag-step hw-dag-current" data-step="start"' in html
    assert "vegaEmbed" in html  # the chart's scripts ride inline
    assert found.path.endswith(f"/blobs/{found.hash[:2]}/{found.hash}")
    assert Path(found.path).read_text() == html


def test_a_step_may_have_several_cards_each_with_its_components(report_run):
    client(report_run)
    task = Flow("ReportFlow").latest_run["end"].task
    cards = get_cards(task)
    assert [(c.type, c.id) for c in cards] == [("blank", "summary"), ("default", "details")]
    summary = get_cards(task, id="summary")[0].html
    assert "<h1>Summary</h1>" in summary and "alpha was 0.25" in summary
    assert "Parameters" not in summary and "vegaEmbed" not in summary
    assert "the details card" in get_cards(task.pathspec, id="details")[0].html
    assert [c.id for c in get_cards(task, type="blank")] == ["summary"]


def test_a_step_without_card_has_none(report_run):
    # As with Metaflow: a task without any card raises (code written for it catches this to
    # skip such tasks); a filter that matches none of a task's cards gives an empty container.
    client(report_run)
    run = Flow("ReportFlow").latest_run
    with pytest.raises(CardNotPresentException, match="ReportFlow/.*/middle/"):
        get_cards(run["middle"].task)
    assert len(get_cards(run["end"].task, id="no-such-card")) == 0


def test_card_list_get_and_view_on_the_command_line(report_run, tmp_path):
    listed = hw(REPORT, "card", "list", "end", "--as-json", cwd=report_run)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["type"], r["id"]) for r in rows] == [("blank", "summary"), ("default", "details")]
    assert all(Path(r["path"]).is_file() for r in rows)

    out = tmp_path / "card.html"
    got = hw(REPORT, "card", "get", "1/end/3", str(out), "--id", "summary", cwd=report_run)
    assert got.returncode == 0, got.stderr
    assert "alpha was 0.25" in out.read_text()
    printed = hw(REPORT, "card", "get", "start", cwd=report_run)
    assert printed.stdout.startswith("<!DOCTYPE html>") and "Training report" in printed.stdout

    # A "browser" that records what it was asked to open.
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(seen)!r}, 'w').write(sys.argv[1])\n")
    viewed = hw(REPORT, "card", "view", "ReportFlow/1/start/1", cwd=report_run,
                BROWSER=f"{sys.executable} {browser} %s")
    assert viewed.returncode == 0, viewed.stderr
    deadline = time.monotonic() + 60
    while not (seen.exists() and seen.read_text()):
        assert time.monotonic() < deadline, "the browser was never started"
        time.sleep(0.05)
    url = seen.read_text()
    assert url.startswith("file://") and url.removeprefix("file://") in viewed.stdout
    opened = Path(url.removeprefix("file://"))
    assert "Training report" in opened.read_text()
    assert stat.S_IMODE(opened.parent.stat().st_mode) == 0o700  # a private temporary folder


def test_card_get_of_a_step_without_cards_says_how_to_add_one(report_run):
    proc = hw(REPORT, "card", "get", "middle", cwd=report_run)
    assert proc.returncode == 1
    assert "task ReportFlow/1/middle/2 has no card" in proc.stderr
    assert "--with card" in proc.stderr and "Traceback" not in proc.stderr
    bad = hw(REPORT, "card", "view", "a/b/c/d/e", cwd=report_run)
    assert bad.returncode == 1 and "expected STEP | RUN_ID/STEP" in bad.stderr


def test_with_card_gives_every_step_a_default_card(tmp_path):
    proc = hw(example("branch_flow.py"), "--with", "card", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    run = Flow("BranchFlow").latest_run
    for step in run:
        cards = get_cards(step.task)
        assert [c.type for c in cards] == ["default"], step.id
        assert step.task.pathspec in cards[0].html


def test_user_card_types_and_cards_that_fail_or_time_out(tmp_path):
    proc = hw(CUSTOM, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a card never fails its task
    assert "this card type is broken on purpose" in proc.stdout + proc.stderr
    client(tmp_path)
    task = Flow("CustomCardFlow").latest_run["start"].task
    by_type = {c.type: c for c in get_cards(task)}
    assert set(by_type) == {"word_count", "broken_card", "slow_card"}
    assert f"{task.pathspec} has 4 words" in by_type["word_count"].html
    broken = by_type["broken_card"].html
    assert "could not be rendered" in broken and "ValueError: this card type is broken" in broken
    assert "longer than its timeout of 1 s" in by_type["slow_card"].html


def test_a_failed_task_keeps_a_card_saying_why(tmp_path):
    proc = hw(FAILING, "run", cwd=tmp_path)
    assert proc.returncode == 1
    client(tmp_path)
    task = Flow("FailingCardFlow").latest_run["boom"].task
    html = get_cards(task)[0].html
    assert "failed" in html and "RuntimeError: the model diverged" in html
    assert "before the failure" in html
    assert "made" in html  # the inherited artifact is listed


def test_resume_copies_card_records_with_the_cloned_task(tmp_path):
    flow = tmp_path / "resumable_flow.py"
    flow.write_text(
        "import os\n"
        "from headwater import FlowSpec, card, current, step\n"
        "from headwater.cards import Markdown\n\n"
        "class ResumableFlow(FlowSpec):\n"
        "    @card\n    @step\n    def start(self):\n"
        "        current.card.append(Markdown('made in the first run'))\n"
        "        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n"
        "        if os.environ.get('FAIL_END'):\n            raise ValueError('end fails')\n\n"
        "if __name__ == '__main__':\n    ResumableFlow()\n"
    )
    assert hw(flow, "run", cwd=tmp_path, FAIL_END="1").returncode == 1
    assert hw(flow, "resume", cwd=tmp_path).returncode == 0
    client(tmp_path)
    cloned = Flow("ResumableFlow")["2"]["start"].task
    cards = get_cards(cloned)
    assert len(cards) == 1 and "made in the first run" in cards[0].html
    assert cards.from_resumed and cards.origin_pathspec == "ResumableFlow/1/start/1"


def test_a_live_card_is_readable_while_the_task_runs(tmp_path):
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = env_for(tmp_path, CARD_READY_FILE=str(ready), CARD_GO_FILE=str(go))
    with background([sys.executable, str(LIVE), "run"], cwd=tmp_path, env=env) as proc:
        wait_for_file(ready, proc)
        client(tmp_path)
        cards = get_cards("LiveCardFlow/1/start/1")
        assert len(cards) == 1 and cards[0].live and cards[0].hash is None
        html = cards[0].html
        assert "running" in html and 'value="4"' in html and "working" in html
        listed = hw(LIVE, "card", "list", "1/start/1", cwd=tmp_path)
        assert "(live)" in listed.stdout
        go.write_text("go")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    final = get_cards("LiveCardFlow/1/start/1")
    assert len(final) == 1 and not final[0].live
    assert 'value="10"' in final[0].html and "all done" in final[0].html


def test_cards_are_not_present_is_an_exception_named_as_in_metaflow(report_run):
    client(report_run)
    from headwater.client.cards import require_cards

    with pytest.raises(CardNotPresentException, match="has no card with id='nope'"):
        require_cards("ReportFlow/1/end/3", id="nope")


def test_the_metaflow_alias_serves_the_real_card_api(tmp_path):
    code = (
        "from headwater.compat import alias; alias.install()\n"
        "import headwater.cards, headwater.client.cards, headwater.exceptions\n"
        "from metaflow import card\n"
        "from metaflow.cards import get_cards, Markdown, VegaChart, MetaflowCard\n"
        "from metaflow.plugins.cards.exception import CardNotPresentException\n"
        "import headwater\n"
        "assert card is headwater.card\n"
        "assert get_cards is headwater.client.cards.get_cards\n"
        "assert Markdown is headwater.cards.Markdown and MetaflowCard is headwater.cards.MetaflowCard\n"
        "assert CardNotPresentException is headwater.exceptions.CardNotPresentException\n"
        "print('ok')\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ})
    assert done.stdout.strip() == "ok", done.stderr


def test_the_written_shim_package_serves_the_card_api_too(tmp_path):
    import subprocess

    from headwater.compat.shim import write_shim

    write_shim(tmp_path / "shim")
    code = (
        "from metaflow.cards import get_cards, Markdown\n"
        "import headwater.client.cards, headwater.cards\n"
        "assert get_cards is headwater.client.cards.get_cards\n"
        "assert Markdown is headwater.cards.Markdown\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "shim")})
    assert done.stdout.strip() == "ok", done.stderr
