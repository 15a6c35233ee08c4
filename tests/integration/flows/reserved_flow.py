"""A step assigns something that belongs to the framework; ``--what`` picks which."""

from headwater import FlowSpec, Parameter, step


class ReservedFlow(FlowSpec):
    what = Parameter("what", help="next, input or parameter", default="next")

    @step
    def start(self):
        if self.what == "next":
            self.next = 1
        elif self.what == "input":
            self.input = 1
        else:
            self.what = "changed"
        self.next(self.end)

    @step
    def end(self):
        print("end should not run")


if __name__ == "__main__":
    ReservedFlow()
