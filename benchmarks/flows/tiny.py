"""The smallest flow: used to fill a datastore with many runs to list."""

from headwater import FlowSpec, step


class TinyFlow(FlowSpec):
    """start -> end."""

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TinyFlow()
