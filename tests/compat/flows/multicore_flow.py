"""Metaflow style: a step maps over its cores with metaflow.multicore_utils, and the flow's
graph and linter are read through metaflow.lint."""

from metaflow import FlowSpec, step
from metaflow.lint import linter
from metaflow.multicore_utils import parallel_map


class CompatMulticoreFlow(FlowSpec):
    @step
    def start(self):
        linter.run_checks(type(self)._graph)
        self.order = type(self)._graph.sorted_nodes
        self.squares = parallel_map(lambda x: x * x, range(6), max_parallel=3)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatMulticoreFlow()
