"""A step in a @conda environment whose package comes from a local channel (HW_TEST_CHANNEL)."""

import os
import sys

from headwater import FlowSpec, conda, step

CHANNEL = os.environ.get("HW_TEST_CHANNEL", "")
PACKAGE = os.environ.get("HW_TEST_PACKAGE", "hwgreet")


def has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class CondaStepFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has("hwgreet")
        self.next(self.greet)

    @conda(packages={PACKAGE: "1.2.0"}, channels=[CHANNEL])
    @step
    def greet(self):
        import hwgreet

        self.greeting = hwgreet.greet("conda")
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        self.end_has = has("hwgreet")


if __name__ == "__main__":
    CondaStepFlow()
