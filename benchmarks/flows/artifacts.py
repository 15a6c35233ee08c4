"""One step that sets ``--count`` small artifacts; the next step reads one of them."""

from headwater import FlowSpec, Parameter, step


class ManyArtifactsFlow(FlowSpec):
    """start sets a0..a{count-1}; end checks the last one."""

    count = Parameter("count", default=1000, type=int, help="Number of artifacts.")

    @step
    def start(self):
        for i in range(self.count):
            setattr(self, f"a{i}", {"i": i, "name": f"item {i}"})
        self.next(self.end)

    @step
    def end(self):
        last = self.count - 1
        assert getattr(self, f"a{last}")["i"] == last


if __name__ == "__main__":
    ManyArtifactsFlow()
