"""A foreach over the items of ``items.json`` (beside the flow), each item's task under @cache.

Metaflow has no step cache: its copy of this file (the import rewritten) finds no ``cache`` and
runs every task, as a plain re-run does.
"""

import json

from headwater import FlowSpec, step

try:
    from headwater import cache
except ImportError:  # Metaflow
    def cache(func):
        return func


class CachedForeachFlow(FlowSpec):
    """start (reads items.json) -> work (@cache, one task per item) -> join -> end."""

    @step
    def start(self):
        with open("items.json") as handle:
            self.items = json.load(handle)
        self.next(self.work, foreach="items")

    @cache
    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.out for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    CachedForeachFlow()
