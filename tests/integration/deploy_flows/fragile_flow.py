from headwater import FlowSpec, step


class DeployFragileFlow(FlowSpec):
    """No decorators: `create --with catch` / `--with retry` add them to every step."""

    @step
    def start(self):
        self.x = 1
        self.next(self.fragile)

    @step
    def fragile(self):
        self.x = 2
        raise RuntimeError("fragile always fails")
        self.next(self.end)  # noqa: B018 - never reached; the graph reads it

    @step
    def end(self):
        self.result = self.x


if __name__ == "__main__":
    DeployFragileFlow()
