"""Metaflow style: sleeps in `start`, to be stopped while it runs."""

import time

from metaflow import FlowSpec, Parameter, step


class CompatSlowFlow(FlowSpec):
    seconds = Parameter("seconds", default=60)

    @step
    def start(self):
        print("sleeping", flush=True)
        time.sleep(self.seconds)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatSlowFlow()
