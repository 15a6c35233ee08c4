"""A step asks for a package that does not exist, or a Python that is not there."""

import os

from headwater import FlowSpec, pypi, step

PACKAGES = {os.environ.get("BAD_PACKAGE", "tabulate"): "0.9.0"}
PYTHON = os.environ.get("BAD_PYTHON") or None


class BadPypiFlow(FlowSpec):
    @step
    def start(self):
        print("START RAN")
        self.next(self.needs)

    @pypi(packages=PACKAGES, python=PYTHON)
    @step
    def needs(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadPypiFlow()
