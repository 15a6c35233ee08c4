"""Two runs of this flow, with other parameters, for the UI's tenth round: comparing runs,
"set by" links from an artifact to the task that set it, a card's Vega-Lite v5 chart.

``start`` sets values that pass unchanged to the end (``data``, an artifact named in Hebrew and
one with an emoji), a foreach of ``WIDTH`` tasks (one retried, one caught by ``@catch``), a join
that sets ``total`` and merges ``data``, and ``end`` sets ``final``. With ``FAIL_JOIN`` set the join fails (the run fails)."""

import os

from headwater import Config, FlowSpec, Parameter, card, catch, current, retry, step
from headwater.cards import Markdown, VegaChart

V5_CHART = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}]},
    "mark": "line",
    "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                 "y": {"field": "loss", "type": "quantitative"}},
}


class CompareFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, type=float)
    label = Parameter("label", default="base")
    conf = Config("conf", default_value={"layers": 3})

    @card
    @step
    def start(self):
        self.data = bytes(range(64))
        self.שלום = "שלום עולם"
        setattr(self, "rocket_🚀", "🚀🚀")
        self.items = list(range(6))
        for shard in range(1, 6):
            print(f"loading shard {shard}" + (": bad checksum, read again" if shard == 3 else ""))
        current.card.append(Markdown("# Loss"))
        current.card.append(VegaChart(V5_CHART))
        self.next(self.work, foreach="items")

    @catch(var="failure")
    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        if self.input == 2 and current.retry_count == 0:
            raise RuntimeError("flaky once")
        if self.input == 4:
            raise ValueError("four has no labels")
        self.out = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        if os.environ.get("FAIL_JOIN"):
            raise KeyError("the join lost its inputs")
        self.total = sum(getattr(i, "out", None) or 0 for i in inputs)
        self.merge_artifacts(inputs, include=["data", "שלום", "rocket_🚀"])
        self.next(self.end)

    @step
    def end(self):
        self.final = f"{self.label}:{self.total}"


if __name__ == "__main__":
    CompareFlow()
