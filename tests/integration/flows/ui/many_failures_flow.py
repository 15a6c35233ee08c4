"""Twelve foreach tasks that all wait for GATE_DIR/fail, then all fail: more failed tasks than a
run's page names (ten), so it links to the list of all of them."""

from fan_in import FanInFlow, wait_for

from headwater import step


class ManyFailuresFlow(FanInFlow):
    @step
    def start(self):
        self.items = list(range(12))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if wait_for("fail"):
            raise RuntimeError(f"item {self.input} failed on purpose")
        self.next(self.join)


if __name__ == "__main__":
    ManyFailuresFlow()
