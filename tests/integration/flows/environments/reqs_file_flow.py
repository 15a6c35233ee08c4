"""A flow written for Metaflow (run through the shim) whose step environment is its folder's
requirements.txt, read by Metaflow's Config parser: packages pinned, python a range."""

import sys

from metaflow import Config, FlowSpec, pypi, requirements_txt_parser, step


class ReqsFileFlow(FlowSpec):
    reqs = Config("reqs", default="requirements.txt", parser=requirements_txt_parser)

    @step
    def start(self):
        self.next(self.use)

    @pypi(**reqs)
    @step
    def use(self):
        import tabulate

        self.version = tabulate.__version__
        self.python = ".".join(map(str, sys.version_info[:3]))
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReqsFileFlow()
