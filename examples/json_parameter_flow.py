"""A structured parameter given as JSON: ``run --gdp '{"US": 1}'``."""

from headwater import FlowSpec, JSONType, Parameter, step


class JSONParameterFlow(FlowSpec):
    """Look up a country's GDP in a dictionary passed on the command line."""

    gdp = Parameter("gdp", help="Country -> GDP", type=JSONType, default='{"US": 1939}')
    country = Parameter("country", help="Which country", default="US")

    @step
    def start(self):
        print(f"The GDP of {self.country} is ${self.gdp[self.country]}B")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JSONParameterFlow()
