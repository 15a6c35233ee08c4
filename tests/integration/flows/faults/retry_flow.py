"""@retry: ``flaky`` fails on its first attempts and succeeds on a later one.

``FLAKY_FAILURES`` (environment, default 2) is how many attempts fail; set it above the retry
budget to make the step fail for good.
"""

import os

from headwater import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count} says hello")
        if current.retry_count < int(os.environ.get("FLAKY_FAILURES", "2")):
            raise ValueError(f"flaky failure number {current.retry_count}")
        self.succeeded_on = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("flaky succeeded on attempt", self.succeeded_on)


if __name__ == "__main__":
    RetryFlow()
