"""A wide foreach in which one task fails (with CURSE set): the run page must lead to it, and
the run resumed without CURSE must name the run it resumed."""

import os

from fan_in import FanInFlow

from headwater import step


class FailForeachFlow(FanInFlow):
    @step
    def start(self):
        self.items = list(range(150))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 137 and os.environ.get("CURSE"):
            raise RuntimeError("item 137 is cursed")
        self.next(self.join)


if __name__ == "__main__":
    FailForeachFlow()
