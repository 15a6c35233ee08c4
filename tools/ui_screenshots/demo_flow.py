"""The flow whose runs the UI's pictures in docs/img show (tools/ui_screenshots/take.py runs it):
a parameter, a foreach whose tasks take different times and print as they go, a join, a report
step with a card (text, a table, a chart), and a fold that can be made to fail."""

import time

from headwater import FlowSpec, Parameter, card, current, step
from headwater.cards import Markdown, Table, VegaChart


class TrainFlow(FlowSpec):
    learning_rate = Parameter("learning_rate", default=0.05, help="the step size")
    fail_fold = Parameter("fail_fold", default=-1, help="a fold that raises (-1: none)")

    @step
    def start(self):
        self.folds = [0, 1, 2, 3]
        print(f"training on {len(self.folds)} folds, learning rate {self.learning_rate}")
        self.next(self.train, foreach="folds")

    @step
    def train(self):
        self.fold = self.input
        for epoch in range(1, 4):
            time.sleep(0.15 * (self.fold + 1))
            loss = round(1.0 / (epoch + self.fold * 0.5), 3)
            print(f"fold {self.fold} epoch {epoch}: loss {loss}")
            if self.fold == self.fail_fold and epoch == 2:
                raise ValueError(f"fold {self.fold} diverged at epoch {epoch}: loss is NaN")
        self.loss = loss
        self.next(self.join)

    @step
    def join(self, inputs):
        self.losses = {i.fold: i.loss for i in inputs}
        self.best = min(self.losses, key=self.losses.get)
        self.next(self.report)

    @card
    @step
    def report(self):
        print(f"best fold {self.best}, loss {self.losses[self.best]}")
        current.card.append(Markdown(f"# Training report\n\nbest fold: **{self.best}**"))
        current.card.append(Table([[f, loss] for f, loss in sorted(self.losses.items())],
                                  headers=["fold", "loss"]))
        current.card.append(VegaChart({
            "data": {"values": [{"fold": str(f), "loss": v} for f, v in self.losses.items()]},
            "mark": "bar",
            "encoding": {"x": {"field": "fold", "type": "nominal"},
                         "y": {"field": "loss", "type": "quantitative"}},
        }))
        self.next(self.end)

    @step
    def end(self):
        print("best fold", self.best)


if __name__ == "__main__":
    TrainFlow()
