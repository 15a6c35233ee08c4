"""Three trivial steps in a row: the fixed cost of a run and of a task."""

from headwater import FlowSpec, step


class LinearFlow(FlowSpec):
    """start -> middle -> end, each setting one small artifact."""

    @step
    def start(self):
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        assert self.x == 2


if __name__ == "__main__":
    LinearFlow()
