"""A run a page can watch step by step: ``start`` waits for GATE_DIR/one, the three ``work``
tasks for GATE_DIR/two, then item 1 fails."""

from fan_in import FanInFlow, wait_for

from headwater import step


class GatedFailFlow(FanInFlow):
    @step
    def start(self):
        wait_for("one")
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        wait_for("two")
        if self.input == 1:
            raise RuntimeError("item 1 gave up")
        self.next(self.join)


if __name__ == "__main__":
    GatedFailFlow()
