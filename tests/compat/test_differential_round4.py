"""What the fourth differential round (tools/differential.py, seeds from 300: cards, tag
commands, a retried start) found comparing with a real Metaflow 2.19.38, pinned on headwater
(docs/decisions.md, "Differential testing, fourth round").
"""

from __future__ import annotations

import json
from pathlib import Path

from headwater import Flow

CARDS = '''
import os

from metaflow import FlowSpec, card, current, retry, step
from metaflow.cards import Markdown


class CardsFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @card(type="blank", id="notes")
    @card
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("flaky start")
        self.attempt_start = current.retry_count
        current.card["notes"].append(Markdown("# from start"))
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("FAIL_END"):
            raise RuntimeError("failing end on purpose")


if __name__ == "__main__":
    CardsFlow()
'''


def test_card_list_file_names_each_card_as_metaflow_does(tmp_path: Path, run_headwater, client):
    """Metaflow's ``card list --as-json --file`` document names a card's file
    ``TYPE[-ID]-HASH.html``; headwater wrote its blob's name (the hash alone), so a tool that
    tells a card's type or id from the name found neither."""
    (tmp_path / "cards.py").write_text(CARDS)
    done = run_headwater("run", "cards.py")
    assert done.returncode == 0, done.stderr
    listed = run_headwater("card", "cards.py", "list", "1/start/1", "--as-json", "--file",
                           "cards.json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads((tmp_path / "cards.json").read_text())
    by_type = {card["type"]: card for card in document["cards"]}
    assert set(by_type) == {"blank", "default"}
    blank, default = by_type["blank"], by_type["default"]
    assert blank["id"] == "notes" and default["id"] is None
    assert blank["filename"] == f"blank-notes-{blank['hash']}.html"
    assert default["filename"] == f"default-{default['hash']}.html"
    client()
    start = Flow("CardsFlow").latest_run["start"].task
    # the retried task's cards are its successful attempt's, as on Metaflow
    assert start.current_attempt == 1 and start.data.attempt_start == 1


def test_a_clone_of_a_retried_task_reports_the_attempt_metaflow_does(tmp_path: Path,
                                                                     run_headwater, client):
    """A task that failed once and then succeeded, cloned by ``resume``: on Metaflow 2.19.38
    the clone reads attempt 0 (``current_attempt`` and the ``attempt`` metadata) while its
    artifacts are the origin's successful attempt's (``current.retry_count`` stored as 1), and
    its cards are the origin's; the origin task keeps attempt 1."""
    (tmp_path / "cards.py").write_text(CARDS)
    failed = run_headwater("run", "cards.py", extra_env={"FAIL_END": "1"})
    assert failed.returncode == 1
    resumed = run_headwater("resume", "cards.py")
    assert resumed.returncode == 0, resumed.stderr
    client()
    from headwater.cards import get_cards

    runs = list(Flow("CardsFlow"))
    clone, origin = runs[0]["start"].task, runs[1]["start"].task
    assert clone.origin_pathspec == origin.pathspec
    assert (origin.current_attempt, origin.metadata_dict["attempt"]) == (1, "1")
    assert (clone.current_attempt, clone.metadata_dict["attempt"]) == (0, "0")
    assert clone.data.attempt_start == 1 and clone.successful and clone.finished
    assert sorted(((c.type, c.id) for c in get_cards(clone)), key=str) == [
        ("blank", "notes"), ("default", None)]
