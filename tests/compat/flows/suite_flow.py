"""A flow written for Metaflow that leans on what Metaflow's own test suite checks.

Every name below is imported from ``metaflow``; headwater serves them (see docs/migrating.md).
"""

import sys

from metaflow import (
    Config,
    FlowMutator,  # noqa: F401 - imported by every flow Metaflow's suite generates
    FlowSpec,
    Parameter,
    StepMutator,  # noqa: F401
    UserStepDecorator,  # noqa: F401
    catch,
    config_expr,
    current,
    project,
    retry,
    step,
    user_step_decorator,  # noqa: F401
)
from metaflow.exception import ExternalCommandFailed, MetaflowException


@project(name=config_expr("cfg").project)
class CompatSuiteFlow(FlowSpec):
    cfg = Config("cfg", default_value={"project": "suite_proj"})
    alpha = Parameter("alpha", default=3)
    LIMIT = 7  # a class-level constant: an artifact of every task, read-only in steps

    @step
    def start(self):
        try:
            self.alpha = 5
        except AttributeError:
            self.param_read_only = True
        try:
            self.LIMIT = 8
        except AttributeError:
            self.constant_read_only = True
        self.task_pathspec = current.task.pathspec
        self.run_seen = current.run.pathspec
        self.seen_tags = current.tags
        self.seen_tags.add("added-in-step")
        self.project_seen = current.project_name
        self.branch_seen = current.branch_name
        print("to stdout")
        print("to stderr", file=sys.stderr)
        self.items = ["a", "b"]
        self.next(self.work, foreach="items")

    @retry(times=1)
    @step
    def work(self):
        if current.retry_count == 0:
            raise MetaflowException("first attempt fails")
        self.frame_var = self._foreach_stack[-1].var
        self.same = "x"
        self.differ = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        try:
            self.merge_artifacts(inputs)
        except MetaflowException:
            self.refused_first = True
        self.merge_artifacts(inputs, exclude=["differ"])
        self.next(self.caught)

    @catch(var="err", print_exception=False)
    @step
    def caught(self):
        self.before = "kept"
        if self.before:
            raise ExternalCommandFailed("boom")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CompatSuiteFlow()
