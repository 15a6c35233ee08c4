"""A flow that stores every kind of thing a run keeps, most of it unique to its SEED, so that
deleting a run frees space and keeping one must keep all of it: artifacts (inline and blobs), an
IncludeFile, stdout and stderr logs, a foreach items list, a card and a live card.

With ``GATE_DIR`` set, ``middle`` writes ``GATE_DIR/waiting`` and waits for ``GATE_DIR/go``
(so a test can collect garbage while the run is live), then reads what earlier steps made.
"""

import os
import sys
import time
from pathlib import Path

from headwater import FlowSpec, IncludeFile, Parameter, card, current, step
from headwater.cards import Markdown

BIG = 3000  # over the 1 KiB inline limit: each value below is a blob of its own


def unique(seed, what):
    return f"{what} of seed {seed}|" + what[0] * BIG


class GcFlow(FlowSpec):
    seed = Parameter("seed", default="0")
    notes = IncludeFile("notes", default=None)

    @card(refresh_interval=0)
    @step
    def start(self):
        self.payload = unique(self.seed, "payload")
        self.shared = "the same in every run|" + "s" * BIG
        self.small = f"inline {self.seed}"
        self.items = [unique(self.seed, f"item{i}") for i in range(3)]
        print(unique(self.seed, "stdout"))
        print(unique(self.seed, "stderr"), file=sys.stderr)
        current.card.append(Markdown(unique(self.seed, "card")))
        current.card.refresh()
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.out = self.input + "|each"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.merge_artifacts(inputs, exclude=["out"])
        self.next(self.middle)

    @step
    def middle(self):
        gate = os.environ.get("GATE_DIR")
        if gate:
            Path(gate, "waiting").write_text(str(os.getpid()))
            deadline = time.monotonic() + 900  # the test opens the gate long before
            while not Path(gate, "go").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert self.payload == unique(self.seed, "payload")
        self.late = unique(self.seed, "late")
        self.next(self.end)

    @step
    def end(self):
        self.total = len(self.payload) + len(self.outs) + len(self.late)


if __name__ == "__main__":
    GcFlow()
