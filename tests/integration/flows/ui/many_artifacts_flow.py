"""A task with 300 artifacts: its page lists them a hundred at a time, each previewed."""

from headwater import FlowSpec, step


class ManyArtifactsFlow(FlowSpec):
    @step
    def start(self):
        for i in range(300):
            setattr(self, f"value_{i:03d}", {"index": i, "text": "x" * 100})
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ManyArtifactsFlow()
