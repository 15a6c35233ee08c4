"""A running task whose log outgrows what a task page loads (its last MiB) while a page follows
it: a line to find, 1.2 MB of filler, then held by ``$GATE_DIR/more``; a second line to find,
then held by ``$GATE_DIR/end``."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, step


def wait_for(name: str) -> None:
    gate = Path(os.environ["GATE_DIR"]) / name
    deadline = time.monotonic() + 240
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class BigLiveLogFlow(FlowSpec):
    @step
    def start(self):
        print("the first needle, far above what the page loads", flush=True)
        for i in range(20000):
            print(f"filler line {i:05d} of a log that keeps growing, nothing here")
        print("filler done", flush=True)
        wait_for("more")
        print("the second needle, written while the page is open", flush=True)
        wait_for("end")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigLiveLogFlow()
