from headwater import FlowSpec, catch, step, timeout


class DeployCatchFlow(FlowSpec):
    """@catch in a foreach (one item fails) and with @timeout (the step is stopped)."""

    @step
    def start(self):
        self.items = [1, 0, 2]
        self.next(self.divide, foreach="items")

    @catch(var="error")
    @step
    def divide(self):
        self.value = 10 // self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        # As in Metaflow, @catch sets its var to None in a task whose step did not fail.
        self.summary = [i.error.type if i.error is not None else i.value for i in inputs]
        self.next(self.slow)

    @catch(var="stopped")
    @timeout(seconds=3)
    @step
    def slow(self):
        import time

        time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        self.outcome = [self.summary, self.stopped.type]


if __name__ == "__main__":
    DeployCatchFlow()
