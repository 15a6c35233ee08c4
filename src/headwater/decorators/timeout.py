"""``@timeout(seconds=, minutes=, hours=)``: stop a step that runs too long.

When the limit passes, the step raises ``TimeoutException`` where it stands (as with Metaflow):
the attempt fails with a message naming the limit, ``@retry`` may run it again and ``@catch``
keeps what the step had set. A step that does not give way is stopped by the scheduler a margin
later (its whole process group: SIGTERM, then SIGKILL). See :mod:`headwater.runtime.step_timeout`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import TimeoutFunction


MAX_TIMEOUT_S = 2**31 - 1
"""The longest limit: ``seconds=10**30`` failed the step with a bare ``OverflowError`` out of
headwater's timer ("timestamp out of range for platform time_t") instead of a word at launch."""


class TimeoutDecorator(StepDecorator):
    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}
    examples = {"seconds": "30", "minutes": "5", "hours": "1"}

    def validate(self) -> None:
        for option in self.defaults:
            value = self.attributes[option]
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not 0 <= value < math.inf):  # nan and inf are not limits
                raise self.bad_option(option, "must be a finite number >= 0")
        if self.total_seconds() <= 0:
            raise self.bad_option("seconds", "the total time limit must be more than zero")
        if self.total_seconds() > MAX_TIMEOUT_S:
            given = next(o for o in ("hours", "minutes", "seconds") if self.attributes[o])
            raise self.bad_option(
                given, f"the total time limit must be at most {MAX_TIMEOUT_S} seconds (68 "
                "years, what the system's timers hold); for no limit, leave @timeout off")

    def total_seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"]) + 60.0 * float(a["minutes"]) + 3600.0 * float(a["hours"])

    def apply(self, policy: StepPolicy) -> None:
        limit = self.total_seconds()
        policy.timeout_s = limit if policy.timeout_s is None else min(policy.timeout_s, limit)


timeout: TimeoutFunction = make_step_decorator(TimeoutDecorator)
