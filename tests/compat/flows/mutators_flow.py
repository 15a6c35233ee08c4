"""A flow written for Metaflow whose mutators, declared on a base class, add parameters from a
config, add a flow mutator and a flow decorator by name, and a user decorator that wraps the
written one."""

import os
import threading

from metaflow import (
    Config,
    FlowMutator,
    FlowSpec,
    Parameter,
    UserStepDecorator,
    environment,
    step,
)
from metaflow.exception import MetaflowException


class label(UserStepDecorator):
    """Records the order the wrappers ran in, in a private attribute of the flow."""

    def init(self, name="?"):
        self.name = name

    def pre_step(self, step_name, flow, inputs=None):
        flow._wrapped = getattr(flow, "_wrapped", []) + [self.name]


class outer(label):
    pass


class AddedByName(FlowMutator):
    def init(self, value="unset"):
        self.value = value

    def pre_mutate(self, mutable_flow):
        for _, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator(environment, deco_kwargs={"vars": {"BY_NAME": self.value}})


class FromSettings(FlowMutator):
    late_error = None

    def pre_mutate(self, mutable_flow):
        settings = dict(mutable_flow.configs)["settings"]
        for name, default in settings["extra"].items():
            mutable_flow.add_parameter(name, Parameter(name, default=default))
        mutable_flow.remove_parameter("dropped")
        mutable_flow.add_decorator("AddedByName:value=from_spec")
        mutable_flow.add_decorator("project:name=mutated_proj")
        mutable_flow.start.add_decorator(outer, deco_kwargs={"name": "added"})

    def mutate(self, mutable_flow):
        try:
            mutable_flow.add_parameter("late", Parameter("late", default=1))
        except MetaflowException as err:
            FromSettings.late_error = str(err)


@FromSettings
class MutatedBase(FlowSpec):
    settings = Config("settings", default_value={"extra": {"alpha": 1}})
    dropped = Parameter("dropped", default="x")


class CompatMutatorsFlow(MutatedBase):
    @label(name="written")
    @step
    def start(self):
        self.extra = {name: getattr(self, name) for name in self.settings["extra"]}
        self.dropped_gone = not hasattr(self, "dropped")
        self.by_name = os.environ.get("BY_NAME")
        self.wrapped = list(self._wrapped)
        self.late_error = FromSettings.late_error
        self._private = "kept"
        self._lock = threading.Lock()  # cannot be stored: left out, the run goes on
        self.next(self.end)

    @step
    def end(self):
        self.private_seen = self._private
        self.lock_seen = hasattr(self, "_lock")


if __name__ == "__main__":
    CompatMutatorsFlow()
