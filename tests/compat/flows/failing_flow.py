"""Metaflow style: fails in `middle` unless COMPAT_FIXED is set; for resume."""

import os

from metaflow import FlowSpec, step


class CompatFailingFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.middle)

    @step
    def middle(self):
        if not os.environ.get("COMPAT_FIXED"):
            raise RuntimeError("not fixed yet")
        self.result = self.base + 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatFailingFlow()
