"""The pieces of a deployment that are pure logic: task ids, scopes, schedules, triggers."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, step
from headwater.deployers.plan import (
    DeployError,
    foreach_scopes,
    public_metadata_url,
    schedule_of,
    triggers_of,
)
from headwater.graph import check_flow
from headwater.runtime.deployed import DeployedRunError, path_of, task_id_for


def test_task_ids_are_foreach_paths_and_back():
    assert task_id_for(()) == "1"
    assert task_id_for((3,)) == "1-3"
    assert task_id_for((3, 0)) == "1-3-0"
    assert path_of("1-3-0") == (3, 0)
    with pytest.raises(DeployedRunError):
        path_of("7")


class Nested(FlowSpec):
    @step
    def start(self):
        self.xs = [1]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [1]
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.ab)

    @step
    def b(self):
        self.next(self.ab)

    @step
    def ab(self, inputs):
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_foreach_scopes_follow_foreach_only():
    scopes = foreach_scopes(check_flow(Nested))
    assert scopes["start"] == ()
    assert scopes["outer"] == scopes["a"] == scopes["ab"] == ("start",)
    assert scopes["inner"] == ("start", "ab")
    assert scopes["inner_join"] == ("start",)
    assert scopes["outer_join"] == scopes["end"] == ()


def test_schedule_presets_and_cron_check():
    assert schedule_of("F", {})["cron"] == "0 0 * * *"
    assert schedule_of("F", {"hourly": True})["cron"] == "0 * * * *"
    assert schedule_of("F", {"weekly": True, "timezone": "UTC"}) == {"cron": "0 0 * * 0",
                                                                     "timezone": "UTC"}
    with pytest.raises(DeployError, match="cron"):
        schedule_of("F", {"cron": "every day"})


def test_triggers_of_events_and_finished_flows():
    found = triggers_of("F", {
        "trigger": {"options": {"events": ["a", {"name": "b", "parameters": ["alpha"]}]}},
        "trigger_on_finish": {"options": {"flow": "Up"}}})
    assert [t["event"] for t in found] == ["a", "b", "headwater.Up.end"]
    assert found[1]["parameters"] == {"alpha": "alpha"}
    with pytest.raises(DeployError, match="event"):
        triggers_of("F", {"trigger": {"options": {"event": "no spaces allowed"}}})


def test_the_password_never_leaves_the_metadata_url():
    assert public_metadata_url("postgresql://u:pw@h:5432/db") == "postgresql://u@h:5432/db"
    assert public_metadata_url("/x/meta.sqlite") == "/x/meta.sqlite"
    assert (public_metadata_url("postgresql://u@h/db?sslmode=require&password=pw&PassWord=x")
            == "postgresql://u@h/db?sslmode=require")
    assert public_metadata_url("postgresql://u@h/db") == "postgresql://u@h/db"
    # typed without percent-encoding, or with an encoded key: still removed whole
    assert public_metadata_url("postgresql://u:p/w@h/db") == "postgresql://u@h/db"
    assert public_metadata_url("postgresql://u:p@w@h/db") == "postgresql://u@h/db"
    assert (public_metadata_url("postgresql://u@h/db?pass%77ord=pw&application_name=a@b")
            == "postgresql://u@h/db?application_name=a@b")
