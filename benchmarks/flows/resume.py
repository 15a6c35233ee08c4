"""Six steps; the fifth fails while BENCH_FAIL=1 is set, so the run can be resumed."""

import os

from headwater import FlowSpec, step


class ResumeFlow(FlowSpec):
    """start -> a -> b -> c -> d (fails late) -> end."""

    @step
    def start(self):
        self.x = 0
        self.next(self.a)

    @step
    def a(self):
        self.x += 1
        self.next(self.b)

    @step
    def b(self):
        self.x += 1
        self.next(self.c)

    @step
    def c(self):
        self.x += 1
        self.next(self.d)

    @step
    def d(self):
        if os.environ.get("BENCH_FAIL") == "1":
            raise RuntimeError("late failure (BENCH_FAIL=1)")
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        assert self.x == 4


if __name__ == "__main__":
    ResumeFlow()
