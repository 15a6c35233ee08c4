from headwater import FlowSpec, step


class DeployNestedFlow(FlowSpec):
    @step
    def start(self):
        self.outer = [1, 2]
        self.next(self.fan, foreach="outer")

    @step
    def fan(self):
        self.base = self.input
        self.inner = [10, 20, 30]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.value = self.base * self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.subtotal = sum(i.value for i in inputs)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.totals = [i.subtotal for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployNestedFlow()
