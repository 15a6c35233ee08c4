"""A step with @retry whose every attempt waits for its own gate (GATE_DIR/aN) before it fails,
the fourth (attempt 3) succeeding: a page can stay open on the task through all its attempts."""

import os
import time
from pathlib import Path

from headwater import FlowSpec, current, retry, step


class RetryGateFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.hold)

    @retry(times=3, minutes_between_retries=0)
    @step
    def hold(self):
        attempt = current.retry_count
        print(f"attempt {attempt} waiting for its gate", flush=True)
        gate = Path(os.environ["GATE_DIR"]) / f"a{attempt}"
        deadline = time.monotonic() + 300
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if attempt < 3:
            raise RuntimeError(f"attempt {attempt} fails on purpose")
        print("the last attempt passes", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryGateFlow()
