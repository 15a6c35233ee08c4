"""Steps that fail on their first attempt and succeed on the second: only ``--with retry`` helps.

``FIRST_TRY_FAILS`` (environment) lists the steps that fail first time (default: all three);
``ALWAYS_FAIL=1`` makes every attempt fail (for ``--with catch``).
"""

import os

from headwater import FlowSpec, current, step


def first_try_fails(step_name):
    print(f"{step_name} attempt {current.retry_count}")
    failing = os.environ.get("FIRST_TRY_FAILS", "start,middle,end").split(",")
    if os.environ.get("ALWAYS_FAIL") == "1" or (current.retry_count == 0 and step_name in failing):
        raise RuntimeError(f"{step_name} fails on attempt {current.retry_count}")


class FirstTryFailsFlow(FlowSpec):
    @step
    def start(self):
        first_try_fails("start")
        self.next(self.middle)

    @step
    def middle(self):
        first_try_fails("middle")
        self.next(self.end)

    @step
    def end(self):
        first_try_fails("end")


if __name__ == "__main__":
    FirstTryFailsFlow()
