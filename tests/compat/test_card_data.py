"""``Card.get_data()``: the data a live-updatable card was last rendered with, while its task
runs and after it ends, as Metaflow's card client returns it; and ``Card`` imported from
``metaflow.plugins.cards.card_client``, where code written for Metaflow finds it.
"""

from __future__ import annotations

import textwrap

FLOW = textwrap.dedent("""
    import json

    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import MetaflowCard, get_cards
    from metaflow.plugins.cards.card_client import Card


    class LiveData(MetaflowCard):
        type = "live_data_card"
        RUNTIME_UPDATABLE = True
        ALLOW_USER_COMPONENTS = True

        def render(self, task):
            return "<p>" + json.dumps(self.runtime_data["user"]) + "</p>"

        def render_runtime(self, task, data):
            return "<p>" + json.dumps(data["user"]) + "</p>"


    class CardDataFlow(FlowSpec):
        @card(type="live_data_card", id="live")
        @step
        def start(self):
            current.card.refresh({"seen": ["a"]})
            [live] = get_cards(current.pathspec, id="live")
            assert isinstance(live, Card), type(live)
            got = live.get_data()
            assert got["data"]["user"] == {"seen": ["a"]}, got
            assert got["data"]["mode"] == "render_runtime", got
            assert {"data", "reload_token"} <= set(got), got
            assert {"mode", "component_update_ts", "components", "render_seq", "user"} <= set(
                got["data"]), got
            self.last = ["a", "b"]
            current.card.refresh({"seen": self.last}, force=True)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CardDataFlow()
""")


def test_a_live_cards_data_is_read_back_while_running_and_after(tmp_path, run_headwater,
                                                                client):
    (tmp_path / "card_data_flow.py").write_text(FLOW)
    done = run_headwater("run", "card_data_flow.py", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr

    client()
    from headwater import Flow
    from headwater.cards import get_cards

    [live] = get_cards(Flow("CardDataFlow")["1"]["start"].task, id="live")
    data = live.get_data()
    assert data is not None
    assert data["data"]["user"] == {"seen": ["a", "b"]}  # the last refresh's data
    assert data["data"]["mode"] == "render"  # the final render's
    assert '{"seen": ["a", "b"]}' in live.get()


COMPONENT_FLOW = textwrap.dedent("""
    import json

    from metaflow import FlowSpec, card, current, step
    from metaflow.cards import MetaflowCard, MetaflowCardComponent, get_cards


    class Counter(MetaflowCardComponent):
        REALTIME_UPDATABLE = True

        def __init__(self, n):
            self.n = n

        def render(self):
            return {"n": self.n}

        def update(self, n):
            self.n = n


    class Tokened(MetaflowCard):
        type = "tokened_card"
        RUNTIME_UPDATABLE = True
        ALLOW_USER_COMPONENTS = True
        RELOAD_POLICY = MetaflowCard.RELOAD_POLICY_ONCHANGE

        def render(self, task):
            return "<p>token=" + self.RELOAD_POLICY_TOKEN + "</p>"

        def refresh(self, task, data):
            return data["components"]

        def reload_content_token(self, task, data):
            return "n-%s" % data["components"]["counter"]["n"]


    class ComponentDataFlow(FlowSpec):
        @card(type="tokened_card", id="tok")
        @step
        def start(self):
            current.card.append(Counter(1), id="counter")
            current.card.refresh()
            [live] = get_cards(current.pathspec, id="tok")
            assert live.get_data() == {"data": {"counter": {"n": 1}}, "reload_token": "n-1",
                                       "created_on": live.get_data()["created_on"]}, live.get_data()
            assert "token=n-1" in live.get(), live.get()
            current.card.components["counter"].update(2)
            current.card.refresh(force=True)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ComponentDataFlow()
""")


def test_live_components_reach_the_cards_data_and_its_reload_token(tmp_path, run_headwater,
                                                                    client):
    (tmp_path / "component_data_flow.py").write_text(COMPONENT_FLOW)
    done = run_headwater("run", "component_data_flow.py", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr

    client()
    from headwater import Flow
    from headwater.cards import get_cards

    [card] = get_cards(Flow("ComponentDataFlow")["1"]["start"].task, id="tok")
    data = card.get_data()
    assert data["data"] == {"counter": {"n": 2}}
    assert data["reload_token"] == "final"  # the render at the task's end
    assert card.get() == "<p>token=final</p>"
