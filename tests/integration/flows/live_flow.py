"""A step that prints, then waits for the test to answer: proves its output is streamed live.

The step waits for a file (``release1``, ``release2``) that the test creates only after it has
read the step's line from the run's console. Without live output the step would wait in vain
(until ``--patience`` seconds pass, after which it goes on so that the test fails, not hangs).
"""

import sys
import time
from pathlib import Path

from headwater import FlowSpec, Parameter, step


def wait_for(name, patience):
    deadline = time.monotonic() + patience
    while not Path(name).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return Path(name).exists()


class LiveFlow(FlowSpec):
    patience = Parameter("patience", help="Seconds to wait for each release file", default=60.0)

    @step
    def start(self):
        print("first line", flush=True)
        self.released1 = wait_for("release1", self.patience)
        print("second line, no explicit flush")
        print("a line on stderr", file=sys.stderr)
        self.released2 = wait_for("release2", self.patience)
        sys.stdout.write("a last line without newline")
        self.next(self.end)

    @step
    def end(self):
        print("end ran")


if __name__ == "__main__":
    LiveFlow()
