"""A foreach of 25 tasks and its join: a task with more inputs than its page lists one by one."""

from headwater import FlowSpec, step


class WideJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(25))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideJoinFlow()
