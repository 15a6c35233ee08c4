"""A foreach of four in which item 1 raises once GATE_DIR/raise exists and ``@catch`` catches
it, while the other items wait for GATE_DIR/rest: a run page can be open on the running run
before and after a task is caught."""

from fan_in import FanInFlow, wait_for

from headwater import catch, step


class CaughtLiveFlow(FanInFlow):
    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.work, foreach="items")

    @catch(var="failure")
    @step
    def work(self):
        if self.input == 1:
            wait_for("raise")
            raise ValueError("item 1 has no labels")
        wait_for("rest")
        self.next(self.join)


if __name__ == "__main__":
    CaughtLiveFlow()
