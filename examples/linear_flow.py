"""A flow of three steps in a line; each step sees what the previous one stored."""

from headwater import FlowSpec, step


class LinearFlow(FlowSpec):
    """Count a number up through three steps."""

    @step
    def start(self):
        """Store the first value."""
        self.my_var = "hello world"
        self.count = 1
        self.next(self.a)

    @step
    def a(self):
        """Read the value from start and change the count."""
        print("the data artifact is:", self.my_var)
        self.count += 1
        self.next(self.end)

    @step
    def end(self):
        """Show the final values."""
        print("the data artifact is still:", self.my_var)
        print("count is", self.count)


if __name__ == "__main__":
    LinearFlow()
