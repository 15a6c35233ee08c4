"""A run parameter becomes a command-line option: ``python parameter_flow.py run --alpha 0.6``."""

from headwater import FlowSpec, Parameter, step


class ParameterFlow(FlowSpec):
    """Print a learning rate given on the command line."""

    alpha = Parameter("alpha", help="Learning rate", default=0.01)

    @step
    def start(self):
        print("alpha is", self.alpha)
        self.next(self.end)

    @step
    def end(self):
        print("alpha is still", self.alpha)


if __name__ == "__main__":
    ParameterFlow()
