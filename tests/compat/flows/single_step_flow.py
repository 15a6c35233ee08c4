"""Metaflow style: a flow of one plain @step, which is both its first and its last step."""

from metaflow import FlowSpec, step


class CompatSingleStepFlow(FlowSpec):
    @step
    def only(self):
        self.x = 42


if __name__ == "__main__":
    CompatSingleStepFlow()
