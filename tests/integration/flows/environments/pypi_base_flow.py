"""@pypi_base gives every step pyfiglet; one step adds tabulate, one opts out."""

import sys

from headwater import FlowSpec, pypi, pypi_base, step


def has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pypi_base(packages={"pyfiglet": "1.0.4"})
class PypiBaseFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = (has("pyfiglet"), has("tabulate"))
        self.next(self.extra)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def extra(self):
        self.extra_has = (has("pyfiglet"), has("tabulate"))
        self.next(self.plain)

    @pypi(disabled=True)
    @step
    def plain(self):
        self.plain_has = (has("pyfiglet"), has("tabulate"))
        self.plain_prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        self.end_has = (has("pyfiglet"), has("tabulate"))


if __name__ == "__main__":
    PypiBaseFlow()
