"""A typo in a step decorator's option: found when Python reads the class, before anything runs."""

from headwater import FlowSpec, retry, step


class BadOptionFlow(FlowSpec):
    @retry(tims=3)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadOptionFlow()
