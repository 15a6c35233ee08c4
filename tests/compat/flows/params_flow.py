"""Metaflow style: every kind of Parameter, JSONType and IncludeFile."""

from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step


class CompatParamsFlow(FlowSpec):
    count = Parameter("count", type=int, default=2)
    ratio = Parameter("ratio", default=0.25)
    name = Parameter("name", default="sam")
    loud = Parameter("loud", type=bool, default=False)
    config = Parameter("config", type=JSONType, default='{"depth": 1}')
    notes = IncludeFile("notes", help="A text file", default=None)

    @step
    def start(self):
        self.summary = {
            "count": self.count, "ratio": self.ratio, "name": self.name, "loud": self.loud,
            "config": self.config, "notes": self.notes,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatParamsFlow()
