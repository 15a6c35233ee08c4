"""Parameters of every kind, and a foreach whose items a parameter shapes (for bad-input tests)."""

from headwater import FlowSpec, IncludeFile, JSONType, Parameter, step

SHAPES = {
    "list": lambda n: list(range(n)),
    "range": lambda n: range(n),
    "set": lambda n: set(range(n)),
    "int": lambda n: n,
    "generator": lambda n: (i for i in range(n)),
    "dict": lambda n: {i: i for i in range(n)},
    "none": lambda n: None,
}


class InputFlow(FlowSpec):
    count = Parameter("count", help="how many foreach items", default=2)
    needed = Parameter("needed", help="must be given", required=True)
    conf = Parameter("conf", help="JSON settings", type=JSONType, default='{"depth": 1}')
    notes = IncludeFile("notes", help="a text file to include", default=None)
    shape = Parameter("shape", help="what the foreach goes over", default="list")

    @step
    def start(self):
        self.items = SHAPES[self.shape](self.count)
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.doubled = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.doubled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total, "needed", self.needed, "conf", self.conf)


if __name__ == "__main__":
    InputFlow()
