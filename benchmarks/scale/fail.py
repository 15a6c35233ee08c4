from headwater import FlowSpec, Parameter, step


class FailFlow(FlowSpec):
    n = Parameter("n", default=10, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        import os
        if os.environ.get('FAIL') == str(self.input):
            raise RuntimeError('boom')
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.out for inp in inputs)
        self.first = inputs[0].out + inputs[len(inputs) - 1].out
        self.merge_artifacts(inputs, exclude=["out"])
        self.next(self.end)

    @step
    def end(self):
        assert self.total == self.n * (self.n - 1)

if __name__ == "__main__":
    FailFlow()
