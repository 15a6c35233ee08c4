"""User card types: one that works, one that raises, one that runs past its timeout."""

import os
import time

from headwater import FlowSpec, card, step
from headwater.cards import MetaflowCard


class WordCountCard(MetaflowCard):
    type = "word_count"

    def render(self, task):
        words = len(task.data.text.split())
        return f"<html><body><p id='count'>{task.pathspec} has {words} words</p></body></html>"


class BrokenCard(MetaflowCard):
    type = "broken_card"

    def render(self, task):
        raise ValueError("this card type is broken on purpose")


class SlowCard(MetaflowCard):
    type = "slow_card"

    def render(self, task):
        time.sleep(float(os.environ.get("SLOW_CARD_S", "120")))
        return "<p>too late</p>"


class CustomCardFlow(FlowSpec):
    @card(type="word_count")
    @card(type="broken_card", id="broken")
    @card(type="slow_card", id="slow", timeout=1)
    @step
    def start(self):
        self.text = "the quick brown fox"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CustomCardFlow()
