"""A foreach whose items wait for a gate file, so a test can watch the run's progress mid-way.

``GATE``: the file every item waits for. ``FAIL_ITEM``: an item index that raises once the gate
opens. ``ITEMS``: how many items (default 12).
"""

import os
import time

from headwater import FlowSpec, step


class GatedFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("ITEMS", "12"))))
        self.next(self.each, foreach="items")

    @step
    def each(self):
        deadline = time.monotonic() + 120
        while not os.path.exists(os.environ["GATE"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("item", self.input, "ran")
        if str(self.input) == os.environ.get("FAIL_ITEM"):
            raise ValueError(f"item {self.input} refused to work")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.count = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GatedFlow()
