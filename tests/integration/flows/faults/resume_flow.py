"""Every shape resume must handle, in one flow: a branch, a join, a foreach, a conditional, a loop.

    start -> (left, right) -> branches -> fan -foreach-> item -> gather -> choose
          -> approve | reject -> again (loops until 3 passes) -> end

Which tasks fail comes from the environment, not from a parameter (resume reuses the origin's
parameters, but each process reads its own environment): ``FAIL_AT`` is a comma-separated list
of ``step`` or ``step:N``, where N is the foreach index of ``item`` or the pass of ``again``
(1-based). Every task prints ``RAN <step> <N>`` so a test can see which tasks ran and which were
cloned.
"""

import os

from headwater import FlowSpec, Parameter, current, step


def checkpoint(step_name, n=None):
    label = step_name if n is None else f"{step_name}:{n}"
    print("RAN", label)
    if label in os.environ.get("FAIL_AT", "").split(","):
        raise RuntimeError(f"injected failure at {label}")


class ResumeFlow(FlowSpec):
    width = Parameter("width", help="foreach items", default=3)
    verdict = Parameter("verdict", help="'approve' or 'reject'", default="approve")

    @step
    def start(self):
        checkpoint("start")
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        checkpoint("left")
        self.side = "left"
        self.left_value = self.base + 1
        self.next(self.branches)

    @step
    def right(self):
        checkpoint("right")
        self.side = "right"
        self.right_value = self.base + 2
        self.next(self.branches)

    @step
    def branches(self, inputs):
        checkpoint("branches")
        self.total = inputs.left.left_value + inputs.right.right_value
        self.base = inputs.left.base
        self.items = list(range(self.width))
        self.next(self.fan)

    @step
    def fan(self):
        checkpoint("fan")
        self.next(self.item, foreach="items")

    @step
    def item(self):
        checkpoint("item", self.index)
        self.square = self.input * self.input
        self.next(self.gather)

    @step
    def gather(self, inputs):
        checkpoint("gather")
        self.squares = sorted(i.square for i in inputs)
        self.total = inputs[0].total
        self.next(self.choose)

    @step
    def choose(self):
        checkpoint("choose")
        self.decision = self.verdict
        self.next({"approve": self.approve, "reject": self.reject}, condition="decision")

    @step
    def approve(self):
        checkpoint("approve")
        self.outcome = "approved"
        self.passes = 0
        self.next(self.again)

    @step
    def reject(self):
        checkpoint("reject")
        self.outcome = "rejected"
        self.passes = 0
        self.next(self.again)

    @step
    def again(self):
        self.passes += 1
        checkpoint("again", self.passes)
        self.state = "more" if self.passes < 3 else "done"
        self.next({"more": self.again, "done": self.end}, condition="state")

    @step
    def end(self):
        checkpoint("end")
        self.origin_seen = current.origin_run_id
        self.retry_seen = current.retry_count
        print("result", self.total, self.squares, self.outcome, self.passes)


if __name__ == "__main__":
    ResumeFlow()
