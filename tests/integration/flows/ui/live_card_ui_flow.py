"""A live card a page watches change: the step renders it twice, each time waiting for a file the
test creates (``GATE_DIR/one``, then ``GATE_DIR/two``), and ends with a third, final text."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown


def wait_for(name):
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 180
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class LiveCardUIFlow(FlowSpec):
    @card(refresh_interval=0)
    @step
    def start(self):
        text = Markdown("phase one")
        current.card.append(text)
        current.card.refresh()
        wait_for("one")
        text.update("phase two")
        current.card.refresh()
        wait_for("two")
        text.update("phase three")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LiveCardUIFlow()
