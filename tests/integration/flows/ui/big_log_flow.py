"""A task whose stdout is larger than what a task page loads at once (its last MiB): a line to
find near its start, 30,000 lines of filler, a line that looks like a pattern, one near its end."""

from headwater import FlowSpec, step


class BigLogFlow(FlowSpec):
    @step
    def start(self):
        print("an early NEEDLE, far above what the page loads")
        for i in range(30000):
            print(f"filler line {i:05d} of the big log, nothing to see here")
        print("a line that looks like a pattern: (a+)+$ .* [x]")
        print("a late needle, in what the page loads")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigLogFlow()
