"""``@cache``: reuse an earlier successful task of this step when its inputs are the same.

The decorator only marks the step; what makes two tasks "the same" (the cache key) is computed by
the scheduler (see :mod:`headwater.runtime.step_cache`), which alone may look into metadata.
``@cache(max_age="7d")`` reuses only a result computed less than that long ago; an older one
runs the step again (``HEADWATER_CACHE_MAX_AGE`` sets the same for every @cache step of a run).
Headwater's own: Metaflow has no step cache, so the ``metaflow`` alias does not offer it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import CacheFunction


class CacheDecorator(StepDecorator):
    name = "cache"
    defaults: dict = {"max_age": None}
    examples = {"max_age": '"7d"'}
    # Prefect's cache_expiration / cache_key_fn are the first options people try.
    unknown_option_note = ("a result is reused until the step's code, inputs, parameters or "
                           "environment change, or until it is older than max_age "
                           "(@cache(max_age=\"7d\")); `run --no-cache` runs the step again and "
                           "stores the fresh result for later runs")

    def validate(self) -> None:
        if self.attributes["max_age"] is not None:
            self.max_age_s()

    def max_age_s(self) -> float | None:
        """The option in seconds (None: no expiry)."""
        from headwater.durations import EXAMPLES, parse_duration

        value = self.attributes["max_age"]
        if value is None:
            return None
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise self.bad_option(
                "max_age", f"is not a duration (a number of seconds, or text such as "
                f"{EXAMPLES})") from None
        if seconds <= 0:
            raise self.bad_option("max_age", "must be more than zero (a result that is never "
                                  "fresh is no cache: drop @cache instead)")
        return seconds

    def apply(self, policy: StepPolicy) -> None:
        policy.cache = True
        policy.cache_max_age_s = self.max_age_s()


cache: CacheFunction = make_step_decorator(CacheDecorator)
