"""Decorators whose backend headwater does not have (yet): accepted, and run locally.

A flow written for Metaflow may carry ``@kubernetes`` or ``@batch``.
Refusing such a flow would make trying headwater on it impossible, so each is accepted with any
options and the run says once, in one line, what it ignored. (``@schedule`` and ``@trigger`` live
in :mod:`headwater.decorators.deployment`: the deployers act on them.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

_WHY = {
    "kubernetes": "runs the step locally (no Kubernetes backend yet)",
    "batch": "runs the step locally (no AWS Batch backend yet)",
}


def _fallback_class(name: str) -> type[StepDecorator]:
    class Fallback(StepDecorator):
        """Accepts any option; records a one-line note for the run."""

        def __init__(self, **options: Any) -> None:
            self.attributes = dict(options)

        def apply(self, policy: StepPolicy) -> None:
            policy.notes.append(f"@{name} {_WHY[name]}")
            if name == "kubernetes":  # a deployment to Kubernetes (Argo) honours them
                policy.kubernetes = dict(self.attributes)

    Fallback.name = name
    Fallback.__name__ = f"{name.capitalize()}Decorator"
    return Fallback


FALLBACK_CLASSES: dict[str, type[StepDecorator]] = {name: _fallback_class(name) for name in _WHY}
STEP_FALLBACKS: dict[str, Callable[..., Any]] = {
    name: make_step_decorator(cls) for name, cls in FALLBACK_CLASSES.items()
}

