"""Two branches run in parallel; a join step reads both through ``inputs``."""

from headwater import FlowSpec, step


class BranchFlow(FlowSpec):
    """Split into two branches that each compute a value, then join them."""

    @step
    def start(self):
        self.base = 10
        self.next(self.a, self.b)

    @step
    def a(self):
        """First branch."""
        self.x = self.base + 1
        self.next(self.join)

    @step
    def b(self):
        """Second branch."""
        self.x = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        """Read each branch's x by step name, and iterate over all inputs."""
        print("a is", inputs.a.x)
        print("b is", inputs.b.x)
        self.total = sum(inp.x for inp in inputs)
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        print("total is", self.total, "base is", self.base)


if __name__ == "__main__":
    BranchFlow()
