"""A live card: the step refreshes its card, then waits for the test to let it finish."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown, ProgressBar


class LiveCardFlow(FlowSpec):
    @card(refresh_interval=0)
    @step
    def start(self):
        bar = ProgressBar(max=10, label="work")
        current.card.append(bar)
        current.card.append(Markdown("working"), id="status")
        bar.update(4)
        current.card.refresh()
        Path(os.environ["CARD_READY_FILE"]).write_text("refreshed")
        go = Path(os.environ["CARD_GO_FILE"])
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        bar.update(10)
        current.card.components["status"].update("all done")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LiveCardFlow()
