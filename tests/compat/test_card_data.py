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
