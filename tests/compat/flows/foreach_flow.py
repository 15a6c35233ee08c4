"""Metaflow style: a foreach nested in a foreach."""

from metaflow import FlowSpec, step


class CompatForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = [1, 2, 3]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.pair = f"{self.letter}{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.merge_artifacts(inputs, include=["letter"])
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.pairs = sorted(p for i in inputs for p in i.pairs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatForeachFlow()
