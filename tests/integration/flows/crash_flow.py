"""start's process dies without a Python exception (``os._exit``)."""

import os

from headwater import FlowSpec, step


class CrashFlow(FlowSpec):
    @step
    def start(self):
        print("about to vanish", flush=True)
        os._exit(3)
        self.next(self.end)  # never reached

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashFlow()
