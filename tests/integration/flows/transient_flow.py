"""A flow with two @transient artifacts: ``raw`` (unique to the run's SEED) and ``scratch`` (the
same bytes as ``copy``, which is kept), both blobs. ``start`` is @cache'd, so a second run with
the same seed may reuse it. With ``FAIL_IN_MIDDLE`` set in the environment, ``middle`` fails
after reading ``raw`` (so the run can be resumed without it)."""

import os

from headwater import FlowSpec, Parameter, cache, step, transient

BIG = 3000  # over the 1 KiB inline limit: each value is a blob of its own


@transient("raw", "scratch")
class TransientFlow(FlowSpec):
    seed = Parameter("seed", default="0")

    @cache
    @step
    def start(self):
        self.raw = f"raw data of seed {self.seed}|" + "r" * BIG
        self.kept = f"kept data of seed {self.seed}|" + "k" * BIG
        self.scratch = f"shared scratch of seed {self.seed}|" + "s" * BIG
        self.copy = self.scratch  # the same bytes under a name that is kept
        self.next(self.middle)

    @step
    def middle(self):
        self.summary = len(self.raw)
        if os.environ.get("FAIL_IN_MIDDLE"):
            raise RuntimeError("failing on purpose")
        self.next(self.end)

    @step
    def end(self):
        assert self.summary == len(self.raw)


if __name__ == "__main__":
    TransientFlow()
