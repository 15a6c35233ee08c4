"""``start`` assigns a framework attribute; ``WHAT`` (environment) says which."""

import os

from headwater import FlowSpec, step


class ReservedAssignFlow(FlowSpec):
    @step
    def start(self):
        what = os.environ.get("WHAT", "")
        if what == "next":
            self.next = 1
        elif what == "input":
            self.input = 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedAssignFlow()
