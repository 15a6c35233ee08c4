"""A loop: a step runs again and again until its condition switches out."""

from headwater import FlowSpec, Parameter, step


class LoopFlow(FlowSpec):
    """Double a number until it passes a limit; every pass is its own task."""

    limit = Parameter("limit", help="Stop once the value reaches this", default=100)

    @step
    def start(self):
        self.value = 1
        self.history = []
        self.next(self.double)

    @step
    def double(self):
        self.value *= 2
        self.history = self.history + [self.value]
        print("value is now", self.value)
        self.state = "done" if self.value >= self.limit else "again"
        self.next({"again": self.double, "done": self.end}, condition="state")

    @step
    def end(self):
        print("reached", self.value, "after", len(self.history), "passes")


if __name__ == "__main__":
    LoopFlow()
