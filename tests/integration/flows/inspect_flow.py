"""Steps that write to stdout and stderr and store small and large artifacts: for logs and dump."""

import sys

from headwater import FlowSpec, Parameter, step


class InspectFlow(FlowSpec):
    """Print, warn and store a few artifacts."""

    greeting = Parameter("greeting", help="Said by start", default="hi")

    @step
    def start(self):
        print("hello from start:", self.greeting)
        print("a warning from start", file=sys.stderr)
        self.small = {"a": 1}
        self.number = 42
        self.big = "x" * 5000
        self.letters = ["p", "q", "r"]
        self.next(self.each, foreach="letters")

    @step
    def each(self):
        print("letter", self.input)
        self.upper = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.uppers = [inp.upper for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InspectFlow()
