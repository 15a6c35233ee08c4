"""A step declaring both @pypi and @conda: refused when environments are built, ignored without them (as in Metaflow)."""

from headwater import FlowSpec, conda, pypi, step


class BothKindsFlow(FlowSpec):
    @conda(packages={"hwgreet": "1.2.0"})
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        print("START RAN")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BothKindsFlow()
