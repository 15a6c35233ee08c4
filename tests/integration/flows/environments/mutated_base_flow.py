"""A flow mutator gives the flow its @pypi_base (tabulate), or takes a written one away."""

import os

from headwater import FlowMutator, FlowSpec, conda_base, step


def has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class tabulate_everywhere(FlowMutator):
    def pre_mutate(self, mutable_flow):
        if os.environ.get("SWAP_BASE") == "1":  # a written @conda_base is replaced
            mutable_flow.remove_decorator("conda_base")
        mutable_flow.add_decorator("pypi_base", deco_kwargs={"packages": {"tabulate": "0.9.0"}})
        self.specs = [spec[0] for spec in mutable_flow.decorator_specs]


@tabulate_everywhere
@conda_base(packages={"pyfiglet": "1.0.4"}, disabled=True)
class MutatedBaseFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has("tabulate")
        self.next(self.end)

    @step
    def end(self):
        self.end_has = has("tabulate")


if __name__ == "__main__":
    MutatedBaseFlow()
