"""A step with @card that fails: its card says why."""

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown


class FailingCardFlow(FlowSpec):
    @step
    def start(self):
        self.made = 41
        self.next(self.boom)

    @card
    @step
    def boom(self):
        current.card.append(Markdown("before the failure"))
        raise RuntimeError("the model diverged")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingCardFlow()
