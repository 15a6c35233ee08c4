"""``@resources(cpu=1, memory=4096, gpu=0, disk=None)``: what a step needs to run.

On the local executor the request has no effect (the laptop is what it is), exactly as with
Metaflow's local runs. With ``--executor dask`` it becomes Dask worker resources: ``cpu`` ->
``CPU``, ``memory`` (MB) -> ``MEMORY``, ``gpu`` -> ``GPU``, so the task runs only on a worker that
declares enough of each (see :mod:`headwater.runtime.executors.dask.resources`). Options left out
take the defaults above: ``@resources(gpu=1)`` asks for 1 CPU, 4096 MB and 1 GPU. A step without
``@resources`` asks for nothing and may run on any worker.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import ResourcesFunction


class ResourcesDecorator(StepDecorator):
    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": 0, "disk": None, "shared_memory": None}
    examples = {"cpu": "2", "memory": "8000", "gpu": "1"}

    def validate(self) -> None:
        for option in ("cpu", "memory", "gpu"):
            value = self.attributes[option]
            if option == "gpu" and value is None:  # Metaflow's documented default: no GPU
                continue
            try:
                ok = 0 <= float(value) < math.inf  # nan and inf are no amount
            except (TypeError, ValueError):
                ok = False
            if not ok:
                unit = " (of megabytes: 8000 for 8 GB)" if option == "memory" else ""
                raise self.bad_option(option, f"must be a finite number >= 0{unit}")

    def apply(self, policy: StepPolicy) -> None:
        policy.resources = {k: v for k, v in self.attributes.items() if v is not None}


resources: ResourcesFunction = make_step_decorator(ResourcesDecorator)
