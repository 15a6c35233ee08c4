"""``@resources(cpu=1, memory=4096, gpu=0, disk=None)``: what a step needs to run.

On the local executor the request is recorded with the task and otherwise has no effect (the laptop
is what it is), exactly as with Metaflow's local runs; scale-out executors place tasks by it.
"""

from __future__ import annotations

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator


class ResourcesDecorator(StepDecorator):
    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": 0, "disk": None, "shared_memory": None}

    def validate(self) -> None:
        for option in ("cpu", "memory", "gpu"):
            value = self.attributes[option]
            try:
                ok = float(value) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise self.bad_option(option, "must be a number >= 0")

    def apply(self, policy: StepPolicy) -> None:
        policy.resources = {k: v for k, v in self.attributes.items() if v is not None}


resources = make_step_decorator(ResourcesDecorator)
