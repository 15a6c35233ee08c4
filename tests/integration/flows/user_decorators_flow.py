"""User-defined step decorators and mutators, each shape the public API allows.

- ``timing`` (a generator with attributes) sets artifacts before and after the step;
- ``swallow`` catches the step's KeyError: the step succeeds and goes where it would have;
- ``skip`` yields ``{}``: the step never runs;
- ``Replace`` (a class) runs its own function instead of the step;
- ``Scale`` (a class with options) changes an artifact after the step;
- ``AddRetry`` (a step mutator) adds ``@retry`` and ``timing`` to the step it sits on;
- ``ScaleEnd`` (a flow mutator) reads a Config and adds ``Scale`` to ``end``;
- ``Label`` (a step mutator) and ``timing`` on ``start`` take an option read from a Config
  (``labels.start``): their ``init`` sees its value, never the expression.
"""

import os

from headwater import (
    Config,
    FlowMutator,
    FlowSpec,
    StepMutator,
    UserStepDecorator,
    current,
    step,
    user_step_decorator,
)


@user_step_decorator
def timing(step_name, flow, inputs, attributes):
    flow.before = f"{step_name}:{attributes.get('label', '-')}"
    yield
    flow.after = f"after {step_name}"


@user_step_decorator
def swallow(step_name, flow, inputs):
    try:
        yield
    except KeyError as exc:
        flow.swallowed = str(exc)


@user_step_decorator
def skip(step_name, flow, inputs):
    yield {}


class Replace(UserStepDecorator):
    def pre_step(self, step_name, flow, inputs=None):
        def instead(flow):
            flow.replaced_in = step_name
            return True  # take the step's own self.next

        return instead

    def post_step(self, step_name, flow, exception=None):
        return exception  # None keeps the replacement's `True` (a tuple would override it)


class Scale(UserStepDecorator):
    def init(self, factor=2):
        self.factor = factor

    def post_step(self, step_name, flow, exception=None):
        flow.value = flow.value * self.factor
        return exception, None


class AddRetry(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator("retry:times=1,minutes_between_retries=0")
        mutable_step.add_decorator(timing, deco_kwargs={"label": "mutated"})


class Label(StepMutator):
    def init(self, label):
        self.label = label

    def mutate(self, mutable_step):
        mutable_step.add_decorator(timing, deco_kwargs={"label": self.label})


class ScaleEnd(FlowMutator):
    def mutate(self, mutable_flow):
        factor = dict(mutable_flow.configs)["settings"]["factor"]
        for name, mutable_step in mutable_flow.steps:
            if name == "end":
                mutable_step.add_decorator(Scale, deco_kwargs={"factor": factor})


@ScaleEnd
class UserDecoratorsFlow(FlowSpec):
    settings = Config("settings", default_value={"factor": 5})
    labels = Config("labels", default_value={"start": "start", "end": "last"})

    @timing(label=labels.start)
    @step
    def start(self):
        self.next(self.fails)

    @swallow
    @step
    def fails(self):
        raise KeyError("gone")
        self.next(self.skipped)

    @skip
    @step
    def skipped(self):
        raise RuntimeError("a skipped step never runs")
        self.next(self.replaced)

    @Replace
    @step
    def replaced(self):
        raise RuntimeError("a replaced step never runs")
        self.next(self.flaky)

    @AddRetry
    @step
    def flaky(self):
        self.attempt = current.retry_count
        if current.retry_count == 0 and os.environ.get("FLAKY", "1") == "1":
            raise RuntimeError("first attempt fails")
        self.next(self.end)

    @Label(label=labels.end)
    @step
    def end(self):
        self.value = 3


if __name__ == "__main__":
    UserDecoratorsFlow()
