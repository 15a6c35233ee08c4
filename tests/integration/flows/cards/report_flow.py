"""Cards of every kind: a default card with components, two cards on one step, a step without."""

import numpy as np

from headwater import FlowSpec, Parameter, card, current, step
from headwater.cards import Markdown, ProgressBar, Table, ValueBox, VegaChart

CHART = {
    "data": {"values": [{"k": "a", "v": 3}, {"k": "b", "v": 7}, {"k": "c", "v": 5}]},
    "mark": "bar",
    "encoding": {"x": {"field": "k", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}},
}


class ReportFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.25)

    @card
    @step
    def start(self):
        self.note = "<script>document.title='pwned'</script>"
        self.weights = np.arange(12).reshape(3, 4)
        current.card.append(Markdown("# Training report\n\nloss went **down**"))
        current.card.append(Table([["epochs", 3], ["best", ValueBox("acc", 0.91)]],
                                  headers=["what", "value"]))
        current.card.append(VegaChart(CHART))
        current.card.append(ProgressBar(max=3, value=3, label="epochs"))
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @card(type="blank", id="summary", options={"title": "Summary"})
    @card(id="details")
    @step
    def end(self):
        current.card["summary"].append(Markdown(f"alpha was {self.alpha}"))
        current.card["details"].append(Markdown("the details card"))


if __name__ == "__main__":
    ReportFlow()
