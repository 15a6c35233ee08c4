"""A step drawing progress bars on stderr the way tqdm does (each state written over the last
with a carriage return): one finished at once, one that moves only when the test opens
GATE_DIR/g1, g2, g3; and a line ending in a Windows line break on stdout."""

import os
import sys
import time
from pathlib import Path

from headwater import FlowSpec, step


class ProgressBarFlow(FlowSpec):
    @step
    def start(self):
        print("before the bar", flush=True)
        for i in range(50):
            sys.stderr.write(f"\rwarming up {i + 1}/50")
        sys.stderr.write("\n")
        for n in (1, 2, 3):
            sys.stderr.write(f"\rtraining {n}/3")
            sys.stderr.flush()
            gate = Path(os.environ["GATE_DIR"]) / f"g{n}"
            deadline = time.monotonic() + 300
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        sys.stderr.write("\n")
        print("windows line\r\nafter the bar", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProgressBarFlow()
