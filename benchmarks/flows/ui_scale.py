"""The web UI's big run: a foreach of ``--n`` trivial tasks, then a task that prints ``--log-mb``
MB to stdout and a task that keeps ``--artifacts`` small artifacts (benchmarks/ui_browser.py)."""

from headwater import FlowSpec, Parameter, step


class ScaleFlow(FlowSpec):
    """start -> work (one task per item) -> join -> chatty (a big log) -> many (artifacts) -> end."""

    n = Parameter("n", default=10_000, type=int, help="Number of foreach tasks.")
    log_mb = Parameter("log-mb", default=5, type=int, help="Megabytes the chatty step prints.")
    artifacts = Parameter("artifacts", default=1_000, type=int, help="Artifacts of the many step.")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.out for inp in inputs)
        self.next(self.chatty)

    @step
    def chatty(self):
        line = "the quick brown fox jumps over the lazy dog, line {:>8} of the chatty step\n"
        lines = self.log_mb * 1_000_000 // len(line.format(0))
        chunk = []
        for i in range(lines):
            chunk.append(line.format(i + 1))
            if len(chunk) == 10_000:
                print("".join(chunk), end="")
                chunk = []
        print("".join(chunk), end="")
        print("needle: the one line worth finding")
        self.next(self.many)

    @step
    def many(self):
        for i in range(self.artifacts):
            setattr(self, f"value_{i:04d}", {"index": i, "square": i * i})
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScaleFlow()
