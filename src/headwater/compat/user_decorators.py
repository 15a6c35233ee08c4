"""Metaflow's user-defined decorators and mutators, served as ``metaflow``'s names.

Every flow file Metaflow's own tooling generates imports these names. They are headwater's own
(:mod:`headwater.decorators.user_step`, :mod:`headwater.decorators.mutators`); this module only
gives them the place a Metaflow flow looks for them.
"""

from __future__ import annotations

from headwater.decorators.mutable import MutableFlow, MutableStep
from headwater.decorators.mutators import FlowMutator, StepMutator
from headwater.decorators.user_step import UserStepDecorator, user_step_decorator

USER_SKIP_STEP: dict = {}  # yield it from a user step decorator to skip the step

__all__ = ["USER_SKIP_STEP", "FlowMutator", "MutableFlow", "MutableStep", "StepMutator",
           "UserStepDecorator", "user_step_decorator"]
