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
        # Checked here, not when the task sets them: ``os.environ`` refuses a name that is empty
        # or holds '=' and anything holding a NUL, which failed the task (the run already
        # recorded) with a bare ValueError naming neither the step nor the variable.
        for name, value in env.items():
            if not name or "=" in name or "\0" in name:
                raise self.bad_option(
                    "vars", f"{name!r} cannot name an environment variable (it is empty or "
                    "holds '=' or a NUL character); give a name such as 'MY_SETTING'")
            if "\0" in str(value):
                raise self.bad_option(
                    "vars", f"the value of {name} holds a NUL character, which no environment "
                    "can carry; leave it out")

    def apply(self, policy: StepPolicy) -> None:
        policy.env.update({k: str(v) for k, v in self.attributes["vars"].items()})


environment: EnvironmentFunction = make_step_decorator(EnvironmentDecorator)
