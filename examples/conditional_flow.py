"""A conditional transition: only the case the condition names runs."""

from headwater import FlowSpec, Parameter, step


class ConditionalFlow(FlowSpec):
    """Approve or reject depending on a score."""

    score = Parameter("score", help="A score between 0 and 1", default=0.8)

    @step
    def start(self):
        self.decision = "approve" if self.score >= 0.5 else "reject"
        self.next({"approve": self.approve, "reject": self.reject}, condition="decision")

    @step
    def approve(self):
        self.message = f"approved with {self.score}"
        self.next(self.end)

    @step
    def reject(self):
        self.message = f"rejected with {self.score}"
        self.next(self.end)

    @step
    def end(self):
        print(self.message)


if __name__ == "__main__":
    ConditionalFlow()
