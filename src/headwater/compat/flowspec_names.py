"""``metaflow.flowspec``: ``FlowSpec`` and ``FlowStateItems``, the keys of ``MyFlow._flow_state``.

Metaflow keeps what decorates a flow class in a mapping on the class, keyed by this enum; tools
and tests written for it read the flow's mutators that way
(``MyFlow._flow_state[FlowStateItems.FLOW_MUTATORS]``). headwater keeps them on the class in its
own way (:mod:`headwater.decorators.mutators`); this module registers the read-only mapping that
shows them under Metaflow's keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any

from headwater.flow import FlowSpec
from headwater.flow.flowspec import use_flow_state_view

__all__ = ["FlowSpec", "FlowStateItems"]


class FlowStateItems(Enum):
    """What ``MyFlow._flow_state`` holds (headwater serves ``FLOW_MUTATORS``)."""

    FLOW_MUTATORS = 1
    FLOW_DECORATORS = 2
    CONFIGS = 3
    CACHED_PARAMETERS = 4
    SET_CONFIG_PARAMETERS = 5


_SERVED = (FlowStateItems.FLOW_MUTATORS,)


class FlowState(Mapping):
    """A flow class's state under Metaflow's keys, read from the class each time it is read."""

    def __init__(self, flow_cls: type) -> None:
        self._flow_cls = flow_cls

    def __getitem__(self, key: Any) -> Any:
        if key is FlowStateItems.FLOW_MUTATORS:
            from headwater.decorators.mutators import declared_flow_mutators

            return declared_flow_mutators(self._flow_cls)
        raise KeyError(key)

    def __iter__(self) -> Iterator[FlowStateItems]:
        return iter(_SERVED)

    def __len__(self) -> int:
        return len(_SERVED)


use_flow_state_view(FlowState)
