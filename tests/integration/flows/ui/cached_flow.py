"""A flow whose ``features`` step (a foreach of three, at most two at once) is ``@cache``d: run twice with the same
parameter, the second run reuses its three tasks; ``FAIL_END`` makes ``end`` fail, so a resume
of that run clones the reused tasks (a resume's clones, not @cache's)."""

import os

from headwater import FlowSpec, Parameter, cache, concurrency, step


class CachedFlow(FlowSpec):
    scale = Parameter("scale", default=2)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.features, foreach="items")

    @concurrency(limit=2)
    @cache
    @step
    def features(self):
        self.feature = self.input * self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.feature for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("FAIL_END"):
            raise RuntimeError("end fails on purpose")


if __name__ == "__main__":
    CachedFlow()
