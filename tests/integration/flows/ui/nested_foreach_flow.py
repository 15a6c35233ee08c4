"""A foreach inside a foreach over values in several scripts: its tasks' foreach-stack names them."""

from headwater import FlowSpec, step


class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["α", "β"]
        print("fanning out over", self.outer)
        self.next(self.middle, foreach="outer")

    @step
    def middle(self):
        self.inner = ["日本", "ü"]
        self.next(self.inner_step, foreach="inner")

    @step
    def inner_step(self):
        self.pair = f"{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all = [p for i in inputs for p in i.pairs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedFlow()
