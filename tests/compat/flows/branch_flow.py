"""Metaflow style: a static branch and a join that uses merge_artifacts."""

from metaflow import FlowSpec, step


class CompatBranchFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "from start"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.score = 1
        self.only_left = "L"
        self.next(self.join)

    @step
    def right(self):
        self.score = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.score = sum(branch.score for branch in inputs)
        self.merge_artifacts(inputs, exclude=["score"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatBranchFlow()
