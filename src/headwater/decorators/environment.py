"""``@environment(vars={'NAME': 'value'})``: environment variables set for the step's task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator

if TYPE_CHECKING:
    from headwater.decorators.typed import EnvironmentFunction


class EnvironmentDecorator(StepDecorator):
    name = "environment"
    defaults = {"vars": {}}
    examples = {"vars": "{'MY_SETTING': 'on'}"}

    def validate(self) -> None:
        env = self.attributes["vars"]
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise self.bad_option("vars", "must be a dict of variable name -> value")

    def apply(self, policy: StepPolicy) -> None:
        policy.env.update({k: str(v) for k, v in self.attributes["vars"].items()})


environment: EnvironmentFunction = make_step_decorator(EnvironmentDecorator)
