"""Metaflow style: a line of steps, a Parameter, and `current`."""

import sys

import metaflow
from metaflow import FlowSpec, Parameter, current, step


class CompatLinearFlow(FlowSpec):
    alpha = Parameter("alpha", help="A number", default=0.5)

    @step
    def start(self):
        # Which `metaflow` this process serves: headwater's shim, never the real package.
        self.mf_version = metaflow.__version__
        self.mf_file = getattr(sys.modules["metaflow"], "__file__", None)
        self.where = (current.flow_name, current.run_id, current.step_name)
        self.values = [self.alpha]
        self.next(self.middle)

    @step
    def middle(self):
        self.values = self.values + [self.alpha * 2]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)
        print("total is", self.total)


if __name__ == "__main__":
    CompatLinearFlow()
