from headwater import FlowSpec, Parameter, step, trigger


@trigger(event="data_ready")
class DeployConditionalFlow(FlowSpec):
    mode = Parameter("mode", default="small")

    @step
    def start(self):
        self.route = self.mode
        self.next({"small": self.small, "big": self.big}, condition="route")

    @step
    def small(self):
        self.size = 1
        self.next(self.after_small)

    @step
    def after_small(self):
        self.size += 1
        self.next(self.merge)

    @step
    def big(self):
        self.size = 100
        self.next(self.merge)

    @step
    def merge(self):
        self.final = self.size
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployConditionalFlow()
