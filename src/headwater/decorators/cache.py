"""``@cache``: reuse an earlier successful task of this step when its inputs are the same.

The decorator only marks the step; what makes two tasks "the same" (the cache key) is computed by
the scheduler (see :mod:`headwater.runtime.step_cache`), which alone may look into metadata.
Headwater's own: Metaflow has no step cache, so the ``metaflow`` alias does not offer it.
"""

from __future__ import annotations

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator


class CacheDecorator(StepDecorator):
    name = "cache"
    defaults: dict = {}
    # Prefect's cache_expiration / cache_key_fn are the first options people try.
    unknown_option_note = ("a result is reused until the step's code, inputs, parameters or "
                           "environment change, with no expiry; `run --no-cache` runs the step "
                           "again and stores the fresh result for later runs")

    def apply(self, policy: StepPolicy) -> None:
        policy.cache = True


cache = make_step_decorator(CacheDecorator)
