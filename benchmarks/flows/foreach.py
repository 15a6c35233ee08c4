"""A foreach over ``--n`` trivial items and its join: the cost of one more task."""

from headwater import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    """start -> work (one task per item) -> join -> end."""

    n = Parameter("n", default=10, type=int, help="Number of foreach items.")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.out for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == self.n * (self.n - 1)


if __name__ == "__main__":
    ForeachFlow()
