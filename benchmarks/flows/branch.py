"""A static split into eight branches and their join."""

from headwater import FlowSpec, step


class BranchFlow(FlowSpec):
    """start -> b0..b7 -> join -> end."""

    @step
    def start(self):
        self.next(self.b0, self.b1, self.b2, self.b3, self.b4, self.b5, self.b6, self.b7)

    @step
    def b0(self):
        self.v = 0
        self.next(self.join)

    @step
    def b1(self):
        self.v = 1
        self.next(self.join)

    @step
    def b2(self):
        self.v = 2
        self.next(self.join)

    @step
    def b3(self):
        self.v = 3
        self.next(self.join)

    @step
    def b4(self):
        self.v = 4
        self.next(self.join)

    @step
    def b5(self):
        self.v = 5
        self.next(self.join)

    @step
    def b6(self):
        self.v = 6
        self.next(self.join)

    @step
    def b7(self):
        self.v = 7
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.v for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == 28


if __name__ == "__main__":
    BranchFlow()
