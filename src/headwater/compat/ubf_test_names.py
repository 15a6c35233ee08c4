"""Metaflow's test plug-in for unbounded foreach (``@unbounded_test_foreach_internal`` and
``InternalTestUnboundedForeachInput``), which Metaflow ships in ``metaflow.plugins`` and its own
suite uses: a foreach over the input runs the decorated step as one control task plus one task
per item.

Metaflow's version launches the items' tasks from the control task; here the scheduler launches
them (flow/unbounded.py), so the control task's step is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from headwater.decorators.lifecycle import StepDecorator, make_lifecycle_step_decorator
from headwater.flow.unbounded import UBF_CONTROL, UnboundedForeachInput

__all__ = ["InternalTestUnboundedForeachDecorator", "InternalTestUnboundedForeachInput",
           "unbounded_test_foreach_internal"]


class InternalTestUnboundedForeachInput(UnboundedForeachInput):
    """Any iterable (with a length), iterated as an unbounded foreach."""

    NAME = "InternalTestUnboundedForeachInput"

    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def __getitem__(self, key: Any) -> Any:
        return self if key is None else self.iterable[key]  # type: ignore[index]

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return str(self.iterable)

    def __repr__(self) -> str:
        return f"{self.NAME}({self.iterable!r})"


class InternalTestUnboundedForeachDecorator(StepDecorator):
    name: ClassVar[str] = "unbounded_test_foreach_internal"

    def task_decorate(self, step_func: Callable[..., Any], flow: Any, graph: Any,
                      retry_count: int, max_user_code_retries: int,
                      ubf_context: Any) -> Callable[..., Any]:
        if ubf_context != UBF_CONTROL:
            return step_func

        def control(*args: Any) -> None:
            """The items run as tasks of their own; the control task goes nowhere."""

        return control


unbounded_test_foreach_internal = make_lifecycle_step_decorator(
    InternalTestUnboundedForeachDecorator)
