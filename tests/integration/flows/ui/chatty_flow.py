"""A step that prints 200 lines, then waits for the file ``--gate`` names, then prints one
more: a page can follow a log longer than its box while the task runs."""

import time
from pathlib import Path

from headwater import FlowSpec, Parameter, step


class ChattyFlow(FlowSpec):
    gate = Parameter("gate", help="A file the talk step waits for", default="")

    @step
    def start(self):
        self.next(self.talk)

    @step
    def talk(self):
        for i in range(200):
            print(f"line {i} of the chatter", flush=True)
        deadline = time.monotonic() + 180
        while self.gate and not Path(self.gate).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        print("the last line", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyFlow()
