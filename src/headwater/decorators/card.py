"""``@card(type="default", id=None, options={}, timeout=45)``: keep an HTML report of the task.

A step may carry several. The decorator only declares the card on the step's policy; the task
renders it after the step (``runtime/task_cards.py``) and the scheduler records it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import CardFunction

_NAME = r"^[A-Za-z0-9_-]+$"  # a pattern string: re compiles (and caches) it on first use
_ID = r"^[A-Za-z0-9_]+$"  # a pattern string: re compiles (and caches) it on first use


class CardDecorator(StepDecorator):
    name = "card"
    allow_multiple = True
    defaults = {"type": "default", "id": None, "options": {}, "timeout": 45,
                "save_errors": True, "refresh_interval": 5, "customize": False}
    examples = {"type": "'default'", "id": "'summary'", "options": "{}", "timeout": "45",
                "refresh_interval": "5"}

    def validate(self) -> None:
        a = self.attributes
        if not isinstance(a["type"], str) or not re.match(_NAME, a["type"]):
            raise self.bad_option("type", "must be a card type name (letters, digits, _ or -)")
        if a["id"] is not None and (not isinstance(a["id"], str) or not re.match(_ID, a["id"])):
            raise self.bad_option("id", "must be letters, digits and underscores, e.g. 'summary'")
        if not isinstance(a["options"], dict):
            raise self.bad_option("options", "must be a dict")
        for option in ("timeout", "refresh_interval"):
            value = a[option]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise self.bad_option(option, "must be a number of seconds >= 0")

    def apply(self, policy: StepPolicy) -> None:
        policy.cards.append(dict(self.attributes))


card: CardFunction = make_step_decorator(CardDecorator)
