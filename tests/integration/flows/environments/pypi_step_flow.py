"""One step in a @pypi environment holding tabulate; the others in the flow's own Python."""

import os
import sys

from headwater import FlowSpec, pypi, step


def has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class PypiStepFlow(FlowSpec):
    @step
    def start(self):
        self.start_has_tabulate = has("tabulate")
        self.items = [1, 2, 3]
        self.next(self.fmt, foreach="items")

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def fmt(self):
        import tabulate

        if os.environ.get("FAIL_FMT") == "1":
            raise RuntimeError("fmt fails on purpose")
        self.version = tabulate.__version__
        self.table = tabulate.tabulate([[self.input, self.input * 2]], tablefmt="plain")
        self.prefix = sys.prefix
        self.server_pid = os.getppid()  # the fork server of this environment
        with open(f"/proc/{self.server_pid}/cmdline", "rb") as cmdline:
            self.server_cmdline = cmdline.read().decode().split("\0")
        self.server_argv = self.server_cmdline[:3]
        self.launch_left_in_environment = "HEADWATER_TASK_LAUNCH" in os.environ
        self.next(self.join)

    @step
    def join(self, inputs):
        self.versions = sorted({i.version for i in inputs})
        self.tables = [i.table for i in inputs]
        self.prefixes = sorted({i.prefix for i in inputs})
        self.server_pids = sorted({i.server_pid for i in inputs})
        self.server_argvs = [i.server_argv for i in inputs]
        self.join_has_tabulate = has("tabulate")
        self.next(self.end)

    @step
    def end(self):
        print("DONE", self.versions)


if __name__ == "__main__":
    PypiStepFlow()
