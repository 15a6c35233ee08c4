from headwater import FlowSpec, Parameter, step


class DeployCustomStepsFlow(FlowSpec):
    """begin -> (left, right) -> merge -> finish: first and last steps named otherwise."""

    alpha = Parameter("alpha", default=2, help="A number")

    @step(start=True)
    def begin(self):
        self.x = self.alpha * 10
        self.next(self.left, self.right)

    @step
    def left(self):
        self.y = self.x + 1
        self.next(self.merge)

    @step
    def right(self):
        self.y = self.x + 2
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.result = self.total


if __name__ == "__main__":
    DeployCustomStepsFlow()
