"""Metaflow style: first and last steps with other names than start and end (and a branch);
fails in `left` unless COMPAT_FIXED is set, for resume."""

import os

from metaflow import FlowSpec, Parameter, step


class CompatStepRolesFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step(start=True, node_info={"label": "entry"})
    def begin(self):
        self.x = self.alpha
        self.next(self.left, self.right)

    @step
    def left(self):
        if not os.environ.get("COMPAT_FIXED"):
            raise RuntimeError("not fixed yet")
        self.val = "left"
        self.next(self.merge)

    @step
    def right(self):
        self.val = "right"
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.vals = sorted(i.val for i in inputs)
        self.x = inputs[0].x + 1
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.x += 1


if __name__ == "__main__":
    CompatStepRolesFlow()
