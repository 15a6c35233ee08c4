"""What a data scientist's run looks like, for the UI's ninth round: a foreach of 1,000 items
(``WIDTH``) in which a few tasks fail once and are retried, one fails every time and ``@catch``
catches it, a card, logs in colour with a very long line; with ``HARD_FAIL`` set the join
fails for good (the run fails)."""

import os

from headwater import FlowSpec, card, catch, current, retry, step
from headwater.cards import Markdown

GREEN, RED, RESET = "\x1b[32m", "\x1b[1;31m", "\x1b[0m"


class ScienceFlow(FlowSpec):
    @step
    def start(self):
        print(f"{GREEN}loading{RESET} the data set")
        print("features: " + ",".join(f"feature_{i}" for i in range(2000)))  # one long line
        self.items = list(range(int(os.environ.get("WIDTH", "1000"))))
        self.next(self.train, foreach="items")

    @catch(var="train_error")
    @retry(times=1, minutes_between_retries=0)
    @step
    def train(self):
        if self.input % 250 == 3 and current.retry_count == 0:
            raise RuntimeError(f"flaky storage while training item {self.input}")
        if self.input == 7:
            print(f"{RED}item 7 is broken{RESET}")
            raise ValueError("item 7 has no labels")
        self.score = self.input / 10
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        if os.environ.get("HARD_FAIL"):
            raise KeyError("the join lost its inputs")
        scores = [i.score for i in inputs if getattr(i, "score", None) is not None]
        self.best = max(scores)
        current.card.append(Markdown(f"# Training\n\nbest score **{self.best}** of {len(scores)}"))
        self.next(self.end)

    @step
    def end(self):
        print(f"{GREEN}done{RESET}: best {self.best}")


if __name__ == "__main__":
    ScienceFlow()
