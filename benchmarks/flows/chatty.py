"""A step that prints a 1 KB line every 10 ms for ``--seconds``: a training loop's log."""

import time

from headwater import FlowSpec, Parameter, step


class ChattyFlow(FlowSpec):
    seconds = Parameter("seconds", default=20.0, help="how long the step prints")

    @step
    def start(self):
        line = "x" * 1000
        end = time.monotonic() + self.seconds
        n = 0
        while time.monotonic() < end:
            print(n, line, flush=True)
            n += 1
            time.sleep(0.01)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyFlow()
