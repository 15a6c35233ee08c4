from headwater import FlowSpec, Parameter, environment, resources, retry, step, timeout


class DeployLinearFlow(FlowSpec):
    """start -> middle -> end, with every decorator a deployment maps."""

    alpha = Parameter("alpha", default=2, help="A number")

    @step
    def start(self):
        self.x = self.alpha * 10
        self.next(self.middle)

    @retry(times=2)
    @timeout(seconds=600)
    @resources(cpu=2, memory=1024)
    @environment(vars={"GREETING": "hello"})
    @step
    def middle(self):
        import os

        self.greeting = os.environ["GREETING"]
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        self.result = (self.y, self.greeting)


if __name__ == "__main__":
    DeployLinearFlow()
