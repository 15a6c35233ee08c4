"""@catch inside a nested foreach: what it says names the task's indices and item."""

from headwater import FlowSpec, catch, step


class CatchForeachFlow(FlowSpec):
    @step
    def start(self):
        print(self)
        self.outer = ["a", "b"]
        self.next(self.middle, foreach="outer")

    @step
    def middle(self):
        self.inner = [7, "a rather long item that is cut short"]
        self.next(self.leaf, foreach="inner")

    @catch(var="error")
    @step
    def leaf(self):
        print(self)
        raise ValueError(f"no good: {self.input}")
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.errors = sorted(str(i.error) for i in inputs)
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchForeachFlow()
