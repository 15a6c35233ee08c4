from headwater import FlowSpec, step


class DeployBranchFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.left, self.right)

    @step
    def left(self):
        self.v = self.x + 1
        self.next(self.join)

    @step
    def right(self):
        self.v = self.x + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployBranchFlow()
