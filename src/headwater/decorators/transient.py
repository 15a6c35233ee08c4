"""``@transient('raw', 'features')``: artifacts a run needs only while it runs.

Every artifact is versioned and kept, which is what makes a run readable and resumable later. A
large intermediate already versioned upstream (a table read from a warehouse, features rebuilt
from it) is worth keeping only until the run has used it. Named here, above the flow class, such
artifacts are stored and passed between steps as any other, and recorded as usual; once the run
has succeeded, ``headwater gc`` frees their data (see :mod:`headwater.maintenance.sweep`).

The decorator only records the names on the class. A run carries them as system tags
(``transient:NAME``), so the collector, the client and resume read them from the metadata alone,
whatever code the run came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from headwater.exceptions import FlowDefinitionError

TRANSIENT_ATTR = "_hw_transient"

C = TypeVar("C", bound=type)


def transient(*names: str) -> Callable[[C], C]:
    """Class decorator: the artifacts called ``names`` are dropped by ``gc`` once a run succeeded.

    A failed run keeps them, so ``resume`` can still use them; a resume or a cached step whose
    origin's transient data is gone runs that step again instead of cloning it.
    """
    if len(names) == 1 and isinstance(names[0], type):
        raise FlowDefinitionError(
            f"@transient above {names[0].__name__} names no artifact",
            fix="name the artifacts to drop after a successful run: @transient('raw', 'features')",
        )
    checked = tuple(_checked_name(name) for name in names)
    if not checked:
        raise FlowDefinitionError(
            "@transient() names no artifact",
            fix="name the artifacts to drop after a successful run: @transient('raw', 'features')",
        )

    def attach(flow_cls: C) -> C:
        _check_flow(flow_cls, checked)
        declared = tuple(getattr(flow_cls, TRANSIENT_ATTR, ()))
        setattr(flow_cls, TRANSIENT_ATTR, declared + tuple(n for n in checked if n not in declared))
        return flow_cls

    return attach


def transient_names(flow_cls: type) -> tuple[str, ...]:
    """The artifact names ``flow_cls`` (or a base class) declared transient, in order."""
    return tuple(getattr(flow_cls, TRANSIENT_ATTR, ()))


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise FlowDefinitionError(
            f"@transient({name!r}): an artifact name is a Python identifier, as in self.NAME",
            fix="pass the names as strings: @transient('raw', 'features')",
        )
    return name


def _check_flow(flow_cls: Any, names: tuple[str, ...]) -> None:
    from headwater.flow.flowspec import FlowSpec
    from headwater.flow.parameters import Parameter

    if not (isinstance(flow_cls, type) and issubclass(flow_cls, FlowSpec)):
        raise FlowDefinitionError(
            f"@transient{names!r} decorates {getattr(flow_cls, '__name__', flow_cls)!r}, "
            "which is not a flow class",
            fix="put @transient(...) above a class that subclasses FlowSpec",
        )
    for name in names:
        if isinstance(getattr(flow_cls, name, None), Parameter):
            raise FlowDefinitionError(
                f"@transient on flow {flow_cls.__name__}: {name!r} is a Parameter; parameters are "
                "the record of how a run was started and are always kept",
                fix=f"remove {name!r} from @transient(...)",
            )

