"""A foreach and a join that can fail or wait to be interrupted (see test_resources_closed.py)."""

import os
import time

from headwater import FlowSpec, Parameter, step


class ClosingFlow(FlowSpec):
    """Three items squared and summed; ``--fail`` makes the join raise, ``--gate FILE`` makes it
    write ``FILE`` and wait there until ``FILE.go`` exists (or the test's Ctrl-C stops it)."""

    fail = Parameter("fail", default=False, type=bool, help="Make the join raise.")
    gate = Parameter("gate", default="", help="Write this file, then wait for FILE.go.")

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        if self.gate:
            with open(self.gate, "w") as handle:
                handle.write(str(os.getpid()))
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not os.path.exists(self.gate + ".go"):
                time.sleep(0.05)
        if self.fail:
            raise ValueError("the join was asked to fail")
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    ClosingFlow()
