from headwater import FlowSpec, Parameter, step


class DeploySharedCaseFlow(FlowSpec):
    """'gate' is a case of start's conditional and also follows 'prepare' (the other case);
    'end' is a case of gate's conditional and also follows the foreach join."""

    mode = Parameter("mode", default="prepare")
    extra = Parameter("extra", default="more")

    @step
    def start(self):
        self.route = self.mode
        self.trail = ["start"]
        self.next({"direct": self.gate, "prepare": self.prepare}, condition="route")

    @step
    def prepare(self):
        self.trail = self.trail + ["prepare"]
        self.next(self.gate)

    @step
    def gate(self):
        self.trail = self.trail + ["gate"]
        self.choice = self.extra
        self.next({"done": self.end, "more": self.fan}, condition="choice")

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.trail = inputs[0].trail + ["join", sum(i.square for i in inputs)]
        self.next(self.end)

    @step
    def end(self):
        self.trail = self.trail + ["end"]


if __name__ == "__main__":
    DeploySharedCaseFlow()
