"""A foreach inside a foreach, 10 x 10 trivial items."""

from headwater import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """start -> outer (10) -> inner (10 each) -> inner_join -> outer_join -> end."""

    @step
    def start(self):
        self.rows = list(range(10))
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.row = self.input
        self.cols = list(range(10))
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.cell = self.row * 10 + self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.row_total = sum(inp.cell for inp in inputs)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.total = sum(inp.row_total for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == sum(range(100))


if __name__ == "__main__":
    NestedForeachFlow()
