"""merge_artifacts in a static join and in a foreach join."""

from headwater import FlowSpec, step


class MergeArtifactsFlow(FlowSpec):
    """Branches agree on some artifacts and disagree on others; joins merge what they can."""

    @step
    def start(self):
        self.pass_down = "a"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.common = 5
        self.x = 1
        self.y = 3
        self.from_a = 6
        self.next(self.join)

    @step
    def b(self):
        self.common = 5
        self.x = 2
        self.y = 4
        self.next(self.join)

    @step
    def join(self, inputs):
        """x conflicts: set explicitly. y conflicts: excluded. The rest merges."""
        self.x = inputs.a.x
        self.merge_artifacts(inputs, exclude=["y"])
        print(f"x is {self.x}")
        print(f"pass_down is {self.pass_down}")
        print(f"common is {self.common}")
        print(f"from_a is {self.from_a}")
        self.next(self.c)

    @step
    def c(self):
        self.numbers = [1, 2, 3]
        self.next(self.d, foreach="numbers")

    @step
    def d(self):
        self.conflicting = self.input
        self.sure = "same in every item"
        self.next(self.foreach_join)

    @step
    def foreach_join(self, inputs):
        self.merge_artifacts(inputs, include=["sure", "pass_down"])
        self.conflicting = [inp.conflicting for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("sure is", self.sure, "and conflicting is", self.conflicting)
        print("pass_down is still", self.pass_down)


if __name__ == "__main__":
    MergeArtifactsFlow()
