"""``@retry(times=3, minutes_between_retries=2)``: run a failed step again.

Every attempt is recorded with its own logs and exception; ``current.retry_count`` tells the step
which attempt it is. The defaults are Metaflow's (3 retries, 2 minutes apart), and so is the
rule for the wait: as with Metaflow's local runs, a step retries at once unless
``minutes_between_retries`` is written out (Metaflow applies its default wait only on remote
schedulers; headwater honours an explicit one everywhere).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import RetryFunction


class RetryDecorator(StepDecorator):
    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 2}
    examples = {"times": "3", "minutes_between_retries": "2"}

    def validate(self) -> None:
        times = self.attributes["times"]
        if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= 100:
            raise self.bad_option("times", "must be an integer between 0 and 100")
        minutes = self.attributes["minutes_between_retries"]
        if (not isinstance(minutes, (int, float)) or isinstance(minutes, bool)
                or not 0 <= minutes < math.inf):  # nan and inf are not waits
            raise self.bad_option("minutes_between_retries", "must be a finite number >= 0")

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.delay_given = "minutes_between_retries" in options

    def apply(self, policy: StepPolicy) -> None:
        policy.attempts = max(policy.attempts, int(self.attributes["times"]) + 1)
        policy.retry_delay_s = float(self.attributes["minutes_between_retries"]) * 60.0
        policy.retry_delay_given = self.delay_given


retry: RetryFunction = make_step_decorator(RetryDecorator)
