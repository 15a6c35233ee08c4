"""Metaflow style: a conditional transition, then a loop."""

from metaflow import FlowSpec, Parameter, step


class CompatSwitchFlow(FlowSpec):
    score = Parameter("score", default=0.8)
    limit = Parameter("limit", default=20)

    @step
    def start(self):
        self.decision = "high" if self.score >= 0.5 else "low"
        self.next({"high": self.high, "low": self.low}, condition="decision")

    @step
    def high(self):
        self.label = "high"
        self.next(self.grow)

    @step
    def low(self):
        self.label = "low"
        self.next(self.grow)

    @step
    def grow(self):
        self.value = getattr(self, "value", 1) * 3
        self.state = "done" if self.value >= self.limit else "again"
        self.next({"again": self.grow, "done": self.end}, condition="state")

    @step
    def end(self):
        print(self.label, self.value)


if __name__ == "__main__":
    CompatSwitchFlow()
