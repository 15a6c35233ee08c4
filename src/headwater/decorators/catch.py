"""``@catch(var='error', print_exception=True)``: a step that keeps failing does not stop the flow.

After the step's last attempt fails (an exception, a crash, a timeout), one more task runs in its
place without calling the step: it stores a :class:`CaughtException` in ``var`` (when given) and
takes the step's transition, so the flow goes on and later steps can look at what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from headwater.decorators.base import StepDecorator, StepPolicy, make_step_decorator
from headwater.records import Field, Record

if TYPE_CHECKING:
    from headwater.decorators.typed import CatchFunction


class CaughtException(Record, frozen=True):
    """What @catch stores: the failure of the step's last attempt."""

    type: str
    message: str
    traceback: str = ""
    metaflow_text: bool = Field(False, repr=False, compare=False)
    """Set when the flow imports ``metaflow``: ``str()`` is then the traceback, what a Metaflow
    user printing the variable sees (Metaflow's wrapper prints its stack trace)."""

    @property
    def exception(self) -> str:
        """The exception's text alone (Metaflow's name for it); ``str()`` adds the type."""
        return self.message

    @property
    def stacktrace(self) -> str:
        return self.traceback

    def __str__(self) -> str:
        if not self.metaflow_text:
            return f"{self.type}: {self.message}"
        if self.traceback:
            return self.traceback
        # A crash or a timeout raised nothing in the step: Metaflow's wording for that case.
        return f"[no stacktrace]\n{self.type}: {self.message}"

    def __repr__(self) -> str:
        return str(self) if self.metaflow_text else super().__repr__()


class CatchDecorator(StepDecorator):
    name = "catch"
    defaults = {"var": None, "print_exception": True}
    examples = {"var": "'error'"}

    def validate(self) -> None:
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise self.bad_option("var", "must be an artifact name (a Python identifier)")

    def apply(self, policy: StepPolicy) -> None:
        policy.catch_var = self.attributes["var"] or ""
        policy.catch_print = bool(self.attributes["print_exception"])


def refuse_catch_on_splits(flow_name: str, switches: Iterable[Any], fan_outs: Iterable[Any],
                           policies: Mapping[str, StepPolicy]) -> None:
    """A switch step or a step that fans out (``foreach=``, ``num_parallel=``) under @catch is
    refused before the run starts, as Metaflow refuses both: once the step fails there is no
    value of its condition to choose a case by, and no items (or count) to fan out over.

    ``switches`` and ``fan_outs`` are the graph's steps of each kind (with ``name``, ``file``,
    ``line``, ``next_line``)."""
    from headwater.exceptions import FlowDefinitionError

    why = {"switch": "is a switch (self.next({...}, condition=...)) under @catch; a caught "
                     "failure leaves no condition to choose a case by, so @catch is not allowed "
                     "on a switch step",
           "fan-out": "fans out (self.next(..., foreach=...) or num_parallel=) under @catch; a "
                      "caught failure leaves nothing to fan out over, so @catch is not allowed "
                      "on a step that fans out"}
    for kind, nodes in (("switch", switches), ("fan-out", fan_outs)):
        for node in nodes:
            policy = policies.get(node.name)
            if policy is None or policy.catch_var is None:
                continue
            where = f"{node.file}:{node.next_line or node.line}: " if node.file else ""
            raise FlowDefinitionError(
                f"{where}flow {flow_name}: step '{node.name}' {why[kind]}",
                fix=f"remove @catch from '{node.name}' (or the --with catch that adds it), or "
                f"move the work that may fail into a step before '{node.name}' and catch it "
                "there")


catch: CatchFunction = make_step_decorator(CatchDecorator)
